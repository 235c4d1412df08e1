/** `lanes plan TASK`: the plan, the cost class, the quota impact and the decision — nothing spent. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { LanesError } from "../../core/errors.js";
import { exitCodeForDecision } from "../../core/exit-codes.js";
import { identityOf } from "../../app/identity.js";
import { planTask, type Plan } from "../../app/plan-task.js";
import { adapters, openAudit, openLedger } from "../compose.js";
import { planText } from "../../report/plan-text.js";
import type { CommandContext } from "../context.js";
import { loadFor } from "../load-config.js";
import { useEndpoint } from "../run-endpoint.js";
import { originOf } from "../../adapters/config/load.js";
import { repoRelative } from "../../app/tree-pin.js";

export function taskText(arg: string | undefined): string {
  if (!arg) throw new LanesError("usage", "no task given", { hint: 'lanes plan "fix the failing test" (or @task.md)' });
  if (arg.startsWith("@")) {
    try {
      return readFileSync(arg.slice(1), "utf8").trim();
    } catch (err) {
      throw new LanesError("usage", `cannot read task file ${arg.slice(1)}: ${(err as Error).message}`);
    }
  }
  return arg;
}

export async function plan(ctx: CommandContext<{ out?: string; check?: boolean; endpoint?: string }>): Promise<number> {
  const task = taskText(ctx.args[0]);
  const loaded = await loadFor(ctx);
  const { root } = loaded;
  const config = structuredClone(loaded.config);
  const replay = await useEndpoint(config, ctx, root);
  const ledger = await openLedger();
  let p: Plan;
  try {
    const who = await identityOf(config, root);
    // The plan file itself is left out of the pinned tree: committing it must not make it stale.
    const here = ctx.opts.out ? repoRelative(root, ctx.opts.out) : undefined;
    p = await planTask({
      config,
      root,
      task,
      lane: ctx.mode.lane ?? config.defaults.lane,
      tier: ctx.mode.tier ?? config.defaults.tier,
      who,
      ledger,
      adapters,
      exclude: here ? [here] : [],
      origin: (path) => originOf(loaded, path),
      policies: loaded.policies,
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
    await replay?.close();
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
