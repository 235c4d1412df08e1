/**
 * The sandbox port: what the agent loop and the CLI need from an isolated place to run commands.
 * Command failures are data (an Observation), never exceptions; a broken host is a LanesError.
 */
/** Where a setup's cached dependencies sit in its image (lanes-deps:KEY), copied into the workspace. */
export const DEPS_DIR = "/opt/lanes-deps";

export interface ExecRequest {
  /** Shell command, run with bash -c in the workspace. */
  command: string;
  /** Enforced inside the container (Docker cannot kill an exec). */
  timeoutMs: number;
  cwd?: string;
  env?: Record<string, string>;
  /** Bytes kept of stdout and of stderr; beyond it the middle is cut and marked. */
  maxOutputBytes?: number;
  /**
   * Leave it running after the call (output to a log file in /tmp). Otherwise, when the command
   * ends or times out, everything it started is killed with it.
   */
  background?: boolean;
}

export interface Observation {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  /** Bytes cut from the middle of stdout + stderr (0 = nothing cut). */
  truncatedBytes: number;
}

/** A sandbox profile: where and how hardened (the configuration schema's `sandbox.profiles.*`). */
export interface SandboxProfile {
  host: string;
  image: string;
  cpus: number;
  memory: string;
  /** The workspace's size limit ("2g"), or "none" for an unbounded workspace on the host disk. */
  disk: string;
  /** runc, or runsc (gVisor). */
  runtime: "runc" | "runsc";
  pids: number;
  network: "none" | "allowlist" | "open";
  /** Domains an `allowlist` sandbox may reach (exact, or `*.example.com` for its subdomains). */
  allow: string[];
  /** Add the host's own package registries (npm's registry, pip's index) to `allow`. */
  allowDefaults: boolean;
  readOnlyRoot: boolean;
  capAdd: string[];
  ttl: string;
  pool: number;
}

export interface SandboxInfo {
  id: string;
  host: string;
  profile: string;
  image: string;
  containerId: string;
  /** Base commit of the copied workspace; diffs are taken against it. */
  baseCommit: string;
  createdAt: number;
  expiresAt: number;
  fromPool: boolean;
}

/** One attempt to reach outside from a sandbox with `network: allowlist`, as its proxy saw it. */
export interface EgressEvent {
  host: string;
  port: number;
  method: string;
  allowed: boolean;
  reason?: string;
  bytesUp?: number;
  bytesDown?: number;
  ms?: number;
}

export interface Sandbox {
  readonly info: SandboxInfo;
  /** `network: allowlist`: every egress attempt from now on, allowed or blocked. */
  onEgress?(listener: (e: EgressEvent) => void): void;
  /** End egress for good (the setup is done): the sandbox keeps only loopback. */
  closeEgress?(): Promise<void>;
  /** Snapshot workspace paths as an image layer on top of this sandbox's image (the setup's cache). */
  snapshot?(paths: string[], tag: string): Promise<{ bytes: number }>;
  /** Resolves when the workspace is in place and committed as the base (operations wait for it). */
  ready(): Promise<void>;
  exec(req: ExecRequest, signal?: AbortSignal): Promise<Observation>;
  readFile(path: string): Promise<Buffer>;
  writeFile(path: string, content: string | Buffer, mode?: number): Promise<void>;
  /** `git diff --binary` of the workspace against the base commit, untracked files included. */
  diff(): Promise<string>;
  /**
   * Serve `port` on the sandbox's loopback, each connection carried to `target` on lanes' side
   * (the model gateway): the sandbox keeps its network setting, whatever host it is on.
   */
  tunnel?(port: number, target: { host: string; port: number }): Promise<{ close(): void }>;
  /** Remove the container, its volume and network. Idempotent. */
  release(): Promise<void>;
}

/**
 * The one truncation marker, where output is cut (the head and the tail are kept). The shim
 * (shim.py) and the exec fallback's shell script get it as a printf-style format from here.
 */
export function truncationFormat(unit: "bytes" | "characters"): string {
  return `\n[... lanes: %d ${unit} truncated ...]\n`;
}

export function truncationMarker(n: number, unit: "bytes" | "characters" = "bytes"): string {
  return truncationFormat(unit).replace("%d", String(n));
}

export const TRUNCATION_RE = /\n\[\.\.\. lanes: (\d+) (?:bytes|characters) truncated \.\.\.\]\n/;

export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "ms" | "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}

export function parseMemory(text: string): number {
  const m = /^(\d+)([kmg]?)$/i.exec(text);
  if (!m) throw new Error(`not a size: ${text}`);
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  return Number(m[1]) * unit;
}

/** What a command "returns" when its caller gave up before it started (SIGINT, abort). */
export function abortedObservation(): Observation {
  return {
    exitCode: 130,
    stdout: "",
    stderr: "aborted before it started",
    durationMs: 0,
    timedOut: false,
    truncatedBytes: 0,
  };
}
