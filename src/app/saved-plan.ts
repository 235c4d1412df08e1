/**
 * Saved plans (Terraform's `plan -out` / `apply plan`). A plan file is evidence, never authority:
 * at run time lanes makes the plan again under the policy in force and uses *that* decision; the
 * file only contributes what it pins (the repository's content, the policy, the price table, the
 * lane, the endpoint), which must still hold, and an approval, which counts only when it can be
 * verified: an HMAC-SHA256 signature under LANES_APPROVAL_KEY over the whole plan and its approval
 * block, or an `approve` record for this plan hash in this store's (intact) audit trail.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { canonical } from "../core/canonical.js";
import { classRank } from "../core/cost.js";
import { LanesError } from "../core/errors.js";
import type { VerifiedApproval } from "../core/approval.js";
import type { AuditTrail } from "../core/ports.js";
import { planHashOf, type Plan } from "./plan-task.js";

const reason = z.object({ rule: z.string(), level: z.enum(["advisory", "soft", "hard"]), message: z.string() });
const costClass = z.enum(["C0", "C1", "C2", "C3", "C4", "unpriced"]);

/** The fields a run relies on are checked; the rest is covered by the plan hash. */
const planSchema = z.looseObject({
  version: z.literal(2),
  createdAt: z.string(),
  task: z.object({ text: z.string(), template: z.string() }),
  repo: z.looseObject({
    root: z.string(),
    head: z.string().nullable(),
    tree: z.string().regex(/^[0-9a-f]{64}$/),
    exclude: z.array(z.string()),
  }),
  lane: z.string(),
  agent: z.string().optional(),
  tier: z.string(),
  endpoint: z.object({ id: z.string(), model: z.string(), baseURL: z.string() }),
  cost: z.looseObject({
    p50Usd: z.number().nullable(),
    p90Usd: z.number().nullable(),
    capUsd: z.number(),
    class: costClass,
  }),
  decision: z.looseObject({ verdict: z.enum(["allow", "ask", "delay", "deny"]), reasons: z.array(reason) }),
  identity: z.looseObject({ user: z.string(), team: z.string(), project: z.string() }),
  sandbox: z.looseObject({
    host: z.string(),
    image: z.string(),
    runtime: z.string(),
    profile: z.string(),
    relaxations: z.array(z.looseObject({ field: z.string() })),
    egress: z.array(z.string()).optional(),
  }),
  inputs: z.looseObject({ policyHash: z.string(), priceVersion: z.string() }),
  planHash: z.string().regex(/^[0-9a-f]{64}$/),
  approval: z
    .strictObject({
      by: z.string().min(1),
      at: z.string(),
      how: z.enum(["interactive", "yes"]),
      signature: z.string().optional(),
    })
    .optional(),
});

const HINT = "make one with `lanes plan TASK --out plan.json`";

export function readPlan(file: string): Plan {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new LanesError("usage", `cannot read plan ${file}: ${(err as Error).message}`, { hint: HINT });
  }
  // A plan is a few levels deep; a forged one nested 100,000 deep would overflow the stack later.
  if (deeperThan(raw, MAX_PLAN_DEPTH))
    throw new LanesError("usage", `${file} is not a valid lanes plan: nested deeper than ${MAX_PLAN_DEPTH}`, {
      hint: HINT,
    });
  const version = (raw as { version?: unknown } | null)?.version;
  if (version === 1)
    throw new LanesError("usage", `${file} is a version 1 plan, which pinned HEAD and cannot be verified; plan again`, {
      hint: HINT,
    });
  const parsed = planSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join(".") || "(top level)";
    throw new LanesError("usage", `${file} is not a valid lanes plan: ${field}: ${issue.message}`, {
      hint: HINT,
      details: { field },
    });
  }
  return parsed.data as unknown as Plan;
}

const MAX_PLAN_DEPTH = 64;

/** Whether a JSON value nests deeper than `max` (iterative: the input may be hostile). */
function deeperThan(root: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (d > max) return true;
    if (v && typeof v === "object")
      for (const c of Object.values(v)) if (c && typeof c === "object") stack.push([c, d + 1]);
  }
  return false;
}

/** What a signature covers: the whole plan (through its hash) and the approval block. */
function signedText(plan: Plan): string {
  const { signature: _s, ...approval } = plan.approval ?? ({} as NonNullable<Plan["approval"]>);
  return canonical({ planHash: plan.planHash, approval });
}

export function sign(plan: Plan, key: string): string {
  return createHmac("sha256", key).update(signedText(plan)).digest("hex");
}

export function approve(plan: Plan, by: string, how: "interactive" | "yes", key: string | undefined): Plan {
  const approved: Plan = { ...plan, approval: { by, at: new Date().toISOString(), how } };
  return key ? { ...approved, approval: { ...approved.approval!, signature: sign(approved, key) } } : approved;
}

/**
 * The plan's approval, if it can be verified; otherwise why it is ignored. A signature that does
 * not verify is not ignored but refused: someone edited a signed plan, or signed with another key.
 */
