/** `lanes run --wait DURATION`: wait out a delay visibly (and audited), re-planning until it clears. */
import { LanesError } from "../core/errors.js";
import type { AuditLog } from "../adapters/store/audit.js";
import type { Plan } from "../app/plan-task.js";
import type { CommandContext } from "./context.js";
import type { RunOpts } from "./commands/run.js";
import { writeEvent } from "./write-event.js";

export function parseWait(text: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(text);
  if (!m) throw new LanesError("usage", `--wait ${text} is not a duration`, { hint: "e.g. --wait 90s or --wait 10m" });
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "s" | "m" | "h"];
}

/** Wait (visibly, and audited) for a delay to clear: re-plan every few seconds until it does or time runs out. */
export async function waitOut(
  ctx: CommandContext<RunOpts>,
  first: Plan,
  waitMs: number,
  signal: AbortSignal,
  audit: AuditLog,
  replan: () => Promise<Plan>,
): Promise<Plan> {
  const until = Date.now() + waitMs;
  audit.append({ action: "delay", decision: first.decision, inputs: { planHash: first.planHash, waitMs } });
  let plan = first;
  while (plan.decision.verdict === "delay" && Date.now() < until && !signal.aborted) {
    const why = plan.decision.reasons
      .filter((r) => r.level === "soft" && (r.rule.startsWith("lane.") || r.rule.startsWith("endpoint.")))
      .map((r) => r.message)
      .join("; ");
    const retry = plan.decision.retryAt ? Date.parse(plan.decision.retryAt) : Date.now() + 2000;
    const step = Math.max(200, Math.min(2000, retry - Date.now(), until - Date.now()));
    if (ctx.mode.kind !== "json") ctx.out.info(`waiting (${Math.ceil((until - Date.now()) / 1000)} s left): ${why}`);
    else
      writeEvent({
        type: "waiting",
        reasons: plan.decision.reasons,
        secondsLeft: Math.ceil((until - Date.now()) / 1000),
      });
    await new Promise((r) => setTimeout(r, step));
    plan = await replan();
  }
  return plan;
}
