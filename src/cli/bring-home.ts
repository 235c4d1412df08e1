/** `lanes run --apply/--branch`: bringing a run's patch home, or saying exactly why not. */
import { readFileSync } from "node:fs";
import { hunksFor } from "../core/policy-edits.js";
import type { Lane } from "../adapters/config/schema.js";
import type { AuditLog } from "../adapters/store/audit.js";
import { applyPatch, commitOnBranch } from "../app/apply-patch.js";
import { approverFor } from "./approvers.js";
import type { CommandContext } from "./context.js";
import type { RunOpts } from "./commands/run.js";

export type Applied = { ok: boolean; how: "apply" | "branch"; reason?: string; policy?: boolean };

/**
 * --apply/--branch: bring the patch home when the check passed, and always say what happened.
 * A patch that edits policy needs its own approval: a person at a terminal who has seen those
 * hunks, or in CI --yes on a lane whose `policyEdits` is `allow`; `deny` refuses it everywhere.
 */
export async function bringHome(
  ctx: CommandContext<RunOpts>,
  o: {
    root: string;
    patch: string | null;
    before: string;
    passed: boolean;
    policyEdits: string[];
    lane: Lane;
    audit: AuditLog;
    runId: string;
    message: string;
    endLive: () => Promise<void>;
  },
): Promise<Applied[]> {
  const wanted: ("apply" | "branch")[] = [
    ...(ctx.opts.apply ? ["apply" as const] : []),
    ...(ctx.opts.branch ? ["branch" as const] : []),
  ];
  const all = (reason: string, policy = false) =>
    wanted.map((how) => ({ ok: false, how, reason, ...(policy ? { policy } : {}) }));
  if (!o.patch) return all("the run made no changes");
  if (!o.passed) return all(`the check did not pass; the patch is kept at ${o.patch}`);
  if (o.policyEdits.length) {
    const files = o.policyEdits.join(", ");
    const mode = o.lane.policyEdits;
    let by = "";
    let why = "";
    if (mode === "deny") why = `it edits policy (${files}) and the lane's policyEdits is deny`;
    else if (ctx.mode.kind === "interactive") {
      await o.endLive();
      process.stderr.write(
        `\nThe patch edits policy files: ${files}\n${hunksFor(readFileSync(o.patch, "utf8"), o.policyEdits)}\n`,
      );
      const approver = await approverFor(ctx.mode);
      if (await approver.confirm("Apply these policy edits too?"))
        by = (await import("../adapters/identity-source.js")).safeUser();
      else why = "you declined the policy edits";
    } else if (ctx.mode.yes && mode === "allow") by = "--yes";
    else why = `it edits policy (${files}); without a terminal that needs --yes on a lane with policyEdits: allow`;
    const reasons = [{ rule: "patch.policy_edit", level: "soft", message: `the patch edits ${files}` }];
    const decision = { verdict: by ? "allow" : "deny", reasons };
    o.audit.append({
      action: by ? "approve" : "deny",
      runId: o.runId,
      decision,
      inputs: { policyEdits: o.policyEdits, patch: o.patch },
      ...(by ? { outcome: { by } } : {}),
    });
    if (!by) return all(`${why}; the patch is kept at ${o.patch}`, true);
  }
  const out: Applied[] = [];
  for (const how of wanted) {
    try {
      if (how === "apply") await applyPatch(o.root, o.patch, o.before);
      else await commitOnBranch(o.root, o.patch, ctx.opts.branch!, o.message);
      out.push({ ok: true, how });
    } catch (err) {
      out.push({ ok: false, how, reason: (err as Error).message });
    }
  }
  return out;
}
