/**
 * Saved plans (Terraform's `plan -out` / `apply plan`): a plan file is approved by a person (and
 * signed with LANES_APPROVAL_KEY when one is set), and a run from it is refused when it went
 * stale: the file changed, the signature does not verify, the repository's HEAD, the policy or
 * the price table changed, or the quota no longer fits.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { LanesError } from "../core/errors.js";
import type { Config } from "../adapters/config/schema.js";
import type { Ledger } from "../adapters/store/ledger.js";
import { priceTable } from "../adapters/models/prices.js";
import { bucketsFor } from "./buckets.js";
import { gitHead, planHashOf, policyHash, type Plan } from "./plan-task.js";

export function readPlan(file: string): Plan {
  let plan: Plan;
  try {
    plan = JSON.parse(readFileSync(file, "utf8")) as Plan;
  } catch (err) {
    throw new LanesError("usage", `cannot read plan ${file}: ${(err as Error).message}`, { hint: "make one with `lanes plan TASK --out plan.json`" });
  }
  if (plan?.version !== 1 || typeof plan.planHash !== "string" || !plan.decision || !plan.cost) throw new LanesError("usage", `${file} is not a lanes plan (version 1)`, { hint: "make one with `lanes plan TASK --out plan.json`" });
  return plan;
}

export function sign(planHash: string, key: string): string {
  return createHmac("sha256", key).update(planHash).digest("hex");
}

export function approve(plan: Plan, by: string, how: "interactive" | "yes", key: string | undefined): Plan {
  return { ...plan, approval: { by, at: new Date().toISOString(), how, ...(key ? { signature: sign(plan.planHash, key) } : {}) } };
}

export interface Current {
  config: Config;
  root: string;
  ledger: Ledger;
  key: string | undefined;
  now?: Date;
  /** Before approval there is no signature to check. */
  ignoreSignature?: boolean;
}

/** Every reason the plan can no longer be trusted, in words a user can act on. */
export async function staleness(plan: Plan, cur: Current): Promise<string[]> {
  const causes: string[] = [];
  if (planHashOf(plan) !== plan.planHash) causes.push("the plan file was changed after it was made (its hash does not match)");
  const sig = plan.approval?.signature;
  if (cur.ignoreSignature) {
    // checked at run time
  } else if (cur.key) {
    if (!sig) causes.push("the plan is not signed, and LANES_APPROVAL_KEY requires a signature");
    else if (!safeEqual(sig, sign(plan.planHash, cur.key))) causes.push("the approval signature is invalid for this key");
  } else if (sig) causes.push("the plan is signed but LANES_APPROVAL_KEY is not set here, so the signature cannot be checked");
  const head = await gitHead(cur.root);
  if (head !== plan.repo.head) causes.push(`the repository HEAD changed (${short(plan.repo.head)} → ${short(head)})`);
  if (policyHash(cur.config) !== plan.inputs.policyHash) causes.push("the policy changed (lanes.yaml, user settings or environment)");
  if (priceTable().version !== plan.inputs.priceVersion) causes.push(`the price table changed (${plan.inputs.priceVersion} → ${priceTable().version})`);
  const specs = bucketsFor(cur.config, plan.identity, cur.now ?? new Date(), plan.lane);
  for (const s of cur.ledger.status(specs)) {
    const cap = plan.quota.find((q) => q.bucket === s.key)?.cap ?? (s.unit === "usd" ? plan.cost.capUsd : 0);
    if (s.kind === "hard" && s.used + s.held + cap > s.limit) causes.push(`the quota no longer fits: ${s.key} has ${(s.limit - s.used - s.held).toFixed(2)} left of ${s.limit}, the run holds ${cap}`);
  }
  return causes;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function short(h: string | null): string {
  return h ? h.slice(0, 10) : "no commit";
}
