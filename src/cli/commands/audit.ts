/** `lanes audit ls|verify`: the decision trail, its hash chain and the head anchored in the ledger. */
import { LanesError } from "../../core/errors.js";
import { AuditLog } from "../../adapters/store/audit.js";
import { auditPath, openAudit, openLedger } from "../compose.js";
import type { CommandContext } from "../context.js";

export async function ls(ctx: CommandContext<{ since?: string }>): Promise<void> {
  const since = ctx.opts.since ? sinceTime(ctx.opts.since) : 0;
  // Listing needs no anchor: reading never writes.
  const noAnchor = { atomically: <T>(fn: () => T) => fn(), auditHead: () => undefined, setAuditHead: () => {} };
  const records = new AuditLog(auditPath(), noAnchor).read().filter((r) => Date.parse(r.time) >= since);
  ctx.out.result(records, (rs) =>
    rs.length
      ? rs
          .map((r) => {
            const who = `${r.actor.user}@${r.actor.host}${r.actor.ci ? ` (${r.actor.ci.provider})` : ""}`;
            const rules = r.decision?.reasons.map((x) => x.rule).join(", ") ?? "";
            return `${r.time}  #${r.seq} ${r.action.padEnd(8)} ${(r.decision?.verdict ?? "").padEnd(6)} ${who}  ${rules}`;
          })
          .join("\n")
      : "no audit records",
  );
}

export async function verify(ctx: CommandContext<{ repair?: boolean }>): Promise<number> {
  const ledger = await openLedger();
  try {
    const log = openAudit(ledger);
    const repaired = ctx.opts.repair ? log.repair() : undefined;
    const v = repaired?.result ?? log.verify();
    const result = {
      file: log.path,
      ...v,
      ...(repaired ? { setAside: repaired.setAside, sideFile: repaired.sideFile } : {}),
    };
    ctx.out.result(result, (r) => {
      const lines: string[] = [];
      if (repaired?.sideFile)
        lines.push(`set aside ${repaired.setAside} line(s) into ${repaired.sideFile} (recorded in the trail)`);
      else if (repaired) lines.push("nothing to set aside");
      const anchor = r.anchored ? `anchored head #${r.anchored.seq}` : "no anchored head yet";
      if (r.ok)
        lines.push(
          `✓ audit trail intact: ${r.records} records, ${anchor}${r.keyed ? ", HMAC-checked" : ""} (${r.file})`,
        );
      else lines.push(`✗ audit trail broken at line ${r.line}${r.id ? ` (record ${r.id})` : ""}: ${r.reason}`);
      for (const n of r.notes) lines.push(`  note: ${n}`);
      return lines.join("\n");
    });
    return v.ok ? 0 : 1;
  } finally {
    ledger.close();
  }
}

function sinceTime(s: string): number {
  const m = /^(\d+)(m|h|d)$/.exec(s);
  if (m) return Date.now() - Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "m" | "h" | "d"];
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new LanesError("usage", `--since ${s} is neither a duration (30m, 12h, 7d) nor a date`);
  return t;
}
