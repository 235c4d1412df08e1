/**
 * `lanes plan`: everything decided before anything runs — lane, tier, endpoint, exact prompt
 * tokens, projected cost (p50–p90) and class, the hold to reserve, each quota bucket's impact,
 * and the policy decision with its reasons. It spends nothing and reserves nothing; it reads the
 * ledger and the repository, and asks a local llama.cpp server for exact counts and free slots.
 */
import { createHash } from "node:crypto";
import type { Config } from "../adapters/config/schema.js";
import { LanesError } from "../core/errors.js";
import { firstMessages, TOOLS } from "../core/agent-prompt.js";
import { COST_CLASS_LABEL, type CostClass } from "../core/cost.js";
import { DEFAULT_PROFILE, estimate, type History } from "../core/estimate.js";
import { decide, scheduleState, type ContextFit, type Decision, type QuotaImpact } from "../core/policy.js";
import { levelOf, type QuotaLevel } from "../core/quota.js";
import { parseDuration } from "../core/sandbox.js";
import { canonical } from "../core/canonical.js";
import type { Store } from "../core/ports.js";
import { historyOf } from "./history.js";
import type { Adapters } from "./ports.js";
import { priceTable } from "../adapters/models/prices.js";
import { listWorkspace } from "../adapters/docker/workspace.js";
import { git } from "../adapters/git.js";
import { relaxationsOf, type Relaxation } from "../core/relaxations.js";
import { treeDigest } from "./tree-pin.js";
import { egressAllowList } from "../adapters/egress-defaults.js";
import { depsTag, setupKey, type Setup } from "./setup-step.js";
import { agentImage, type ExternalAgent } from "../adapters/agents/adapters.js";
import { bucketsFor } from "./buckets.js";
import type { Identity } from "./identity.js";

/** 2: the repository is pinned by its content (tree-pin.ts), not by HEAD. */
export const PLAN_VERSION = 2;

export interface Plan {
  version: number;
  createdAt: string;
  task: { text: string; template: string };
  /** The external agent that runs the task (absent: lanes' own loop). */
  agent?: string;
  /** What is pinned: the working tree's content (tree-pin.ts), less the files in `exclude`. */
  repo: {
    root: string;
    head: string | null;
    tree: string;
    exclude: string[];
    /** What the sandbox gets, and what it does not (never dropped silently). */
    workspace?: { files: number; skipped: { path: string; why: string }[]; lfsPointers: string[] };
  };
  /** Where the run would execute, and how that is looser than the hardened baseline. */
  sandbox: {
    host: string;
    /** The Docker engine's URL when it is not the local socket (shown: the workspace goes there). */
    hostUrl?: string;
    image: string;
    runtime: string;
    profile: string;
    relaxations: Relaxation[];
    /** `network: allowlist`: the only domains the sandbox can reach. */
    egress?: string[];
    /** The lane's setup: its commands, cache key, and whether that cache is on the host already. */
    setup?: { commands: string[]; key: string; cached: boolean };
  };
  lane: string;
  tier: string;
  endpoint: { id: string; model: string; baseURL: string };
  tokens: { prompt: number; exact: boolean; method: string };
  cost: {
    p50Usd: number | null;
    p90Usd: number | null;
    capUsd: number;
    class: CostClass | "unpriced";
    label: string;
    assumptions: string[];
  };
  quota: {
    bucket: string;
    unit: string;
    used: number;
    held: number;
    projected: number;
    cap: number;
    limit: number;
    kind: string;
    level: QuotaLevel;
    resetsAt: string;
  }[];
  decision: Decision;
  /** The run's projected context (p50/p90 of its last call) against the endpoint's window per slot. */
  context?: ContextFit;
  identity: Identity;
  /** Unpriced runs are metered in tokens against this cap instead of dollars. */
  tokenCap?: number;
  inputs: { policyHash: string; priceVersion: string; policies: { source: string; sha256: string }[] };
  planHash: string;
  approval?: { by: string; at: string; how: "interactive" | "yes"; signature?: string };
}

