/**
 * `lanes approve plan.json`: a person approves a saved plan. The approval is signed (HMAC over
 * the plan and the approval block) when LANES_APPROVAL_KEY is set, and always recorded in this
 * store's audit trail, so that `lanes run --plan` can verify it either way.
 */
import { writeFileSync } from "node:fs";
import { LanesError } from "../../core/errors.js";
import { exitCodeForDecision } from "../../core/exit-codes.js";
import { originOf } from "../../adapters/config/locate.js";
import { identityOf } from "../../app/identity.js";
import { planTask, type Plan } from "../../app/plan-task.js";
import { adapters, openAudit, openLedger } from "../compose.js";
import { approve as approvePlan, readPlan, staleness } from "../../app/saved-plan.js";
import { repoRelative } from "../../app/tree-pin.js";
import { planText } from "../../report/plan-text.js";
import type { CommandContext } from "../context.js";
import { loadFor } from "../load-config.js";
import { approverFor } from "../approvers.js";

export async function approve(ctx: CommandContext): Promise<number> {
  const file = ctx.args[0]!;
  const saved = readPlan(file);
  const loaded = await loadFor(ctx);
  const { config, root } = loaded;
  const ledger = await openLedger();
  try {
    const approver = (await identityOf(config, root)).user;
    const audit = openAudit(ledger, approver);
    const lane = config.lanes[saved.lane];
    if (!lane) throw new LanesError("usage", `plan ${file} names lane "${saved.lane}", which is not configured here`);
    // Without a terminal only --yes can answer, and never for a lane that needs a person: say so at once.
    if (ctx.mode.kind !== "interactive") {
      if (lane.approval.mode === "always")
        throw new LanesError(
          "approval",
          `lane ${saved.lane} requires a person to approve in a terminal; --yes is not enough`,
          { hint: `run \`lanes approve ${file}\` in a terminal` },
        );
      if (!ctx.mode.yes)
        throw new LanesError(
          "approval",
          `approving ${file} needs an explicit answer, and there is no terminal to ask in`,
          { hint: `run \`lanes approve ${file}\` in a terminal, or pass --yes to approve it as ${approver}` },
        );
    }
    const here = repoRelative(root, file);
    const exclude = [...new Set([...saved.repo.exclude, ...(here ? [here] : [])])];
    const again = (tier: string, endpointId?: string) =>
      planTask({
        config,
        root,
        task: saved.task.text,
        template: saved.task.template,
        lane: saved.lane,
        tier,
        who: saved.identity,
        ledger,
        adapters,
        exclude,
        origin: (p) => originOf(loaded, p),
        policies: loaded.policies,
        ...(endpointId ? { endpointId } : {}),
      });

    // What the file says is checked against the same plan made now, under the policy in force.
    const fresh = await again(saved.tier, saved.endpoint.id);
    const stale = staleness(saved, fresh);
    if (stale.length)
      throw new LanesError("approval", `plan ${file} is stale: ${stale.join("; ")}`, {
        hint: `make a new one: lanes plan … --out ${file}`,
        details: { stale },
      });
    if (fresh.decision.verdict === "deny") {
      audit.append({ action: "deny", decision: fresh.decision, inputs: { planHash: saved.planHash, file } });
      if (ctx.mode.kind !== "json") ctx.out.result(fresh, (p) => planText(p, ctx.out.style));
      const code = exitCodeForDecision(fresh.decision);
      throw new LanesError(
        code === 4 ? "quota" : "approval",
        `plan ${file} is denied by policy; no approval (and no --yes) can pass a deny`,
        { details: { reasons: fresh.decision.reasons } },
      );
    }

    let plan: Plan = saved;
    let how: "interactive" | "yes";
    if (ctx.mode.kind === "interactive") {
      const approver = await approverFor(ctx.mode);
      const others = lane.tiers.filter((t) => config.tiers[t]?.endpoints.length);
      const replan =
        others.length > 1 ? (cur: Plan) => again(others[(others.indexOf(cur.tier) + 1) % others.length]!) : undefined;
      const result = await approver.approvePlan({ ...saved, decision: fresh.decision }, replan);
      // Approving another tier approves that new plan; the one shown first keeps its own hash.
      plan = result.plan.planHash === saved.planHash ? saved : result.plan;
      if (result.answer === "deny") {
        audit.append({
          action: "deny",
          decision: plan.decision,
          inputs: { planHash: plan.planHash, file },
          outcome: { by: approver, how: "interactive" },
        });
        throw new LanesError("approval", `you denied plan ${file}`);
      }
      how = "interactive";
    } else {
      how = "yes";
    }
    const approved = approvePlan(plan, approver, how, process.env.LANES_APPROVAL_KEY || undefined);
    writeFileSync(file, `${JSON.stringify(approved, null, 2)}\n`);
    const signed = approved.approval?.signature !== undefined;
    audit.append({
      action: "approve",
      decision: fresh.decision,
      inputs: { planHash: approved.planHash, file, signed },
      outcome: { by: approver, how },
    });
    const result = {
      ok: true,
      file,
      planHash: approved.planHash,
      approval: { ...approved.approval, signature: signed ? "present" : "none" },
    };
    ctx.out.result(result, (r) => {
      const note = signed
        ? " (signed)"
        : " (recorded in this machine's audit trail only: set LANES_APPROVAL_KEY to sign it for CI)";
      return `approved ${r.file} as ${approver}${note}; run it with: lanes run --plan ${r.file}`;
    });
    return 0;
  } finally {
    ledger.close();
  }
}
