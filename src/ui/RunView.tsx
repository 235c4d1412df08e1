/** The live run: steps as they happen (tool, command, exit code, duration), a cost bar towards the cap, elapsed time, the end. */
import { Box, Text } from "ink";
import type { RunEvent } from "../core/run-events.js";
import { money } from "../report/plan-text.js";

export function RunView({ events, elapsedMs, capUsd }: { events: RunEvent[]; elapsedMs: number; capUsd: number }) {
  const start = events.find((e) => e.type === "run_start");
  const calls = events.filter((e) => e.type === "model_call");
  const spent = calls.length ? calls[calls.length - 1]!.spentUsd : 0;
  const cap = start?.capUsd ?? capUsd;
  const width = 30;
  const filled = Math.min(width, Math.round((spent / cap) * width));
  const end = events.find((e) => e.type === "run_end");
  const rows = events
    .filter(
      (e) =>
        e.type === "tool_end" ||
        e.type === "check" ||
        e.type === "escalation" ||
        e.type === "warning" ||
        e.type === "sandbox_ready",
    )
    .slice(-15);
  return (
    <Box flexDirection="column">
      {start ? (
        <Text>
          <Text bold>run {start.runId}</Text> · {start.lane}/{start.tier} ({start.endpoint}) · {start.class}{" "}
          {money(start.p50Usd)}–{money(start.p90Usd)}
        </Text>
      ) : null}
      {rows.map((e, i) => (
        <Text key={i}>
          {e.type === "tool_end" ? (
            <Text>
              {"  "}step {e.step} <Text bold>{e.tool}</Text> {describe(events, e.step, e.tool)} →{" "}
              <Text color={e.error || (e.exitCode ?? 0) !== 0 ? "yellow" : "green"}>
                {e.error ?? (e.exitCode !== undefined ? `exit ${e.exitCode}` : "ok")}
              </Text>
              <Text dimColor> {e.ms} ms</Text>
            </Text>
          ) : e.type === "check" ? (
            <Text color={e.passed ? "green" : "red"}>
              {"  "}check {e.command}: {e.passed ? "passed" : `failed (exit ${e.exitCode})`}
            </Text>
          ) : e.type === "sandbox_ready" ? (
            <Text dimColor>
              {"  "}sandbox {e.id} on {e.host} in {e.ms} ms{e.fromPool ? " (warm)" : ""}
            </Text>
          ) : e.type === "escalation" ? (
            <Text color="yellow">
              {"  "}escalation {e.from} → {e.to}: {e.reason}
            </Text>
          ) : e.type === "warning" ? (
            <Text color="yellow"> {e.message}</Text>
          ) : null}
        </Text>
      ))}
      <Text>
        cost{" "}
        <Text color={spent / cap >= 0.95 ? "red" : spent / cap >= 0.8 ? "yellow" : "green"}>{"█".repeat(filled)}</Text>
        <Text dimColor>{"░".repeat(width - filled)}</Text> {money(spent)} of {money(cap)} ·{" "}
        {(elapsedMs / 1000).toFixed(1)} s
      </Text>
      {end ? (
        <Text bold color={end.status === "finished" && end.check !== "failed" ? "green" : "red"}>
          {end.status} · check {end.check} · {money(end.cost.actualUsd)} (p90 {money(end.cost.p90Usd)}) · {end.steps}{" "}
          steps{end.patch ? ` · patch ${end.patch}` : ""}
        </Text>
      ) : null}
    </Box>
  );
}

function describe(events: RunEvent[], step: number, tool: string): string {
  const start = [...events].reverse().find((e) => e.type === "tool_start" && e.step === step && e.tool === tool);
  return start && start.type === "tool_start" ? start.summary.slice(0, 60) : "";
}
