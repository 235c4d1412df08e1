/**
 * `lanes report`: spend and usage from the store over a period, grouped by any of team, user,
 * project, lane, tier and day, with each lane's estimate accuracy — the share of runs whose actual
 * cost was at most their plan's p90, and the median of actual ÷ p50.
 */
import { percentiles } from "../core/estimate.js";
import type { RunRow } from "../core/ports.js";

export const GROUPS = ["team", "user", "project", "lane", "tier", "day"] as const;
export type Group = (typeof GROUPS)[number];

export interface ReportRow {
  key: Partial<Record<Group, string>>;
  runs: number;
  costUsd: number;
  tokens: number;
  /** Runs metered in tokens only (no dollar figure). */
  unpriced: number;
}

export interface Accuracy {
  lane: string;
  runs: number;
  /** Share of priced runs whose actual cost was at most the plan's p90. */
  p90Coverage: number | null;
  /** Median of actual ÷ p50 over runs whose plan had a p50 above zero. */
  medianActualOverP50: number | null;
}

export interface Report {
  since: string;
  by: Group[];
  rows: ReportRow[];
  total: { runs: number; costUsd: number; tokens: number };
  accuracy: Accuracy[];
}

const valueOf = (r: RunRow, g: Group): string =>
  g === "day"
    ? new Date(r.createdAt).toISOString().slice(0, 10)
    : ((g === "lane" || g === "tier" ? r[g] : r[g]) ?? "(unknown)");

export function buildReport(runs: RunRow[], by: Group[], sinceMs: number): Report {
  const groups = new Map<string, ReportRow>();
  for (const r of runs) {
    const key = Object.fromEntries(by.map((g) => [g, valueOf(r, g)])) as ReportRow["key"];
    const id = JSON.stringify(key);
    const row = groups.get(id) ?? { key, runs: 0, costUsd: 0, tokens: 0, unpriced: 0 };
    row.runs++;
    row.costUsd += r.unpriced ? 0 : r.costUsd;
    row.tokens += r.tokens;
    row.unpriced += r.unpriced ? 1 : 0;
    groups.set(id, row);
  }
  const rows = [...groups.values()].sort((a, b) => b.costUsd - a.costUsd);
  const lanes = [...new Set(runs.map((r) => r.lane))].sort();
  const accuracy = lanes.map((lane) => {
    const mine = runs.filter((r) => r.lane === lane && !r.unpriced);
    const withP90 = mine.filter((r) => r.p90Usd !== null);
    const ratios = mine.filter((r) => (r.p50Usd ?? 0) > 0).map((r) => r.costUsd / r.p50Usd!);
    return {
      lane,
      runs: mine.length,
      p90Coverage: withP90.length
        ? withP90.filter((r) => r.costUsd <= r.p90Usd! + 1e-12).length / withP90.length
        : null,
      medianActualOverP50: ratios.length ? percentiles(ratios).p50 : null,
    };
  });
  return {
    since: new Date(sinceMs).toISOString(),
    by,
    rows,
    total: {
      runs: runs.length,
      costUsd: rows.reduce((s, r) => s + r.costUsd, 0),
      tokens: rows.reduce((s, r) => s + r.tokens, 0),
    },
    accuracy,
  };
}

/** The report as Markdown (a CI step summary, a wiki page). */
export function reportMarkdown(r: Report): string {
  const head = [...r.by, "runs", "cost", "tokens"];
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const out = [
    `## lanes spend since ${r.since.slice(0, 10)}`,
    "",
    line(head),
    line(head.map(() => "---")),
    ...r.rows.map((x) =>
      line([...r.by.map((g) => x.key[g] ?? ""), String(x.runs), `$${x.costUsd.toFixed(4)}`, String(x.tokens)]),
    ),
    line([
      ...r.by.map((_, i) => (i === 0 ? "**total**" : "")),
      String(r.total.runs),
      `$${r.total.costUsd.toFixed(4)}`,
      String(r.total.tokens),
    ]),
    "",
    "### Estimate accuracy",
    "",
    line(["lane", "runs", "actual ≤ p90", "median actual ÷ p50"]),
    line(["---", "---", "---", "---"]),
    ...r.accuracy.map((a) =>
      line([
        a.lane,
        String(a.runs),
        a.p90Coverage === null ? "–" : `${Math.round(a.p90Coverage * 100)}%`,
        a.medianActualOverP50 === null ? "–" : a.medianActualOverP50.toFixed(2),
      ]),
    ),
  ];
  return `${out.join("\n")}\n`;
}
