/**
 * The policy decision: a pure function of the plan's facts and the lane's rules. It returns the
 * verdict and *every* reason that contributed — including the reasons a run was allowed — each
 * with a rule id and a level: advisory (allow with a note), soft (ask; an override is
 * recorded), hard (deny). Precedence: deny > delay > ask > allow.
 */
import { classRank, type CostClass } from "./cost.js";
import { levelOf, type BucketStatus } from "./quota.js";
import { describeRelaxation, type Relaxation } from "./relaxations.js";

export type Verdict = "allow" | "ask" | "delay" | "deny";
export type ReasonLevel = "advisory" | "soft" | "hard";

export interface Reason {
  rule: string;
  level: ReasonLevel;
  message: string;
}

export interface Decision {
  verdict: Verdict;
  reasons: Reason[];
  /** For a delay: when it is expected to clear (ISO time), if known. */
  retryAt?: string;
}

export interface QuotaImpact extends BucketStatus {
  /** What this run is expected to add (p90) and at most can add (its hold). */
  projected: number;
  cap: number;
}

export interface DecisionInput {
  lane: {
    name: string;
    tiers: string[];
    approval: { mode: "auto" | "ask" | "always"; autoApproveUpTo: CostClass };
    allowHosted: boolean;
    /** Unpriced tiers run only when this is true (metered in tokens), else they are denied. */
    allowUnpriced?: boolean;
    concurrency: number;
  };
  tier: { name: string; kind: "local" | "hosted" };
  cost: { class: CostClass | "unpriced"; p90Usd: number | null; capUsd: number };
  quota: QuotaImpact[];
  rules: { warnAt: number; askAt: number };
  /** Runs of this lane in flight now. */
  running: number;
  schedule?: { open: boolean; opensAt?: string; window: string } | undefined;
  /** A reason the endpoint cannot take work now (e.g. every llama.cpp slot busy). */
  endpointBusy?: string | undefined;
  /** The environment variable holding the endpoint's API key, when it is not set. */
  endpointKeyMissing?: { endpoint: string; env: string } | undefined;
  /** How the sandbox profile is looser than the hardened baseline, and what policy says of it. */
  sandbox?: { profile: string; relaxations: Relaxation[]; rule: "ask" | "deny" } | undefined;
  /** The run's projected context (its last call) against the endpoint's window per slot. */
  context?: ContextFit | undefined;
}

export interface ContextFit {
  endpoint: string;
  window: number;
  p50: number;
  p90: number;
  /** The lane's next tier, suggested when the run does not fit. */
  nextTier?: string | undefined;
}

const ORDER: Verdict[] = ["allow", "ask", "delay", "deny"];

