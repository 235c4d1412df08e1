import { describe, expect, it } from "vitest";
import { buildReport, reportMarkdown } from "../../src/app/report.js";
import type { RunRow } from "../../src/core/ports.js";

const run = (o: Partial<RunRow>): RunRow => ({
  id: "r",
  createdAt: Date.parse("2026-11-20T10:00:00Z"),
  lane: "async",
  tier: "local",
  task: "t",
  status: "finished",
  check: "passed",
  costUsd: 0.1,
  p90Usd: 0.2,
  p50Usd: 0.1,
  capUsd: 1,
  steps: 3,
  durationMs: 1000,
  holdId: null,
  dir: "/x",
  tokens: 100,
  unpriced: false,
  overageUsd: 0,
  team: "platform",
  user: "ana",
  ...o,
});

describe("lanes report", () => {
  const runs = [
    run({ costUsd: 0.1 }),
    run({ costUsd: 0.3, user: "bo" }), // above its p90
    run({ costUsd: 0.05, lane: "eval", createdAt: Date.parse("2026-11-21T10:00:00Z") }),
    run({ costUsd: 9, unpriced: true, tokens: 5000 }), // metered in tokens: no dollars
  ];
  it("groups spend by the chosen keys, totals it, and says how accurate each lane's estimates were", () => {
    const r = buildReport(runs, ["team", "lane"], 0);
    expect(r.rows).toEqual([
      { key: { team: "platform", lane: "async" }, runs: 3, costUsd: 0.4, tokens: 5200, unpriced: 1 },
      { key: { team: "platform", lane: "eval" }, runs: 1, costUsd: 0.05, tokens: 100, unpriced: 0 },
    ]);
    expect(r.total).toEqual({ runs: 4, costUsd: 0.45, tokens: 5300 });
    expect(r.accuracy).toEqual([
      { lane: "async", runs: 2, p90Coverage: 0.5, medianActualOverP50: 1 },
      { lane: "eval", runs: 1, p90Coverage: 1, medianActualOverP50: 0.5 },
    ]);
    expect(buildReport(runs, ["user", "day"], 0).rows.map((x) => x.key)).toContainEqual({
      user: "ana",
      day: "2026-11-21",
    });
  });
  it("writes Markdown for a CI summary", () => {
    const md = reportMarkdown(buildReport(runs, ["lane"], 0));
    expect(md).toContain("| lane | runs | cost | tokens |");
    expect(md).toContain("| async | 3 | $0.4000 | 5200 |");
    expect(md).toContain("| async | 2 | 50% | 1.00 |");
  });
});
