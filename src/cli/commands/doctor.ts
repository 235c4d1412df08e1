/** `lanes doctor`: run the checks and show each result with the next step for a failure. */
import { fetchPolicies } from "../../adapters/config/policy.js";
import { doctorExitCode, planChecks, runChecks, type CheckResult } from "../../app/doctor.js";
import type { CommandContext } from "../context.js";

export async function doctor(ctx: CommandContext<{ timeout: string }>): Promise<number> {
  const timeoutMs = Number(ctx.opts.timeout) > 0 ? Number(ctx.opts.timeout) : 5000;
  const fetchedPolicies = process.env.LANES_POLICY
    ? await fetchPolicies(process.env).catch(() => undefined)
    : undefined;
  const checks = planChecks({
    repo: ctx.mode.repo,
    flags: { lane: ctx.mode.lane, tier: ctx.mode.tier },
    fetchedPolicies,
  });
  let results: CheckResult[];
  if (ctx.mode.kind === "interactive") {
    // ink (and react) load only here, in a terminal.
    const { renderDoctor } = await import("../../ui/render-doctor.js");
    results = await renderDoctor(checks, timeoutMs);
  } else {
    results = await runChecks(checks, timeoutMs, (_, r) => {
      if (ctx.mode.kind === "plain") ctx.out.result(r, formatCheck(ctx));
    });
    if (ctx.mode.kind === "json") ctx.out.result({ ok: results.every((r) => r.ok), checks: results }, () => "");
  }
  const failed = results.filter((r) => !r.ok).length;
  if (ctx.mode.kind === "plain")
    ctx.out.info(failed ? `${failed} of ${results.length} checks failed` : `all ${results.length} checks passed`);
  return doctorExitCode(checks, results);
}

function formatCheck(ctx: CommandContext<unknown>) {
  return (r: CheckResult) => {
    const mark = r.ok ? ctx.out.style("green", "✓") : ctx.out.style("red", "✗");
    return `${mark} ${r.name}: ${r.detail}${r.hint ? `\n    ${ctx.out.style("dim", `→ ${r.hint}`)}` : ""}`;
  };
}