export interface PlanRequest {
  config: Config;
  root: string;
  task: string;
  template?: string | undefined;
  lane: string;
  tier?: string | undefined;
  who: Identity;
  ledger: Store;
  adapters: Adapters;
  now?: Date;
  /** Repository files the tree pin leaves out (the plan file itself). */
  exclude?: string[];
  /** Plan on this endpoint of the tier (a saved plan's), instead of the tier's first. */
  endpointId?: string;
  /** Where a configuration value was set ("lanes.yaml:12"), for showing relaxations. */
  origin?: (path: (string | number)[]) => string;
  policies?: { source: string; sha256: string }[];
  /** Shared by the plans of one batch: what is the same for its tasks is computed once. */
  memo?: PlanMemo;
  /** The task template's setup, over the lane's. */
  setup?: Setup | undefined;
  /** An external agent (behind the gateway): its own prompt's tokens, and history of its own. */
  agent?: ExternalAgent | undefined;
}

/**
 * A batch plans thousands of tasks over a few repositories: their files, HEAD and tree pin, the
 * history, quota and running counts are read once per repository (or per lane) at plan time.
 */
export interface PlanMemo {
  repos: Map<
    string,
    Promise<{
      files: string[];
      head: string | null;
      tree: string;
      skipped: { path: string; why: string }[];
      lfsPointers: string[];
    }>
  >;
  endpoints: Map<Config, ReturnType<Adapters["endpoints"]>>;
  history: Map<string, History | undefined>;
  quota: Map<string, ReturnType<Store["status"]>>;
  running: Map<string, number>;
}

export function newPlanMemo(): PlanMemo {
  return { repos: new Map(), endpoints: new Map(), history: new Map(), quota: new Map(), running: new Map() };
}

function once<K, V>(map: Map<K, V> | undefined, key: K, make: () => V): V {
  if (!map) return make();
  if (!map.has(key)) map.set(key, make());
  return map.get(key)!;
}

