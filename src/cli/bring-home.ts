/** `lanes run --apply/--branch`: bringing a run's patch home, or saying exactly why not. */
import { readFileSync } from "node:fs";
import { hunksFor } from "../core/policy-edits.js";
import type { Lane } from "../adapters/config/schema.js";
import type { AuditLog } from "../adapters/store/audit.js";
import { applyPatch, commitOnBranch } from "../app/apply-patch.js";
import { approverFor } from "./approvers.js";
import type { CommandContext } from "./context.js";
import type { BatchPlan } from "../app/batch-plan.js";
import type { BatchTaskRow } from "../adapters/store/ledger.js";
import { policyEditsOf } from "../core/policy-edits.js";
import { treeState } from "../app/apply-patch.js";

import type { Applied } from "../core/run-events.js";
export type { Applied } from "../core/run-events.js";
type HomeOpts = { apply?: boolean; branch?: string };

export const NO_CHANGES = "the run made no changes";

/**
 * --apply/--branch: bring the patch home when the check passed, and always say what happened.
 * A patch that edits policy needs its own approval: a person at a terminal who has seen those
 * hunks, or in CI --yes on a lane whose `policyEdits` is `allow`; `deny` refuses it everywhere.
 */
export async function bringHome(
  ctx: CommandContext<HomeOpts>,
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
    /** The branch to create (default --branch). */
    branch?: string | undefined;
    /** May a person at the terminal be asked about policy edits (not in the middle of a batch)? */
    canAsk?: boolean;
  },
): Promise<Applied[]> {
  const branch = o.branch ?? ctx.opts.branch;
  const wanted: ("apply" | "branch")[] = [
    ...(ctx.opts.apply ? ["apply" as const] : []),
    ...(branch ? ["branch" as const] : []),
  ];
  const all = (reason: string, policy = false) =>
    wanted.map((how) => ({ ok: false, how, reason, ...(policy ? { policy } : {}) }));
  if (!o.patch) return all(NO_CHANGES);
  if (!o.passed) return all(`the check did not pass; the patch is kept at ${o.patch}`);
  if (o.policyEdits.length) {
    const files = o.policyEdits.join(", ");
    const mode = o.lane.policyEdits;
    let by = "";
    let why = "";
    if (mode === "deny") why = `it edits policy (${files}) and the lane's policyEdits is deny`;
    else if (ctx.mode.kind === "interactive" && o.canAsk !== false) {
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
      else await commitOnBranch(o.root, o.patch, branch!, o.message);
      out.push({ ok: true, how });
    } catch (err) {
      out.push({ ok: false, how, reason: (err as Error).message });
    }
  }
  return out;
}

/**
 * `lanes batch --apply/--branch`: each passing task's patch brought home to its repository, one
 * after the other (a branch per repository: NAME, or NAME-IDX where a repository has several
 * tasks). Policy edits are never asked about mid-batch: they need --yes and policyEdits: allow.
 */
export async function bringBatchHome(
  ctx: CommandContext<HomeOpts>,
  plan: BatchPlan,
  rows: BatchTaskRow[],
  before: Map<string, string>,
  audit: AuditLog,
): Promise<Map<number, Applied[]>> {
  const perRepo = new Map<string, number>();
  for (const t of plan.tasks) perRepo.set(t.repo, (perRepo.get(t.repo) ?? 0) + 1);
  const out = new Map<number, Applied[]>();
  for (const r of rows) {
    const t = plan.tasks[r.idx]!;
    const branch = ctx.opts.branch && (perRepo.get(r.repo)! > 1 ? `${ctx.opts.branch}-${r.idx}` : ctx.opts.branch);
    const applied = await bringHome(ctx, {
      root: r.repo,
      patch: r.status === "succeeded" || r.status === "failed" ? r.patch : null,
      before: before.get(r.repo) ?? "",
      passed: r.status === "succeeded",
      policyEdits: r.patch ? policyEditsOf(readFileSync(r.patch, "utf8")) : [],
      lane: t.config.lanes[plan.lane]!,
      audit,
      runId: r.runId ?? "",
      message: `lanes: ${t.task.split("\n")[0]!.slice(0, 60)}\n\nbatch task #${r.idx}, run ${r.runId ?? "?"}`,
      endLive: async () => {},
      branch,
      canAsk: false,
    });
    if (r.status !== "succeeded" && r.status !== "failed")
      for (const a of applied) a.reason = `the task did not run to the end (${r.status})`;
    // The next task on this repository is compared with the tree as this one left it.
    if (applied.some((a) => a.ok && a.how === "apply")) before.set(r.repo, await treeState(r.repo));
    out.set(r.idx, applied);
  }
  return out;
}
