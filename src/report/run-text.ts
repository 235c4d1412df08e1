/** A run's events as plain lines, for CI logs and pipes. */
import type { Applied, RunEvent } from "../core/run-events.js";
import { money } from "./plan-text.js";

export function eventLine(e: RunEvent): string | undefined {
  switch (e.type) {
    case "run_start":
      return `run ${e.runId}: lane ${e.lane}, tier ${e.tier} (${e.endpoint}), ${e.class} ${money(e.p50Usd)}–${money(e.p90Usd)}, cap ${money(e.capUsd)}`;
    case "decision":
      return (
        `${e.stage} decision for tier ${e.tier}: ${e.decision.verdict.toUpperCase()}${e.approvedBy ? ` (approved by ${e.approvedBy})` : ""}` +
        ` — ${e.decision.reasons.map((r) => r.rule).join(", ")}`
      );
    case "sandbox_ready":
      return `sandbox ${e.id} on ${e.host} ready in ${e.ms} ms${e.fromPool ? " (warm)" : ""}`;
    case "model_call":
      return `  step ${e.step}: model ${e.tokensIn}→${e.tokensOut} tokens, ${money(e.costUsd)} (spent ${money(e.spentUsd)}), ${e.ms} ms`;
    case "tool_start":
      return `  step ${e.step}: ${e.tool} ${e.summary}`;
    case "tool_end":
      return (
        `  step ${e.step}: ${e.tool} → ${e.error ? `error ${e.error}` : e.exitCode !== undefined ? `exit ${e.exitCode}` : "ok"}` +
        ` in ${e.ms} ms${e.truncatedBytes ? ` (output cut by ${e.truncatedBytes} bytes)` : ""}`
      );
    case "warning":
      return `warning: ${e.message}`;
    case "setup":
      return e.cached
        ? `  setup: dependencies restored from the cache in ${e.ms} ms`
        : `  setup \`${e.commands.join(" && ")}\`: exit ${e.exitCode} in ${(e.ms / 1000).toFixed(1)} s${
            e.outputTail ? `\n${e.outputTail}` : ""
          }`;
    case "setup_cached":
      return `  setup cached as ${e.image} (${(e.bytes / 2 ** 20).toFixed(1)} MiB) in ${(e.ms / 1000).toFixed(1)} s`;
    case "egress":
      return e.allowed
        ? `  egress ${e.method} ${e.host}:${e.port}${e.bytesDown !== undefined ? ` (${e.bytesUp ?? 0} B up, ${e.bytesDown} B down)` : ""}`
        : `  egress BLOCKED ${e.method} ${e.host}:${e.port}: ${e.reason ?? "not allowed"}`;
    case "endpoint":
      return `  endpoint: ${e.event.type} ${JSON.stringify({ ...e.event, type: undefined })}`;
    case "agent_end":
      return `agent ${e.status} after ${e.steps} steps${e.summary ? `: ${e.summary}` : ""}`;
    case "check":
      return (
        `check \`${e.command}\`: ${e.passed ? "passed" : `failed (exit ${e.exitCode})`} in ${e.ms} ms` +
        (e.outputTail ? `\n${e.outputTail.replace(/^/gm, "  │ ")}` : "")
      );
    case "escalation":
      return `escalation ${e.from} → ${e.to}: ${e.reason}`;
    case "run_end":
      return (
        `run ${e.runId} ${e.status}; check ${e.check}; ${costText(e.cost)}; ${e.steps} steps in ${(e.durationMs / 1000).toFixed(1)}` +
        ` s${e.patch ? `; patch ${e.patch}` : "; no changes"}${
          e.policyEdits.length ? `\n  the patch edits policy: ${e.policyEdits.join(", ")}` : ""
        }${(e.applied ?? []).map((a) => `\n  ${appliedText(a)}`).join("")}`
      );
  }
}

export function appliedText(a: Applied): string {
  const what = a.how === "apply" ? "applied to the working tree" : "committed on the branch";
  return a.ok ? `patch ${what}` : `patch not ${what}: ${a.reason ?? "unknown reason"}`;
}

function costText(c: {
  actualUsd: number | null;
  p90Usd: number | null;
  capUsd: number;
  tokens: number;
  overageUsd: number;
}): string {
  if (c.actualUsd === null)
    return `cost unpriced (${c.tokens.toLocaleString("en-US")} tokens, metered against the lane's token cap)`;
  const over = c.overageUsd > 0 ? `; the endpoint billed ${money(c.overageUsd)} beyond the hold` : "";
  return `cost ${money(c.actualUsd)} (p90 ${money(c.p90Usd)}, cap ${money(c.capUsd)})${over}`;
}
