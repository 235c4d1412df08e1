/**
 * The control channel to a sandbox: the hijacked attach stream to PID 1's stdin/stdout. With
 * the Python shim (shim.py) behind it, each command is one JSON line each way — no Docker exec
 * round trips. The same stream is the sandbox's lifeline: while it is open the sandbox lives.
 */
import { readFileSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { LanesError } from "../../core/errors.js";
import { onFrames } from "./frames.js";
import { abortedObservation, truncationFormat, type ExecRequest, type Observation } from "../../core/sandbox.js";
import { ownFile } from "../own-files.js";

export const SHIM_SOURCE = readFileSync(ownFile("adapters/docker/shim.py"), "utf8").replace(
  /^MARKER = .*$/m,
  `MARKER = ${JSON.stringify(truncationFormat("bytes"))}`,
);

interface ShimAnswer {
  id: number;
  ready?: string;
  code: number;
  stdout: string;
  stderr: string;
  cut: number;
  timedOut: boolean;
  ms: number;
}

/** How long past a command's time limit an answer may take (killing what it left, its output). */
const ANSWER_GRACE_MS = 60_000;

type Refable = { ref?: () => void; unref?: () => void };
type Socketish = Duplex & Refable & { socket?: Refable };

export class Channel {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (a: ShimAnswer) => void; reject: (e: Error) => void }>();
  private buffered = "";
  private closed = false;

  private constructor(private readonly stream: Socketish) {
    // A character split across two frames must not be garbled: decode stdout as one stream.
    const decoder = new StringDecoder("utf8");
    onFrames(stream, (type, payload) => {
      if (type === 1) this.onStdout(decoder.write(payload));
    });
    const onClose = () =>
      this.fail(new LanesError("sandbox", "the sandbox's control channel closed (the container ended?)"));
    stream.on("close", onClose);
    stream.on("end", onClose);
    stream.on("error", (err) =>
      this.fail(new LanesError("sandbox", `sandbox channel error: ${err.message}`, { cause: err })),
    );
    this.idle();
  }

  /** Attach to PID 1's stdin and stdout. */
  static async attach(container: Docker.Container): Promise<Channel> {
    const stream = (await container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as Socketish;
    return new Channel(stream);
  }

  /** Does a shim answer? (Images without python3 run `cat`, which only echoes.) */
  async hello(timeoutMs = 3000): Promise<boolean> {
    const timer = new Promise<false>((r) => setTimeout(() => r(false), timeoutMs).unref());
    const answer = this.request({ op: "hello" })
      .then((a) => a.ready === "lanes-shim/1")
      .catch(() => false);
    return Promise.race([answer, timer]);
  }

  async exec(req: ExecRequest, signal?: AbortSignal): Promise<Observation> {
    if (signal?.aborted) return abortedObservation();
    const body = {
      cmd: req.command,
      timeout: req.timeoutMs / 1000,
      cwd: req.cwd,
      env: req.env,
      limit: req.maxOutputBytes ?? 100_000,
      ...(req.background ? { background: true } : {}),
    };
    const started = performance.now();
    const id = this.nextId;
    const onAbort = () => this.write({ op: "kill", target: id });
    signal?.addEventListener("abort", onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    // The shim enforces the time limit inside; this only bounds a shim that never answers.
    const silent = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new LanesError("sandbox", `the sandbox did not answer within ${req.timeoutMs + ANSWER_GRACE_MS} ms`)),
        req.timeoutMs + ANSWER_GRACE_MS,
      );
      timer.unref();
    });
    try {
      const a = await Promise.race([this.request(body), silent]);
      return {
        exitCode: a.code,
        stdout: a.stdout,
        stderr: a.stderr,
        durationMs: Math.round(performance.now() - started),
        timedOut: a.timedOut,
        truncatedBytes: a.cut,
      };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Unpack a tar into `dir` inside the sandbox (shim.py extracts it as the sandbox user), then
   * make the base commit of it there: its hash arrives later than the copy (undefined where the
   * shim leaves that to git: see commit_base in shim.py).
   */
  async untar(dir: string, tar: Buffer): Promise<{ base: Promise<string | undefined> }> {
    const commit = this.nextId++;
    const base = this.awaiting(commit).then(
      (a) => (a.code === 0 ? a.stdout.trim() : undefined),
      () => undefined,
    );
    const a = await this.request({ op: "untar", path: dir, data: tar.toString("base64"), commit });
    if (a.code !== 0) throw new LanesError("sandbox", `could not copy the workspace in: ${a.stderr}`);
    return { base };
  }

  /** Stop everything running here; used when the holder is about to release the sandbox. */
  close(): void {
    this.closed = true;
    this.stream.destroy();
  }

  private request(body: Record<string, unknown>): Promise<ShimAnswer> {
    const id = this.nextId++;
    const answer = this.awaiting(id);
    if (!this.closed) this.write({ id, ...body });
    return answer;
  }

  /** The answer that will come under `id`. */
  private awaiting(id: number): Promise<ShimAnswer> {
    if (this.closed) return Promise.reject(new LanesError("sandbox", "the sandbox was released"));
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const s = this.stream.socket ?? this.stream;
      s.ref?.(); // keep Node alive while a command runs
    });
  }

  private write(obj: Record<string, unknown>): void {
    this.stream.write(`${JSON.stringify(obj)}\n`);
  }

  private onStdout(text: string): void {
    this.buffered += text;
    let nl: number;
    while ((nl = this.buffered.indexOf("\n")) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      let answer: ShimAnswer;
      try {
        answer = JSON.parse(line) as ShimAnswer;
      } catch {
        continue; // `cat` echoing a request, or noise
      }
      const waiter = this.pending.get(answer.id);
      if (!waiter || (answer.ready === undefined && answer.code === undefined)) continue;
      this.pending.delete(answer.id);
      waiter.resolve(answer);
    }
    if (!this.pending.size) this.idle();
  }

  /** With nothing in flight the stream must not keep Node running: lanes exiting ends the sandbox. */
  private idle(): void {
    const s = this.stream.socket ?? this.stream;
    s.unref?.();
  }

  private fail(err: Error): void {
    for (const w of this.pending.values()) w.reject(err);
    this.pending.clear();
    this.closed = true;
  }
}