export async function planTask(r: PlanRequest): Promise<Plan> {
  const { config } = r;
  const now = r.now ?? new Date();
  const lane = config.lanes[r.lane];
  if (!lane) throw new LanesError("usage", `unknown lane "${r.lane}" (lanes: ${Object.keys(config.lanes).join(", ")})`);
  const tierName = r.tier ?? lane.tiers[0]!;
  const tier = config.tiers[tierName];
  if (!tier)
    throw new LanesError("usage", `unknown tier "${tierName}" (tiers: ${Object.keys(config.tiers).join(", ")})`);
  const memo = r.memo;
  const endpoints = once(memo?.endpoints, config, () => r.adapters.endpoints(config));
  const inTier = [...endpoints.values()].filter((e) => e.spec.tier === tierName);
  const ep = (r.endpointId ? inTier.find((e) => e.id === r.endpointId) : undefined) ?? inTier[0];
  if (!ep)
    throw new LanesError("usage", `tier ${tierName} has no endpoints`, {
      hint: `add one under tiers.${tierName}.endpoints in lanes.yaml (see \`lanes init\`), or pick another tier with --tier`,
    });

  const exclude = r.exclude ?? [];
  const { files, head, tree, skipped, lfsPointers } = await once(
    memo?.repos,
    `${r.root}\0${exclude.join("\0")}`,
    async () => {
      const [listing, head] = await Promise.all([
        listWorkspace(r.root).catch(() => ({ files: [], skipped: [], lfsPointers: [] })),
        gitHead(r.root),
      ]);
      const tree = await treeDigest(r.root, exclude, listing.files);
      return { files: listing.files, head, tree, skipped: listing.skipped, lfsPointers: listing.lfsPointers };
    },
  );
  const sandbox = sandboxTarget(config, lane.sandbox, r.origin);
  if (r.agent) sandbox.image = agentImage(r.agent, sandbox.image);
  const profile = config.sandbox.profiles[lane.sandbox];
  const setup = r.setup ?? lane.setup;
  if (setup && profile) await planSetup(r.adapters, config, setup, r.root, profile, sandbox);
  if (profile?.network === "allowlist" || (sandbox.setup && !sandbox.setup.cached))
    sandbox.egress = await egressAllowList(profile!);
  const messages = firstMessages(r.task, files);
  const tokens = await ep.countTokens({ messages, tools: TOOLS });
  const template = r.template ?? "adhoc";
  const price = ep.spec.price.kind === "priced" ? ep.spec.price.price : undefined;
  const local = ep.spec.tierKind === "local";
  // An external agent's runs learn apart from lanes' own loop: its prompts and habits differ.
  const historyLane = r.agent ? `${r.lane}@${r.agent.name}` : r.lane;
  // An external agent sends its own instructions and tool schemas with every call (measured once per release).
  const overhead = r.agent?.promptTokens ?? 0;
  const est = estimate({
    promptTokens: tokens.tokens + overhead,
    promptExact: tokens.exact && !overhead,
    price,
    capUsd: lane.budget.capUsd,
    maxSteps: lane.limits.steps,
    history: once(memo?.history, `${historyLane}\0${template}\0${tierName}\0${ep.id}`, () =>
      historyOf(r.ledger, historyLane, template, tierName, ep.id),
    ),
    speeds: ep.spec.speeds,
    defaults: DEFAULT_PROFILE,
    bounds: config.costClasses,
    local,
  });

  const wallSeconds = parseDuration(lane.limits.wallTime) / 1000;
  const caps = { usd: lane.budget.capUsd, sandbox_seconds: wallSeconds, gpu_seconds: local ? wallSeconds : 0 };
  const projected = {
    usd: est.p90Usd ?? lane.budget.capUsd,
    sandbox_seconds: est.p90.sandboxSeconds,
    gpu_seconds: est.p90.gpuSeconds,
  };
  const specs = bucketsFor(config, r.who, now, r.lane);
  const status = once(memo?.quota, r.lane, () => r.ledger.status(specs));
  const quota: QuotaImpact[] = status.map((s) => ({ ...s, projected: projected[s.unit], cap: caps[s.unit] }));

  let endpointBusy: string | undefined;
  let window = ep.spec.contextWindow;
  if (local) {
    const llama = await import("../adapters/models/llama.js");
    const signal = AbortSignal.timeout(2000);
    const [busy, props] = await Promise.all([
      llama.slotsDelay(ep.spec.baseURL, signal).catch(() => undefined),
      llama.props(ep.spec.baseURL, signal).catch(() => undefined),
    ]);
    endpointBusy = busy;
    window = props?.contextSize ?? window; // the live server's window per slot wins over the configured one
  }
  const context = window
    ? {
        endpoint: ep.id,
        window,
        p50: est.p50.contextTokens,
        p90: est.p90.contextTokens,
        nextTier: lane.tiers[lane.tiers.indexOf(tierName) + 1],
      }
    : undefined;
  const decision = decide({
    lane: {
      name: r.lane,
      tiers: lane.tiers,
      approval: lane.approval,
      allowHosted: lane.allowHosted,
      allowUnpriced: lane.allowUnpriced,
      concurrency: lane.concurrency,
    },
    tier: { name: tierName, kind: ep.spec.tierKind },
    cost: { class: est.class, p90Usd: est.p90Usd, capUsd: est.capUsd },
    quota,
    rules: config.rules.quota,
    running: once(memo?.running, r.lane, () => r.ledger.running(r.lane)),
    schedule: lane.schedule ? scheduleState(lane.schedule.window, now) : undefined,
    endpointBusy,
    endpointKeyMissing:
      ep.spec.apiKeyEnv && !process.env[ep.spec.apiKeyEnv] ? { endpoint: ep.id, env: ep.spec.apiKeyEnv } : undefined,
    sandbox: { profile: sandbox.profile, relaxations: sandbox.relaxations, rule: config.rules.relaxedSandbox },
    context,
  });

  const body: Omit<Plan, "planHash"> = {
    version: PLAN_VERSION,
    createdAt: now.toISOString(),
    task: { text: r.task, template },
    repo: { root: r.root, head, tree, exclude, workspace: { files: files.length, skipped, lfsPointers } },
    sandbox,
    lane: r.lane,
    ...(r.agent ? { agent: r.agent.name } : {}),
    tier: tierName,
    endpoint: { id: ep.id, model: ep.spec.model, baseURL: ep.spec.baseURL },
    tokens: {
      prompt: tokens.tokens + overhead,
      exact: tokens.exact && !overhead,
      method: overhead ? `${tokens.method} + about ${overhead} of ${r.agent!.name}'s own prompt` : tokens.method,
    },
    cost: {
      p50Usd: est.p50Usd,
      p90Usd: est.p90Usd,
      capUsd: est.capUsd,
      class: est.class,
      label: est.class === "unpriced" ? "unpriced" : COST_CLASS_LABEL[est.class],
      assumptions: est.assumptions,
    },
    quota: quota.map((q) => ({
      bucket: q.key,
      unit: q.unit,
      used: q.used,
      held: q.held,
      projected: q.projected,
      cap: q.cap,
      limit: q.limit,
      kind: q.kind,
      level: levelOf(q.used, q.held, q.limit, config.rules.quota),
      resetsAt: q.resetsAt,
    })),
    ...(est.class === "unpriced" ? { tokenCap: lane.budget.capTokens } : {}),
    decision,
    ...(context ? { context } : {}),
    identity: r.who,
    inputs: { policyHash: policyHash(config), priceVersion: priceTable().version, policies: r.policies ?? [] },
  };
  return { ...body, planHash: planHashOf(body) };
}

