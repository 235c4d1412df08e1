/** `lanes quota`: every bucket with used, held, limit, level and reset time. */
import { levelOf } from "../../core/quota.js";
import { bucketsFor } from "../../app/buckets.js";
import { identityOf } from "../../app/identity.js";
import { openLedger } from "../compose.js";
import { amount, bar } from "../../report/plan-text.js";
import type { CommandContext } from "../context.js";
import { loadFor } from "../load-config.js";

export async function quota(ctx: CommandContext): Promise<void> {
  const { config, root } = await loadFor(ctx);
  const who = await identityOf(config, root);
  const ledger = await openLedger();
  try {
    const rows = ledger.status(bucketsFor(config, who, new Date())).map((s) => ({
      bucket: s.key,
      unit: s.unit,
      used: s.used,
      held: s.held,
      limit: s.limit,
      kind: s.kind,
      level: levelOf(s.used, s.held, s.limit, config.rules.quota),
      resetsAt: s.resetsAt,
    }));
    ctx.out.result(ctx.mode.kind === "json" ? { identity: who, buckets: rows } : rows, () =>
      rows.length
        ? rows
            .map(
              (r) =>
                `${r.bucket.padEnd(34)} ${ctx.out.style(levelColour(r.level), bar((r.used + r.held) / (r.limit || 1)))}` +
                ` ${amount(r.used, r.unit)} used + ${amount(r.held, r.unit)} held of ${amount(r.limit, r.unit)}` +
                ` (${r.kind}, ${r.level}); resets ${r.resetsAt}`,
            )
            .join("\n")
        : "no budgets configured: add them under budgets: in lanes.yaml",
    );
  } finally {
    ledger.close();
  }
}

function levelColour(level: string): "green" | "yellow" | "red" {
  return level === "ok" ? "green" : level === "warn" ? "yellow" : "red";
}
