/** `lanes approve plan.json`: a person approves a saved plan (signed when LANES_APPROVAL_KEY is set). */
import { writeFileSync } from "node:fs";
import { LanesError } from "../../core/errors.js";
import { exitCodeFor } from "../../core/policy.js";
import { identityOf } from "../../app/identity.js";
import { planTask, type Plan } from "../../app/plan-task.js";
import { openAudit, openLedger } from "../../app/records.js";
import { approve as approvePlan, readPlan, staleness } from "../../app/saved-plan.js";
import { planText } from "../../report/plan-text.js";
import type { CommandContext } from "../context.js";
import { loadFor } from "../load-config.js";

export async function approve(ctx: CommandContext): Promise<number> {
  const file = ctx.args[0]!;
  let plan = readPlan(file);
  const { config, root } = loadFor(ctx);
  const ledger = await openLedger();
  try {
    const approver = (await identityOf(config, root)).user;
    const audit = openAudit(approver);
    const lane = config.lanes[plan.lane]!;

    if (plan.decision.verdict === "deny") {
      audit.append({ action: "deny", decision: plan.decision, inputs: { planHash: plan.planHash, file } });
      if (ctx.mode.kind !== "json") ctx.out.result(plan, (p) => planText(p, ctx.out.style));
      const code = exitCodeFor(plan.decision);
      throw new LanesError(code === 4 ? "quota" : "approval", `plan ${file} is denied by policy; no approval (and no --yes) can pass a deny`, { details: { reasons: plan.decision.reasons } });
    }

    const stale = await staleness(plan, { config, root, ledger, key: process.env.LANES_APPROVAL_KEY, ignoreSignature: true });
    if (stale.length) throw new LanesError("approval", `plan ${file} is stale: ${stale.join("; ")}`, { hint: `make a new one: lanes plan … --out ${file}`, details: { stale } });

    let how: "interactive" | "yes";
    if (ctx.mode.kind === "interactive") {
      const { askApproval } = await import("../../ui/render-plan.js");
      const others = lane.tiers.filter((t) => config.tiers[t]?.endpoints.length);
      const replan = others.length > 1 ? (cur: Plan) => planTask({ config, root, task: cur.task.text, template: cur.task.template, lane: cur.lane, tier: others[(others.indexOf(cur.tier) + 1) % others.length], who: cur.identity, ledger }) : undefined;
      const result = await askApproval(plan, replan);
      plan = result.plan;
      if (result.answer === "deny") {
        audit.append({ action: "deny", decision: plan.decision, inputs: { planHash: plan.planHash, file }, outcome: { by: approver, how: "interactive" } });
        throw new LanesError("approval", `you denied plan ${file}`);
      }
      how = "interactive";
    } else {
      if (lane.approval.mode === "always") throw new LanesError("approval", `lane ${plan.lane} requires a person to approve in a terminal; --yes is not enough`, { hint: `run \`lanes approve ${file}\` in a terminal` });
      if (!ctx.mode.yes) throw new LanesError("approval", `approving ${file} needs an explicit answer, and there is no terminal to ask in`, { hint: `run \`lanes approve ${file}\` in a terminal, or pass --yes to approve it as ${approver}` });
      how = "yes";
    }
    const approved = approvePlan(plan, approver, how, process.env.LANES_APPROVAL_KEY);
    writeFileSync(file, `${JSON.stringify(approved, null, 2)}\n`);
    audit.append({ action: "approve", decision: approved.decision, inputs: { planHash: approved.planHash, file, signed: approved.approval?.signature !== undefined }, outcome: { by: approver, how } });
    ctx.out.result({ ok: true, file, planHash: approved.planHash, approval: { ...approved.approval, signature: approved.approval?.signature ? "present" : "none" } }, (r) => `approved ${r.file} as ${approver}${approved.approval?.signature ? " (signed)" : ""}; run it with: lanes run --plan ${r.file}`);
    return 0;
  } finally {
    ledger.close();
  }
}
