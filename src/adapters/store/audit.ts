/**
 * The audit trail: append-only JSON lines with a hash chain, anchored in the ledger.
 *
 * Each record carries the previous record's hash and its own (sha256 over the previous hash and
 * the record's canonical JSON), so changing, removing or reordering a line breaks the chain.
 * A chain alone cannot show that its tail was cut off, so every append also stores the trail's
 * head (sequence number and hash) in the ledger, inside one ledger write transaction: that
 * transaction is also what serialises writers from several processes (no lock file). `verify`
 * compares the file with the anchored head, which detects truncation, emptying and deletion,
 * and a record appended outside lanes. With LANES_AUDIT_KEY set every record also carries an
 * HMAC of its hash, so a forger who rewrites the file *and* the ledger still cannot mint records.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { canonical } from "../../core/canonical.js";
import { detectCi } from "../../core/ci.js";
import { safeUser } from "../identity-source.js";
import type {
  Actor,
  AuditAnchor,
  AuditHead,
  AuditInput,
  AuditRecord,
  AuditTrail,
  VerifyResult,
} from "../../core/ports.js";

export { canonical };

const GENESIS = "0".repeat(64);

export function currentActor(env: Record<string, string | undefined> = process.env, user?: string): Actor {
  const ci = detectCi(env);
  return { user: user ?? env.LANES_USER ?? safeUser(), host: hostname(), ...(ci ? { ci } : {}) };
}

export function hashRecord(r: Omit<AuditRecord, "hash" | "mac">): string {
  return createHash("sha256").update(r.prevHash).update(canonical(r)).digest("hex");
}

function macOf(hash: string, key: string): string {
  return createHmac("sha256", key).update(hash).digest("hex");
}

/**
 * Where the records live when not in a file: a shared store (PostgreSQL) keeps them in a table,
 * written in the same transaction as the head and the ledger change they document.
 */
export interface AuditLines {
  append(seq: number, line: string): void;
  all(): string[];
}

export class AuditLog implements AuditTrail {
  constructor(
    readonly path: string,
    private readonly anchor: AuditAnchor,
    private readonly actor: Actor = currentActor(),
    private readonly key: string | undefined = process.env.LANES_AUDIT_KEY || undefined,
    private readonly stored?: AuditLines,
  ) {}

  append(input: AuditInput): AuditRecord {
    if (!this.stored) mkdirSync(dirname(this.path), { recursive: true });
    return this.anchor.atomically(() => {
      const head = this.anchor.auditHead() ?? (this.stored ? undefined : adoptExisting(this.path));
      const body: Omit<AuditRecord, "hash"> = {
        id: `a_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`,
        seq: (head?.seq ?? 0) + 1,
        time: new Date().toISOString(),
        actor: this.actor,
        ...input,
        prevHash: head?.hash ?? GENESIS,
      };
      const hash = hashRecord(body);
      const record: AuditRecord = { ...body, hash, ...(this.key ? { mac: macOf(hash, this.key) } : {}) };
      if (this.stored) {
        this.stored.append(record.seq, JSON.stringify(record));
        this.anchor.setAuditHead({ seq: record.seq, hash });
        return record;
      }
      // A crash mid-write can leave a partial last line: start on a fresh line so it stays one
      // bad line (reported by verify, set aside by --repair) and never blocks the next append.
      const fd = openSync(this.path, "a+");
      try {
        writeSync(fd, `${endsMidLine(fd) ? "\n" : ""}${JSON.stringify(record)}\n`);
      } finally {
        closeSync(fd);
      }
      this.anchor.setAuditHead({ seq: record.seq, hash });
      return record;
    });
  }

  /** Every record that parses; a bad line is skipped here (verify reports it). */
  read(): AuditRecord[] {
    return this.lines().flatMap((l) => {
      try {
        return [JSON.parse(l) as AuditRecord];
      } catch {
        return [];
      }
    });
  }

  /** Walk the chain from the first line and compare its end with the anchored head. */
  verify(): VerifyResult {
    const lines = this.stored || existsSync(this.path) ? this.lines() : null;
    return verifyLines(lines, this.anchor.auditHead() ?? null, this.key);
  }

  private lines(): string[] {
    return this.stored ? this.stored.all() : readLines(this.path);
  }

