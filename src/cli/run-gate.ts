/** The approval gates of `lanes run`: the plan's (core/approval.ts decides) and an escalation's. */
import { resolveApproval, type VerifiedApproval } from "../core/approval.js";
import { ExitCode, LanesError } from "../core/errors.js";
import type { Config } from "../adapters/config/schema.js";
import type { AuditLog } from "../adapters/store/audit.js";
import type { Plan } from "../app/plan-task.js";
import { planText } from "../report/plan-text.js";
import { approverFor } from "./approvers.js";
import type { CommandContext } from "./context.js";
import type { RunOpts } from "./commands/run.js";

/** The approval gate (core/approval.ts decides): who approved ("" when policy allowed it), or it throws. */
export async function gate(
  ctx: CommandContext<RunOpts>,
  plan: Plan,
  config: Config,
  o: { verified: VerifiedApproval | undefined; audit: AuditLog; replan: (tier: string) => Promise<Plan> },
): Promise<string> {
  const d = plan.decision;
  const lane = config.lanes[plan.lane]!;
  const stop = (code: number, message: string, hint?: string): never => {
    o.audit.append({
      action: d.verdict === "delay" ? "delay" : "deny",
      decision: d,
      inputs: { planHash: plan.planHash, lane: plan.lane, tier: plan.tier },
    });
    if (ctx.mode.kind !== "json") process.stderr.write(`${planText(plan, ctx.out.style)}\n`);
    throw new LanesError(code === ExitCode.quota ? "quota" : "approval", message, {
      ...(hint ? { hint } : {}),
      details: { decision: d },
    });
  };
  const interactive = ctx.mode.kind === "interactive";
  const answer = resolveApproval({
    decision: d,
    mode: lane.approval.mode,
    interactive,
    yes: ctx.mode.yes,
    approval: o.verified,
    user: plan.identity.user,
  });
  if (answer.kind === "refuse") return stop(answer.exitCode, answer.message, answer.hint);
  if (answer.kind === "proceed") {
    if (answer.how !== "policy") {
      const how = answer.how === "saved" ? `saved plan (${o.verified!.verifiedBy})` : "yes";
      o.audit.append({
        action: "approve",
        decision: d,
        inputs: { planHash: plan.planHash },
        outcome: { by: answer.by, how },
      });
    }
    return answer.by;
  }
  const approver = await approverFor(ctx.mode);
  const others = lane.tiers.filter((t) => config.tiers[t]?.endpoints.length);
  const next = (cur: Plan) => o.replan(others[(others.indexOf(cur.tier) + 1) % others.length]!);
  const result = await approver.approvePlan(plan, others.length > 1 ? next : undefined);
  if (result.answer === "deny") return stop(ExitCode.approval, "you denied the run");
  Object.assign(plan, result.plan);
  const by = plan.identity.user;
  o.audit.append({
    action: "approve",
    decision: plan.decision,
    inputs: { planHash: plan.planHash },
    outcome: { by, how: "interactive" },
  });
  return by;
}

/**
 * An escalation is a new plan and a new decision, through the same gate: the lane's `escalation:
 * ask` makes even an allowed escalation a question for a person; `--yes` never answers it.
 */
export async function approveEscalation(
  ctx: CommandContext<RunOpts>,
  plan: Plan,
  mode: "ask" | "allow" | "never",
): Promise<true | string> {
  const d = plan.decision;
  const decision =
    mode === "ask" && d.verdict === "allow"
      ? {
          ...d,
          verdict: "ask" as const,
          reasons: [
            ...d.reasons,
            { rule: "escalation.ask", level: "soft" as const, message: "the lane asks before escalating" },
          ],
        }
      : d;
  const interactive = ctx.mode.kind === "interactive";
  const answer = resolveApproval({ decision, mode: "ask", interactive, yes: false, user: plan.identity.user });
  if (answer.kind === "proceed") return true;
  if (answer.kind === "refuse") {
    if (d.verdict === "deny")
      return `policy denies it (${d.reasons
        .filter((r) => r.level === "hard")
        .map((r) => r.rule)
        .join(", ")})`;
    if (d.verdict === "delay") return "it is delayed";
    return "no terminal to ask in, and the lane's escalation is not `allow`";
  }
  const approver = await approverFor(ctx.mode);
  return (await approver.approvePlan(plan)).answer === "approve" ? true : "you denied it";
}
