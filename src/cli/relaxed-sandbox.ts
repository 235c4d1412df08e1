/**
 * `lanes sandbox up|run` on a profile looser than the hardened baseline: the relaxations are
 * shown, decided by the same approval gate as a run (core/approval.ts) and audited. In CI
 * without --yes that is exit 3; an org policy's `rules.relaxedSandbox: deny` refuses outright.
 */
import { resolveApproval } from "../core/approval.js";
import { LanesError } from "../core/errors.js";
import type { Decision } from "../core/policy.js";
import { describeRelaxation, type Relaxation } from "../core/relaxations.js";
import type { LoadedConfig } from "../adapters/config/load.js";
import { originOf } from "../adapters/config/locate.js";
import { identityOf } from "../app/identity.js";
import { sandboxTarget } from "../app/plan-task.js";
import { openAudit, openLedger } from "./compose.js";
import { approverFor } from "./approvers.js";
import type { CommandContext } from "./context.js";

export async function gateRelaxedSandbox(
  ctx: CommandContext<unknown>,
  loaded: LoadedConfig,
  profileName: string,
  /** Looser than the profile itself for a while (a setup's egress). */
  extra: Relaxation[] = [],
): Promise<void> {
  const { config, root } = loaded;
  const target = sandboxTarget(config, profileName, (p) => originOf(loaded, p));
  target.relaxations.push(...extra);
  if (!target.relaxations.length) return;
  const what = `sandbox profile ${profileName} is relaxed: ${target.relaxations.map(describeRelaxation).join("; ")}`;
  const deny = config.rules.relaxedSandbox === "deny";
  const decision: Decision = deny
    ? {
        verdict: "deny",
        reasons: [{ rule: "sandbox.relaxed", level: "hard", message: `${what} (policy denies relaxed sandboxes)` }],
      }
    : { verdict: "ask", reasons: [{ rule: "sandbox.relaxed", level: "soft", message: what }] };
  const user = (await identityOf(config, root)).user;
  const interactive = ctx.mode.kind === "interactive";
  const answer = resolveApproval({ decision, mode: "ask", interactive, yes: ctx.mode.yes, user });
  let by = answer.kind === "proceed" ? answer.by : "";
  if (answer.kind === "ask") {
    const approver = await approverFor(ctx.mode);
    if (await approver.confirm(`${what}\nApprove this relaxed sandbox?`)) by = user;
  }
  const ledger = await openLedger();
  try {
    const audit = openAudit(ledger, user);
    const inputs = { sandbox: target };
    if (!by) {
      audit.append({ action: "deny", decision, inputs });
      const message = answer.kind === "refuse" ? `${answer.message}: ${what}` : "you denied the relaxed sandbox";
      throw new LanesError("approval", message, {
        hint: deny ? "use a hardened profile" : "pass --yes to approve the relaxation, or use a hardened profile",
      });
    }
    audit.append({ action: "approve", decision, inputs, outcome: { by, how: interactive ? "interactive" : "yes" } });
    if (ctx.mode.kind !== "json") ctx.out.warn(`${what}; approved by ${by}`);
  } finally {
    ledger.close();
  }
}
