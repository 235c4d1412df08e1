/**
 * The ports: what the use cases (src/app) need from the world, as types only. The adapters
 * implement them (the SQLite ledger and audit trail, OpenAI-compatible endpoints, Docker hosts)
 * and src/cli/compose.ts wires the concrete ones, so a second store or sandbox backend is a new
 * adapter, not an edit of every caller.
 */
import type { PriceResolution } from "./cost.js";
import type { Completion, CompletionRequest, EndpointEvent, Usage } from "./models.js";
import type { BucketSpec, BucketStatus, Unit } from "./quota.js";
import type { Sandbox, SandboxProfile } from "./sandbox.js";

// ─── Model endpoints ────────────────────────────────────────────────────────────────────────

export interface TokenCount {
  tokens: number;
  exact: boolean;
  method: string;
}

export interface EndpointSpec {
  id: string;
  tier: string;
  tierKind: "local" | "hosted";
  baseURL: string;
  model: string;
  apiKeyEnv?: string | undefined;
  price: PriceResolution;
  contextWindow?: number | undefined;
  /** Configured speeds (tokens/s), used until this lane's history has measured ones. */
  speeds?: { promptTokensPerSecond: number; completionTokensPerSecond: number } | undefined;
  maxOutputTokens?: number | undefined;
  timeoutMs: number;
  rpm?: number | undefined;
  tpm?: number | undefined;
  fallbacks: string[];
  /** Another protocol the endpoint speaks natively (the gateway passes an agent's own through). */
  api?: "chat" | "responses" | "messages" | undefined;
}

export interface CallHooks {
  signal?: AbortSignal | undefined;
  emit?: (e: EndpointEvent) => void;
  /** Every attempt that may have been billed, with its charge (null when unpriced). */
  onBilled?: (usd: number | null, usage: Usage) => void;
  /** Before a retry: can the caller still pay this worst case? */
  canAfford?: (worstUsd: number) => boolean;
  /** Give up retrying after this long (default 60 s). */
  retryForMs?: number;
  stream?: boolean;
  /** Streamed answer text as it arrives (the gateway passes it on to its client). */
  onDelta?: (text: string) => void;
}

/** An OpenAI-compatible endpoint: counts tokens exactly where it can, and calls the model. */
export interface ModelEndpoint {
  readonly id: string;
  readonly spec: EndpointSpec;
  countTokens(req: Pick<CompletionRequest, "messages" | "tools">, signal?: AbortSignal): Promise<TokenCount>;
  complete(req: CompletionRequest, hooks?: CallHooks): Promise<Completion>;
}

// ─── The store: holds and buckets, runs, batches, history, the audit trail's head ──────────

/** A hold is capped in the bucket units, and in tokens for an unpriced run. */
export type HoldUnit = Unit | "tokens";
export type Amounts = Partial<Record<HoldUnit, number>>;

export interface Hold {
  id: string;
  runId: string;
  lane: string;
  expiresAt: number;
  caps: Amounts;
}

export interface HoldState {
  id: string;
  status: "open" | "settled" | "expired";
  caps: Amounts;
  charged: Amounts;
}

export interface HistoryRow {
  lane: string;
  template: string;
  tier: string;
  steps: number;
  completionPerStep: number;
  observationPerStep: number;
  secondsPerStep: number;
  costUsd: number | null;
  promptTps?: number | undefined;
  completionTps?: number | undefined;
  /** The endpoint the run used, and the share of its prompt tokens served from the prompt cache. */
  endpoint?: string | undefined;
  cachedShare?: number | undefined;
  /** When it was recorded (epoch ms; set by the store). */
  at?: number | undefined;
}

/** Which history to read: any of lane, tier, endpoint and template (all given ones must match). */
export interface HistoryKey {
  lane?: string;
  tier?: string;
  endpoint?: string;
  template?: string;
}

export interface BatchTaskRow {
  batchId: string;
  idx: number;
  repo: string;
  task: string;
  status: string;
  runId: string | null;
  holdId: string | null;
  host: string | null;
  costUsd: number;
  check: string | null;
  patch: string | null;
  detail: string | null;
  attempts: number;
}

export interface RunRow {
  id: string;
  createdAt: number;
  lane: string;
  tier: string;
  task: string;
  status: string;
  check: string;
  costUsd: number;
  p90Usd: number | null;
  capUsd: number;
  steps: number;
  durationMs: number;
  holdId: string | null;
  dir: string;
  /** Tokens used (prompt + completion): what an unpriced run is metered in. */
  tokens: number;
  unpriced: boolean;
  /** Billed beyond what the hold could still take: reported, never hidden. */
  overageUsd: number;
  /** Who ran it (for `lanes report`), and the plan's p50 (estimate accuracy). */
  user?: string | undefined;
  team?: string | undefined;
  project?: string | undefined;
  p50Usd?: number | null | undefined;
}

export interface HoldMeta {
  tier: string;
  task: string;
  p90Usd: number | null;
  capUsd: number;
  dir: string;
}

/** A hold whose owner died: settled at its worst case, its run to be listed as crashed. */
export interface CrashedHold {
  holdId: string;
  runId: string;
  lane: string;
  createdAt: number;
  chargedUsd: number;
  meta: HoldMeta | undefined;
}