export function verifyApproval(
  plan: Plan,
  key: string | undefined,
  audit: AuditTrail,
): { approval?: VerifiedApproval; ignored?: string } {
  const a = plan.approval;
  if (!a) return {};
  if (a.signature && key) {
    if (!safeEqual(a.signature, sign(plan, key))) {
      throw new LanesError(
        "approval",
        `the approval signature on this plan does not verify under LANES_APPROVAL_KEY (the plan or its approval was edited, or another key signed it)`,
        {
          hint: "approve the plan again with the right key: lanes approve FILE",
        },
      );
    }
    return { approval: { by: a.by, how: a.how, verifiedBy: "signature" } };
  }
  const recorded = recordedApproval(plan, audit);
  if (recorded === true) return { approval: { by: a.by, how: a.how, verifiedBy: "record" } };
  const why = a.signature
    ? "it is signed but LANES_APPROVAL_KEY is not set here"
    : key
      ? "it is not signed"
      : "it is not signed (LANES_APPROVAL_KEY is not set)";
  return { ignored: `the approval by ${a.by} in the plan file is ignored: ${why}, and ${recorded}` };
}

/** true when this store's audit trail verifies and holds an `approve` record for this plan and approver. */
function recordedApproval(plan: Plan, audit: AuditTrail): true | string {
  const v = audit.verify();
  if (!v.ok) return `this store's audit trail does not verify (${v.reason}), so no recorded approval can be trusted`;
  const a = plan.approval!;
  const found = audit
    .read()
    .some((r) => r.action === "approve" && r.inputs?.planHash === plan.planHash && r.outcome?.by === a.by);
  return (
    found || `no approval of plan ${plan.planHash.slice(0, 12)} by ${a.by} is recorded in this store's audit trail`
  );
}

/**
 * Why a saved plan no longer describes what would run now: `fresh` is the same task planned again
 * now. Returns every cause, in words a user can act on.
 */
export function staleness(saved: Plan, fresh: Plan): string[] {
  const causes: string[] = [];
  if (planHashOf(saved) !== saved.planHash)
    causes.push("the plan file was changed after it was made (its hash does not match)");
  if (fresh.repo.tree !== saved.repo.tree) causes.push("the repository's content changed since the plan was made");
  if (fresh.inputs.policyHash !== saved.inputs.policyHash)
    causes.push("the policy changed (org policy, lanes.yaml, user settings or environment)");
  if ((fresh.agent ?? "lanes") !== (saved.agent ?? "lanes"))
    causes.push(`the agent changed (${saved.agent ?? "lanes"} → ${fresh.agent ?? "lanes"})`);
  if (fresh.inputs.priceVersion !== saved.inputs.priceVersion)
    causes.push(`the price table changed (${saved.inputs.priceVersion} → ${fresh.inputs.priceVersion})`);
  if (
    fresh.endpoint.id !== saved.endpoint.id ||
    fresh.endpoint.model !== saved.endpoint.model ||
    fresh.endpoint.baseURL !== saved.endpoint.baseURL
  ) {
    causes.push(
      `the endpoint changed (${saved.endpoint.id} ${saved.endpoint.model} → ${fresh.endpoint.id} ${fresh.endpoint.model})`,
    );
  }
  causes.push(...relaxationChanges(saved, fresh));
  const dearer =
    fresh.cost.class === "unpriced" || saved.cost.class === "unpriced"
      ? fresh.cost.class !== saved.cost.class
      : classRank(fresh.cost.class) > classRank(saved.cost.class);
  if (dearer) causes.push(`the cost class rose from ${saved.cost.class} to ${fresh.cost.class}`);
  return causes;
}

/**
 * An approval covers the sandbox it was shown: its host, image and runtime, each relaxation (egress
 * during the setup, network, capabilities, ...) and the hosts egress may reach. Any difference is
 * named (a runner without the setup cache would add registry egress nobody approved).
 */
function relaxationChanges(saved: Plan, fresh: Plan): string[] {
  const out: string[] = [];
  const a = saved.sandbox;
  const b = fresh.sandbox;
  for (const k of ["host", "hostUrl", "image", "runtime", "profile"] as const)
    if (a[k] !== b[k]) out.push(`the sandbox's ${k} changed (${a[k]} → ${b[k]})`);
  const show = (r: { field: string; value: unknown }) => `${r.field}: ${String(r.value)}`;
  const before = new Set(a.relaxations.map(show));
  const after = new Set(b.relaxations.map(show));
  const added = [...after].filter((r) => !before.has(r));
  const removed = [...before].filter((r) => !after.has(r));
  if (added.length) out.push(`relaxations nobody approved: ${added.join(", ")}`);
  if (removed.length) out.push(`relaxations approved that no longer apply: ${removed.join(", ")}`);
  const egress = (x: Plan["sandbox"]) => (x.egress ? [...x.egress].sort().join(", ") : "none");
  if (egress(a) !== egress(b)) out.push(`egress changed (${egress(a)} → ${egress(b)})`);
  return out;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
