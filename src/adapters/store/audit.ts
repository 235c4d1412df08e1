/**
 * The audit trail: append-only JSON lines with a hash chain. Each record carries the previous
 * record's hash and its own (sha256 over the previous hash and the record's canonical JSON), so
 * changing, removing or reordering any line breaks verification from that line on. Writers from
 * several processes take an exclusive lock file around read-last-hash + append, so records never
 * interleave and the chain stays linear.
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { dirname } from "node:path";

export interface Actor {
  user: string;
  host: string;
  ci?: { provider: string; job?: string | undefined } | undefined;
}

export interface AuditInput {
  action: "plan" | "approve" | "deny" | "delay" | "reserve" | "charge" | "settle" | "escalate" | "run";
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
}

const GENESIS = "0".repeat(64);

export function currentActor(env: Record<string, string | undefined> = process.env, user?: string): Actor {
  const ci = env.GITHUB_ACTIONS ? { provider: "github", job: [env.GITHUB_REPOSITORY, env.GITHUB_RUN_ID, env.GITHUB_JOB].filter(Boolean).join("/") }
    : env.GITLAB_CI ? { provider: "gitlab", job: [env.CI_PROJECT_PATH, env.CI_JOB_ID].filter(Boolean).join("/") }
    : env.CI && env.CI !== "false" && env.CI !== "0" ? { provider: "ci" } : undefined;
  return { user: user ?? env.LANES_USER ?? safeUser(), host: hostname(), ...(ci ? { ci } : {}) };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

/** Canonical JSON: keys sorted at every level, so the hash does not depend on key order. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`;
  return JSON.stringify(v);
}

export function hashRecord(r: Omit<AuditRecord, "hash">): string {
  return createHash("sha256").update(r.prevHash).update(canonical(r)).digest("hex");
}

export class AuditLog {
  constructor(
    readonly path: string,
    private readonly actor: Actor = currentActor(),
  ) {}

  append(input: AuditInput): AuditRecord {
    mkdirSync(dirname(this.path), { recursive: true });
    return withLock(`${this.path}.lock`, () => {
      const last = lastRecord(this.path);
      const body: Omit<AuditRecord, "hash"> = {
        id: `a_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`,
        seq: (last?.seq ?? 0) + 1,
        time: new Date().toISOString(),
        actor: this.actor,
        ...input,
        prevHash: last?.hash ?? GENESIS,
      };
      const record = { ...body, hash: hashRecord(body) };
      const fd = openSync(this.path, "a");
      try {
        writeSync(fd, `${JSON.stringify(record)}\n`);
      } finally {
        closeSync(fd);
      }
      return record;
    });
  }

  read(): AuditRecord[] {
    if (!existsSync(this.path)) return [];
    return readFileSync(this.path, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as AuditRecord);
  }

  /** The first record (1-based line) where the chain breaks, or ok. */
  verify(): { ok: true; records: number } | { ok: false; line: number; id?: string; reason: string; records: number } {
    if (!existsSync(this.path)) return { ok: true, records: 0 };
    const lines = readFileSync(this.path, "utf8").split("\n").filter(Boolean);
    let prev = GENESIS;
    for (const [i, line] of lines.entries()) {
      let r: AuditRecord;
      try {
        r = JSON.parse(line) as AuditRecord;
      } catch {
        return { ok: false, line: i + 1, reason: "not valid JSON", records: lines.length };
      }
      if (r.prevHash !== prev) return { ok: false, line: i + 1, id: r.id, reason: "its prevHash does not match the record before it (a record was removed, reordered or changed)", records: lines.length };
      const { hash, ...body } = r;
      if (hashRecord(body) !== hash) return { ok: false, line: i + 1, id: r.id, reason: "its content does not match its hash (it was changed)", records: lines.length };
      prev = hash;
    }
    return { ok: true, records: lines.length };
  }
}

function lastRecord(path: string): AuditRecord | undefined {
  if (!existsSync(path)) return undefined;
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (!size) return undefined;
    // Read backwards until the chunk holds a whole last line.
    for (let chunk = 16_384; ; chunk *= 4) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      const text = buf.toString("utf8").replace(/\n+$/, "");
      const nl = text.lastIndexOf("\n");
      if (nl >= 0 || start === 0) return JSON.parse(text.slice(nl + 1)) as AuditRecord;
    }
  } finally {
    closeSync(fd);
  }
}

/** An exclusive lock file; a stale one (its process gone, or older than 30 s) is taken over. */
function withLock<T>(lock: string, fn: () => T): T {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const fd = openSync(lock, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (staleLock(lock)) {
        try {
          unlinkSync(lock);
        } catch {
          /* someone else took it over first */
        }
        continue;
      }
      if (Date.now() > deadline) throw new Error(`the audit log is locked (${lock}); remove the file if no lanes process is running`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
  }
  try {
    return fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      /* already gone */
    }
  }
}

function staleLock(lock: string): boolean {
  try {
    const pid = Number(readFileSync(lock, "utf8"));
    if (!pid) return false;
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}