export interface HoldStorePort {
  reserve(opts: {
    runId: string;
    lane: string;
    buckets: BucketSpec[];
    caps: Amounts;
    ttlMs: number;
    priceVersion?: string;
    /** "HOST:PID" of the process holding it, so a crash is noticed at once (not after the TTL). */
    owner?: string;
    /** What a crashed run is listed with. */
    meta?: HoldMeta;
  }): Hold;
  charge(holdId: string, unit: HoldUnit, amount: number, note?: string): void;
  refund(holdId: string, unit: HoldUnit, amount: number, note?: string): void;
  chargedOn(holdId: string, unit?: HoldUnit): number;
  settle(holdId: string): HoldState;
  expire(now?: number): number;
  hold(holdId: string): HoldState;
  status(buckets: BucketSpec[]): BucketStatus[];
  running(lane: string): number;
  totalCharged(unit?: Unit): number;
  expireHold(holdId: string): void;
  /** Settle, at their worst case, the open holds whose owner `isDead` says has died. */
  settleCrashed(isDead: (owner: string) => boolean): CrashedHold[];
}

export interface RunStorePort {
  save(r: RunRow): void;
  list(limit?: number): RunRow[];
  find(id: string): RunRow | undefined;
  /** Every run created at or after `sinceMs`, oldest first. */
  since(sinceMs: number): RunRow[];
}

export interface BatchStorePort {
  create(b: { id: string; file: string; name: string; capUsd: number; tasks: { repo: string; task: string }[] }): void;
  get(
    id: string,
  ): { id: string; file: string; name: string; capUsd: number; status: string; createdAt: number } | undefined;
  setStatus(id: string, status: string): void;
  tasks(id: string): BatchTaskRow[];
  updateTask(
    batchId: string,
    idx: number,
    f: Partial<
      Pick<BatchTaskRow, "status" | "runId" | "holdId" | "host" | "costUsd" | "check" | "patch" | "detail">
    > & {
      attemptStarted?: boolean;
    },
  ): void;
}

export interface HistoryStorePort {
  add(row: HistoryRow): void;
  /** The last `limit` runs matching the key, newest first. */
  recent(key: HistoryKey, limit?: number): HistoryRow[];
}

/** The last record the store knows was written: what a complete audit trail must end with. */
export interface AuditHead {
  seq: number;
  hash: string;
}

/** Where the audit head is anchored, and the write transaction that serialises appends. */
export interface AuditAnchor {
  atomically<T>(fn: () => T): T;
  auditHead(): AuditHead | undefined;
  setAuditHead(head: AuditHead): void;
}

export interface Store extends HoldStorePort, AuditAnchor {
  readonly path: string;
  readonly runStore: RunStorePort;
  readonly batchStore: BatchStorePort;
  readonly historyStore: HistoryStorePort;
  close(): void;
}

// ─── The audit trail ────────────────────────────────────────────────────────────────────────

export interface Actor {
  user: string;
  host: string;
  ci?: { provider: string; job?: string | undefined } | undefined;
}

export interface AuditInput {
  action:
    "plan" | "approve" | "deny" | "delay" | "reserve" | "charge" | "settle" | "escalate" | "run" | "repair" | "egress";
  runId?: string | undefined;
  decision?: { verdict: string; reasons: { rule: string; level: string; message: string }[] } | undefined;
  inputs?: Record<string, unknown> | undefined;
  outcome?: Record<string, unknown> | undefined;
}

export interface AuditRecord extends AuditInput {
  id: string;
  seq: number;
  time: string;
  actor: Actor;
  prevHash: string;
  hash: string;
  /** HMAC-SHA256 of `hash` under LANES_AUDIT_KEY, when a key was set. */
  mac?: string;
}

export type VerifyResult =
  | { ok: true; records: number; anchored: AuditHead | null; keyed: boolean; notes: string[] }
  | {
      ok: false;
      line: number;
      id?: string;
      reason: string;
      records: number;
      anchored: AuditHead | null;
      keyed: boolean;
      notes: string[];
    };

export interface AuditTrail {
  readonly path: string;
  append(input: AuditInput): AuditRecord;
  read(): AuditRecord[];
  verify(): VerifyResult;
}

// ─── Sandbox hosts ──────────────────────────────────────────────────────────────────────────

export interface AcquireOptions {
  profileName: string;
  profile: SandboxProfile;
  /** Repository to copy in; omitted = an empty workspace. */
  repo?: string | undefined;
  runId?: string | undefined;
  /** Outlive this process (`lanes sandbox up`): no lifeline, ended by its TTL or `sandbox rm`. */
  detached?: boolean | undefined;
}

export interface SandboxHost {
  readonly name: string;
  acquire(o: AcquireOptions): Promise<Sandbox>;
  /** Is this image on the host (a setup's dependency cache)? */
  hasImage?(image: string): Promise<boolean>;
  /** The image's ID (its content) on this host, undefined when it is not there. */
  imageId?(image: string): Promise<string | undefined>;
  /** Wait for background work (pool refills) before the process exits. */
  settle(): Promise<void>;
}

/** Sandbox images without a registry: built on a host, or copied from the local engine to another. */
export interface ImageBuilder {
  build(
    host: string,
    o: { context: string; tag: string; base?: string | undefined; onLine?: ((line: string) => void) | undefined },
  ): Promise<void>;
  /** Copy `image` from host `from` to host `to`; returns the bytes moved. */
  push(from: string, to: string, image: string, onProgress?: (bytes: number) => void): Promise<number>;
}

/** The configured hosts: open one by name, connected and answering (or a clear error). */
export interface SandboxHosts {
  open(name: string): Promise<SandboxHost>;
}
