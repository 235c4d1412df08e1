/** `lanes report`: spend and usage from the store, by team, user, project, lane, tier and day. */
import { LanesError } from "../../core/errors.js";
import { parseDuration } from "../../core/sandbox.js";
import { buildReport, GROUPS, reportMarkdown, type Group } from "../../app/report.js";
import type { CommandContext } from "../context.js";
import { openLedger } from "../compose.js";

export async function report(ctx: CommandContext<{ since: string; by: string; md?: boolean }>): Promise<number> {
  const by = ctx.opts.by.split(",").map((s) => s.trim()) as Group[];
  const unknown = by.filter((g) => !GROUPS.includes(g));
  if (unknown.length || !by.length)
    throw new LanesError("usage", `--by ${ctx.opts.by}: group by any of ${GROUPS.join(", ")}`);
  let span: number;
  try {
    span = parseDuration(ctx.opts.since);
  } catch {
    throw new LanesError("usage", `--since ${ctx.opts.since} is not a duration such as 30d, 12h or 90m`);
  }
  const since = Date.now() - span;
  const ledger = await openLedger();
  try {
    const r = buildReport(ledger.runStore.since(since), by, since);
    if (ctx.opts.md) {
      process.stdout.write(reportMarkdown(r));
      return 0;
    }
    ctx.out.result(r, (x) => {
      const width = by.map((g) => Math.max(g.length, ...x.rows.map((row) => (row.key[g] ?? "").length)));
      const cells = (c: string[]) => c.map((v, i) => v.padEnd(width[i]!)).join("  ");
      return [
        `since ${x.since.slice(0, 10)}, by ${by.join(", ")}:`,
        `${cells(by)}  ${"runs".padStart(5)}  ${"cost".padStart(10)}  ${"tokens".padStart(9)}`,
        ...x.rows.map(
          (row) =>
            `${cells(by.map((g) => row.key[g] ?? ""))}  ${String(row.runs).padStart(5)}  ${`$${row.costUsd.toFixed(4)}`.padStart(10)}` +
            `  ${String(row.tokens).padStart(9)}${row.unpriced ? `  (${row.unpriced} unpriced)` : ""}`,
        ),
        `total: ${x.total.runs} runs, $${x.total.costUsd.toFixed(4)}, ${x.total.tokens} tokens`,
        ...x.accuracy.map(
          (a) =>
            `accuracy ${a.lane}: ${a.p90Coverage === null ? "–" : `${Math.round(a.p90Coverage * 100)}%`} of ${a.runs} runs` +
            ` within p90; median actual/p50 ${a.medianActualOverP50?.toFixed(2) ?? "–"}`,
        ),
      ].join("\n");
    });
    return 0;
  } finally {
    ledger.close();
  }
}