  /**
   * Set aside the lines that are not part of the anchored chain (a partial line from a crash, a
   * record that was never anchored) into a side file, keep their bytes, and audit the repair.
   * Refuses when what is left would still not verify (truncation cannot be repaired).
   */
  repair(): { setAside: number; sideFile: string | null; result: VerifyResult } {
    // A store's records are written transactionally: nothing half-written to set aside.
    if (this.stored) return { setAside: 0, sideFile: null, result: this.verify() };
    return this.anchor.atomically(() => {
      const lines = readLines(this.path);
      const head = this.anchor.auditHead() ?? null;
      const keep: string[] = [];
      const bad: string[] = [];
      let prev = GENESIS;
      for (const line of lines) {
        const r = parse(line);
        if (r && r.prevHash === prev && hashRecord(strip(r)) === r.hash) {
          keep.push(line);
          prev = r.hash;
        } else bad.push(line);
      }
      const result = verifyLines(keep, head, this.key);
      if (!bad.length || !result.ok)
        return { setAside: 0, sideFile: null, result: bad.length ? result : verifyLines(lines, head, this.key) };
      const sideFile = `${this.path}.set-aside-${new Date().toISOString().replace(/[:.]/g, "-")}`;
      writeFileSync(sideFile, `${bad.join("\n")}\n`);
      const tmp = `${this.path}.tmp-${process.pid}`;
      writeFileSync(tmp, keep.length ? `${keep.join("\n")}\n` : "");
      renameSync(tmp, this.path);
      this.append({ action: "repair", outcome: { setAside: bad.length, sideFile } });
      return { setAside: bad.length, sideFile, result: this.verify() };
    });
  }
}

function verifyLines(lines: string[] | null, head: AuditHead | null, key: string | undefined): VerifyResult {
  const notes: string[] = [];
  const base = { anchored: head, keyed: key !== undefined, notes };
  const count = lines?.length ?? 0;
  const fail = (line: number, reason: string, id?: string): VerifyResult => ({
    ok: false,
    line,
    reason,
    records: count,
    ...(id ? { id } : {}),
    ...base,
  });
  if (!head)
    notes.push("no head is anchored in the ledger yet: truncation before the first anchored append cannot be detected");
  if (!lines)
    return head
      ? fail(1, `the audit trail is missing, but the ledger's anchor says it holds ${head.seq} records`)
      : { ok: true, records: 0, ...base };
  let prev = GENESIS;
  let seq = 0;
  let macSeen = false;
  for (const [i, line] of lines.entries()) {
    const r = parse(line);
    if (!r)
      return fail(
        i + 1,
        "not a complete JSON record (a crash mid-write, or an edit); `lanes audit verify --repair` sets it aside",
      );
    if (r.seq !== seq + 1)
      return fail(
        i + 1,
        seq === 0
          ? `the trail starts at #${r.seq}: records before it were removed`
          : `#${r.seq} follows #${seq}: a record was removed or reordered`,
        r.id,
      );
    if (r.prevHash !== prev)
      return fail(
        i + 1,
        "its prevHash does not match the record before it (a record was removed, reordered or changed)",
        r.id,
      );
    if (hashRecord(strip(r)) !== r.hash)
      return fail(i + 1, "its content does not match its hash (it was changed)", r.id);
    if (key) {
      if (r.mac) {
        if (!safeEqual(r.mac, macOf(r.hash, key)))
          return fail(i + 1, "its HMAC does not verify under LANES_AUDIT_KEY (forged, or another key)", r.id);
        macSeen = true;
      } else if (macSeen)
        return fail(i + 1, "it has no HMAC although earlier records do (appended without the key)", r.id);
    }
    prev = r.hash;
    seq = r.seq;
  }
  if (key && !macSeen && seq > 0) notes.push("no record carries an HMAC: they were written without LANES_AUDIT_KEY");
  if (head) {
    if (seq < head.seq)
      return fail(
        count + 1,
        count
          ? `the trail ends at #${seq} but the ledger's anchor says #${head.seq}: it was truncated`
          : `the audit trail is empty, but the ledger's anchor says it held ${head.seq} records`,
      );
    if (seq > head.seq) {
      const i = lines.findIndex((l) => parse(l)?.seq === head.seq + 1);
      return fail(
        i + 1,
        `records after the anchored head #${head.seq} were not written by lanes (or lanes crashed before anchoring them)`,
        parse(lines[i]!)?.id,
      );
    }
    if (prev !== head.hash)
      return fail(count, `the last record's hash does not match the ledger's anchor for #${head.seq}`);
  }
  return { ok: true, records: count, ...base };
}

/** A trail written before anchoring existed: its current end becomes the anchor (first use). */
function adoptExisting(path: string): AuditHead | undefined {
  const last = readLines(path)
    .map(parse)
    .filter((r): r is AuditRecord => r !== undefined)
    .pop();
  return last ? { seq: last.seq, hash: last.hash } : undefined;
}

function readLines(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").filter(Boolean);
}

function parse(line: string): AuditRecord | undefined {
  try {
    const r = JSON.parse(line) as AuditRecord;
    return r && typeof r === "object" && typeof r.hash === "string" && typeof r.seq === "number" ? r : undefined;
  } catch {
    return undefined;
  }
}

function strip(r: AuditRecord): Omit<AuditRecord, "hash" | "mac"> {
  const { hash: _h, mac: _m, ...body } = r;
  return body;
}

function endsMidLine(fd: number): boolean {
  const { size } = fstatSync(fd);
  if (!size) return false;
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, size - 1);
  return b[0] !== 0x0a;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export type { Actor, AuditAnchor, AuditHead, AuditInput, AuditRecord, VerifyResult } from "../../core/ports.js";
