/** `lanes plan TASK`: the plan, the cost class, the quota impact and the decision — nothing spent. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { exitCodeForDecision } from "../../core/exit-codes.js";
import { LanesError } from "../../core/errors.js";
import { identityOf } from "../../app/identity.js";
import { planTask, type Plan } from "../../app/plan-task.js";
import { adapters, openAudit, openLedger } from "../compose.js";
import { planText } from "../../report/plan-text.js";
import type { CommandContext } from "../context.js";
import { loadFor } from "../load-config.js";
import { resolveTask } from "../../app/templates.js";
import { useEndpoint } from "../run-endpoint.js";
import { originOf } from "../../adapters/config/locate.js";
import { repoRelative } from "../../app/tree-pin.js";
import { resolveAgent } from "../../adapters/agents/adapters.js";

export async function plan(
  ctx: CommandContext<{
    out?: string;
    check?: boolean;
    endpoint?: string;
    set?: string[];
    agent?: string;
    agentCmd?: string;
  }>,
): Promise<number> {
  const loaded = await loadFor(ctx);
  const { root } = loaded;
  // Text, @file, or a task template's name — resolved as `lanes run` resolves it.
  const task = await resolveTask(root, ctx.args[0], ctx.opts.set ?? []);
  const config = structuredClone(loaded.config);
  const laneName = ctx.mode.lane ?? task.lane ?? config.defaults.lane;
  const agent = resolveAgent(ctx.opts.agent ?? config.lanes[laneName]?.agent, ctx.opts.agentCmd);
  const whoever = identityOf(config, root); // git config, while the endpoint and ledger open
  const choice = await useEndpoint(config, ctx.opts.endpoint, laneName, ctx.mode.tier);
  const ledger = await openLedger().catch(async (err: unknown) => {
    await choice.close();
    if (!(err instanceof LanesError) || err.kind !== "store") throw err;
    return err;
  });
  // No quota data, no allow: the decision is `delay`, with the reason (exit 4, retry later).
  if (ledger instanceof LanesError) {
    const reason = { rule: "store.unreachable", level: "delay", message: ledger.message };
    const result = { lane: laneName, task: task.text, decision: { verdict: "delay", reasons: [reason] } };
    ctx.out.result(result, () => `decision: delay — ${ledger.message}\n  → ${ledger.hint ?? ""}`);
    return 4;
  }
  let p: Plan;
  try {
    const who = await whoever;
    // The plan file itself is left out of the pinned tree: committing it must not make it stale.
    const here = ctx.opts.out ? repoRelative(root, ctx.opts.out) : undefined;
    p = await planTask({
      config,
      root,
      task: task.text,
      template: task.template,
      lane: laneName,
      tier: choice.tier ?? ctx.mode.tier ?? config.defaults.tier,
      ...(choice.endpointId ? { endpointId: choice.endpointId } : {}),
      who,
      ledger,
      adapters,
      exclude: here ? [here] : [],
      origin: (path) => originOf(loaded, path),
      policies: loaded.policies,
      agent,
    });
    const inputs = {
      lane: p.lane,
      tier: p.tier,
      endpoint: p.endpoint.id,
      estimate: p.cost,
      quota: p.quota,
      policyHash: p.inputs.policyHash,
      priceVersion: p.inputs.priceVersion,
      planHash: p.planHash,
    };
    openAudit(ledger, p.identity.user).append({ action: "plan", decision: p.decision, inputs });
  } finally {
    ledger.close();
    await choice.close();
  }
  if (ctx.opts.out) {
    mkdirSync(dirname(resolve(ctx.opts.out)), { recursive: true });
    writeFileSync(ctx.opts.out, `${JSON.stringify(p, null, 2)}\n`);
  }
  if (ctx.mode.kind === "interactive") {
    const { renderPlan } = await import("../../ui/render-plan.js");
    await renderPlan(p);
  } else ctx.out.result(p, (x) => planText(x, ctx.out.style));
  if (ctx.opts.out) ctx.out.info(`plan written to ${ctx.opts.out}; approve it with: lanes approve ${ctx.opts.out}`);
  return ctx.opts.check ? exitCodeForDecision(p.decision) : 0;
}
