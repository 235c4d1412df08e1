/** The batch in a terminal: a row per task, an overall progress bar and the budget bar. */
import { Box, Text } from "ink";
import type { TaskEvent } from "../core/run-events.js";
import { money } from "../report/plan-text.js";

export interface BatchRow {
  idx: number;
  repo: string;
  last?: TaskEvent;
}

const COLOR: Record<string, string> = {
  succeeded: "green",
  failed: "red",
  denied: "red",
  not_started: "yellow",
  interrupted: "yellow",
  running: "cyan",
  pending: "gray",
};

export function BatchView({ rows, budgetUsd, elapsedMs }: { rows: BatchRow[]; budgetUsd: number; elapsedMs: number }) {
  const finished = rows.filter((r) => r.last && r.last.status !== "running").length;
  const spent = rows.reduce((n, r) => n + (r.last?.costUsd ?? 0), 0);
  const bar = (f: number, w = 30) => "█".repeat(Math.round(Math.min(1, f) * w)).padEnd(w, "░");
  return (
    <Box flexDirection="column">
      <Text bold>
        {"#".padEnd(4)}
        {"repository".padEnd(28)}
        {"status".padEnd(13)}
        {"steps".padEnd(7)}
        {"cost".padEnd(11)}
        duration
      </Text>
      {rows.map((r) => (
        <Text key={r.idx}>
          {String(r.idx).padEnd(4)}
          {r.repo.split("/").slice(-2).join("/").slice(0, 26).padEnd(28)}
          <Text color={COLOR[r.last?.status ?? "pending"]}>{(r.last?.status ?? "pending").padEnd(13)}</Text>
          {String(r.last?.steps ?? "").padEnd(7)}
          {(r.last?.costUsd !== undefined ? money(r.last.costUsd) : "").padEnd(11)}
          {r.last?.durationMs !== undefined
            ? `${(r.last.durationMs / 1000).toFixed(1)} s`
            : r.last?.host
              ? `on ${r.last.host}`
              : ""}
        </Text>
      ))}
      <Text>
        tasks <Text color="cyan">{bar(rows.length ? finished / rows.length : 0)}</Text> {finished}/{rows.length} ·{" "}
        {(elapsedMs / 1000).toFixed(1)} s
      </Text>
      <Text>
        budget{" "}
        <Text color={spent / budgetUsd >= 0.95 ? "red" : spent / budgetUsd >= 0.8 ? "yellow" : "green"}>
          {bar(spent / budgetUsd)}
        </Text>{" "}
        {money(spent)} of {money(budgetUsd)}
      </Text>
    </Box>
  );
}