/**
 * A setup whose cache is not on the host yet runs with egress to the allowlist: a relaxation of
 * `network: none`, shown and decided like any other. (Docker unreachable = not cached: closed.)
 */
async function planSetup(
  adapters: Adapters,
  config: Config,
  setup: Setup,
  root: string,
  profile: Config["sandbox"]["profiles"][string],
  sandbox: Plan["sandbox"],
): Promise<void> {
  const host = await adapters
    .hosts(config)
    .open(profile.host)
    .catch(() => undefined);
  const imageId = await Promise.race([
    host?.imageId?.(profile.image).catch(() => undefined),
    new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000).unref()),
  ]);
  const key = setupKey(setup, root, profile.image, imageId);
  const cached = (await Promise.race([
    host?.hasImage?.(depsTag(key)).catch(() => false) ?? false,
    new Promise<false>((r) => setTimeout(() => r(false), 2000).unref()),
  ])) as boolean;
  sandbox.setup = { commands: setup.commands, key, cached };
  if (!cached && profile.network === "none")
    sandbox.relaxations.push({ field: "network", value: "allowlist (during the setup only)", baseline: "none" });
}

/** The sandbox a lane's runs get, and each way its profile is looser than the hardened baseline. */
export function sandboxTarget(
  config: Config,
  profileName: string,
  origin?: (path: (string | number)[]) => string,
): Plan["sandbox"] {
  const p = config.sandbox.profiles[profileName]!;
  const relaxations = relaxationsOf(p).map((x) => ({
    ...x,
    ...(origin ? { source: origin(["sandbox", "profiles", profileName, x.field]) } : {}),
  }));
  const url = config.hosts[p.host]?.url ?? process.env.DOCKER_HOST;
  return {
    host: p.host,
    ...(url && !url.startsWith("unix://") ? { hostUrl: url } : {}),
    image: p.image,
    runtime: p.runtime,
    profile: profileName,
    relaxations,
  };
}

export async function gitHead(root: string): Promise<string | null> {
  const r = await git(["rev-parse", "HEAD"], root);
  return r.code === 0 ? r.stdout.trim() : null;
}

/**
 * A digest of the effective policy (every layer merged): any change makes saved plans stale.
 * `defaults` (which lane and tier --lane/--tier picked) is left out: the plan records those.
 */
const policyHashes = new WeakMap<Config, string>();

export function policyHash(config: Config): string {
  let hash = policyHashes.get(config);
  if (!hash) {
    const { defaults: _d, ...policy } = config;
    hash = createHash("sha256").update(canonical(policy)).digest("hex").slice(0, 16);
    policyHashes.set(config, hash);
  }
  return hash;
}

export function planHashOf(body: Omit<Plan, "planHash" | "approval">): string {
  const { approval: _a, planHash: _p, ...rest } = body as Plan;
  return createHash("sha256").update(canonical(rest)).digest("hex");
}