export function decide(input: DecisionInput): Decision {
  const reasons: (Reason & { verdict: Verdict })[] = [];
  const add = (verdict: Verdict, rule: string, level: ReasonLevel, message: string) =>
    reasons.push({ verdict, rule, level, message });
  const { lane, tier, cost } = input;

  if (!lane.tiers.includes(tier.name))
    add(
      "deny",
      "tier.not_in_lane",
      "hard",
      `tier ${tier.name} is not in lane ${lane.name} (tiers: ${lane.tiers.join(", ")})`,
    );
  if (tier.kind === "hosted" && !lane.allowHosted)
    add("deny", "tier.hosted_forbidden", "hard", `lane ${lane.name} allows only local tiers; ${tier.name} is hosted`);

  const noKey = input.endpointKeyMissing;
  if (noKey)
    add(
      "deny",
      "endpoint.no_key",
      "hard",
      `endpoint ${noKey.endpoint} needs its API key in ${noKey.env}, which is not set`,
    );
  if (cost.class === "unpriced") {
    if (lane.allowUnpriced)
      add(
        "ask",
        "price.unpriced",
        "soft",
        `tier ${tier.name} has no price: the run is metered in tokens against the lane's token cap; approve it explicitly`,
      );
    else
      add(
        "deny",
        "price.unpriced",
        "hard",
        `tier ${tier.name} has no price, and lane ${lane.name} does not set allowUnpriced: true (give the endpoint a price in lanes.yaml)`,
      );
  }
  const ctx = input.context;
  if (ctx) {
    const fit = `the run's projected context (p50 ${ctx.p50}, p90 ${ctx.p90} tokens)`;
    const window = `endpoint ${ctx.endpoint}'s window of ${ctx.window} tokens per slot`;
    if (ctx.p50 > ctx.window)
      add(
        "deny",
        "endpoint.context",
        "hard",
        `${fit} does not fit ${window}${ctx.nextTier ? `; try the lane's next tier: --tier ${ctx.nextTier}` : ""}`,
      );
    else if (ctx.p90 > ctx.window)
      add("allow", "endpoint.context", "advisory", `${fit}: a long run would outgrow ${window}`);
    else if (ctx.p90 > 0.8 * ctx.window) add("allow", "endpoint.context", "advisory", `${fit} is near ${window}`);
  }
  const sb = input.sandbox;
  if (sb?.relaxations.length) {
    const what = `sandbox profile ${sb.profile} is relaxed: ${sb.relaxations.map(describeRelaxation).join("; ")}`;
    if (sb.rule === "deny") add("deny", "sandbox.relaxed", "hard", `${what} (policy denies relaxed sandboxes)`);
    else add("ask", "sandbox.relaxed", "soft", what);
  }
  if (lane.approval.mode === "always")
    add("ask", "approval.always", "soft", `lane ${lane.name} requires a human approval for every run`);
  else if (lane.approval.mode === "ask") add("ask", "approval.ask", "soft", `lane ${lane.name} asks before every run`);
  else if (cost.class !== "unpriced") {
    if (classRank(cost.class) <= classRank(lane.approval.autoApproveUpTo))
      add(
        "allow",
        "approval.auto",
        "advisory",
        `${cost.class} is within lane ${lane.name}'s auto-approval (up to ${lane.approval.autoApproveUpTo})`,
      );
    else
      add(
        "ask",
        "approval.above_auto",
        "soft",
        `${cost.class} is above lane ${lane.name}'s auto-approval (up to ${lane.approval.autoApproveUpTo})`,
      );
  }

  for (const q of input.quota) {
    const fmt = (n: number) =>
      q.unit === "usd" ? `$${n.toFixed(2)}` : `${Math.round(n)} ${q.unit === "gpu_seconds" ? "GPU s" : "sandbox s"}`;
    const state = `${q.key}: used ${fmt(q.used)} + held ${fmt(q.held)} of ${fmt(q.limit)}, resets ${q.resetsAt}`;
    if (q.kind === "hard" && q.used + q.held + q.cap > q.limit)
      add("deny", "quota.hard", "hard", `this run's cap ${fmt(q.cap)} would cross the hard limit (${state})`);
    else if (q.kind === "soft" && q.used + q.held + q.projected > q.limit)
      add("ask", "quota.soft", "soft", `this run's p90 ${fmt(q.projected)} would cross the soft limit (${state})`);
    const level = levelOf(q.used, q.held, q.limit, input.rules);
    if (level === "ask" || level === "over")
      add(
        "ask",
        "quota.above_ask",
        "soft",
        `${q.key} is at ${pct(q)} (asks from ${Math.round(input.rules.askAt * 100)}%)`,
      );
    else if (level === "warn")
      add(
        "allow",
        "quota.warn",
        "advisory",
        `${q.key} is at ${pct(q)} (warns from ${Math.round(input.rules.warnAt * 100)}%)`,
      );
  }

  let retryAt: string | undefined;
  if (input.running >= lane.concurrency)
    add(
      "delay",
      "lane.concurrency",
      "soft",
      `lane ${lane.name} is full: ${input.running} of ${lane.concurrency} runs in flight`,
    );
  if (input.schedule && !input.schedule.open) {
    retryAt = input.schedule.opensAt;
    add(
      "delay",
      "lane.schedule",
      "soft",
      `lane ${lane.name} runs only ${input.schedule.window}; the window opens at ${input.schedule.opensAt}`,
    );
  }
  if (input.endpointBusy) add("delay", "endpoint.busy", "soft", input.endpointBusy);

  const verdict = reasons.reduce<Verdict>(
    (v, r) => (ORDER.indexOf(r.verdict) > ORDER.indexOf(v) ? r.verdict : v),
    "allow",
  );
  if (verdict === "allow" && !reasons.some((r) => r.verdict === "allow"))
    add("allow", "policy.default", "advisory", "no rule objects");
  return { verdict, reasons: reasons.map(({ verdict: _v, ...r }) => r), ...(retryAt ? { retryAt } : {}) };
}

function pct(q: BucketStatus): string {
  return `${Math.round(((q.used + q.held) / q.limit) * 100)}%`;
}

/** Is `now` inside "HH:MM-HH:MM" (which may wrap midnight) in UTC, and when does it next open? */
export function scheduleState(window: string, now: Date): { open: boolean; opensAt: string; window: string } {
  const [from, to] = window.split("-").map((t) => t.split(":").map(Number)) as [[number, number], [number, number]];
  const mins = now.getUTCHours() * 60 + now.getUTCMinutes();
  const a = from[0] * 60 + from[1];
  const b = to[0] * 60 + to[1];
  const open = a <= b ? mins >= a && mins < b : mins >= a || mins < b;
  const opens = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), from[0], from[1]));
  if (opens.getTime() <= now.getTime()) opens.setUTCDate(opens.getUTCDate() + 1);
  return { open, opensAt: opens.toISOString(), window: `${window} UTC` };
}
