/** `lanes audit ls|verify`: the decision trail and its hash chain. */
import { LanesError } from "../../core/errors.js";
import { openAudit } from "../../app/records.js";
import type { CommandContext } from "../context.js";

export async function ls(ctx: CommandContext<{ since?: string }>): Promise<void> {
  const since = ctx.opts.since ? sinceTime(ctx.opts.since) : 0;
  const records = openAudit().read().filter((r) => Date.parse(r.time) >= since);
  ctx.out.result(records, (rs) =>
    rs.length
      ? rs.map((r) => `${r.time}  #${r.seq} ${r.action.padEnd(8)} ${(r.decision?.verdict ?? "").padEnd(6)} ${r.actor.user}@${r.actor.host}${r.actor.ci ? ` (${r.actor.ci.provider})` : ""}  ${r.decision?.reasons.map((x) => x.rule).join(", ") ?? ""}`).join("\n")
      : "no audit records",
  );
}

export async function verify(ctx: CommandContext): Promise<number> {
  const log = openAudit();
  const v = log.verify();
  ctx.out.result({ file: log.path, ...v }, (r) => (r.ok ? `✓ audit chain intact: ${r.records} records (${r.file})` : `✗ audit chain broken at line ${r.line}${r.id ? ` (record ${r.id})` : ""}: ${r.reason}`));
  return v.ok ? 0 : 1;
}

function sinceTime(s: string): number {
  const m = /^(\d+)(m|h|d)$/.exec(s);
  if (m) return Date.now() - Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "m" | "h" | "d"];
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new LanesError("usage", `--since ${s} is neither a duration (30m, 12h, 7d) nor a date`);
  return t;
}
