/** The doctor checklist: one row per check, filled in as results arrive. Pure function of props. */
import { Box, Text } from "ink";
import type { CheckResult } from "../app/doctor.js";

export interface DoctorRow {
  name: string;
  result?: CheckResult;
}

export function DoctorView({ rows }: { rows: DoctorRow[] }) {
  const done = rows.filter((r) => r.result).length;
  const failed = rows.filter((r) => r.result && !r.result.ok).length;
  return (
    <Box flexDirection="column">
      {rows.map((row) => (
        <Box key={row.name} flexDirection="column">
          <Text>
            {row.result ? (
              row.result.ok ? (
                <Text color="green">✓</Text>
              ) : (
                <Text color="red">✗</Text>
              )
            ) : (
              <Text color="gray">…</Text>
            )}{" "}
            <Text bold>{row.name}</Text>
            {row.result ? <Text>: {row.result.detail}</Text> : <Text color="gray"> checking</Text>}
          </Text>
          {row.result?.hint ? <Text dimColor> → {row.result.hint}</Text> : null}
        </Box>
      ))}
      <Text color={failed ? "red" : done === rows.length ? "green" : "gray"}>
        {done < rows.length
          ? `${done}/${rows.length} checks done`
          : failed
            ? `${failed} of ${rows.length} checks failed`
            : `all ${rows.length} checks passed`}
      </Text>
    </Box>
  );
}
