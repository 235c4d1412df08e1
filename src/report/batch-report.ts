/** The batch report: JSON and Markdown (also the GitHub step summary), and annotations for failures. */
import type { BatchTaskRow } from "../adapters/store/ledger.js";
import type { BatchPlan } from "../app/batch-plan.js";
import type { Applied } from "../core/run-events.js";
import { money } from "./plan-text.js";
import { appliedText } from "./run-text.js";

export interface BatchReport {
  batchId: string;
  name: string;
  lane: string;
  budgetUsd: number;
  spentUsd: number;
  counts: Record<string, number>;
  tasks: {
    idx: number;
    repo: string;
    status: string;
    check: string | null;
    costUsd: number;
    patch: string | null;
    runId: string | null;
    host: string | null;
    detail: string | null;
    attempts: number;
    /** Under --apply/--branch: what happened to the patch, and why not. */
    applied?: Applied[];
  }[];
}

export function buildReport(
  batchId: string,
  name: string,
  plan: BatchPlan,
  rows: BatchTaskRow[],
  applied?: Map<number, Applied[]>,
): BatchReport {
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return {
    batchId,
    name,
    lane: plan.lane,
    budgetUsd: plan.totals.budgetUsd,
    spentUsd: rows.reduce((n, r) => n + r.costUsd, 0),
    counts,
    tasks: rows.map((r) => ({
      idx: r.idx,
      repo: r.repo,
      status: r.status,
      check: r.check,
      costUsd: r.costUsd,
      patch: r.patch,
      runId: r.runId,
      host: r.host,
      detail: r.detail,
      attempts: r.attempts,
      ...(applied?.has(r.idx) ? { applied: applied.get(r.idx)! } : {}),
    })),
  };
}

export function markdown(r: BatchReport): string {
  const icon: Record<string, string> = {
    succeeded: "✅",
    failed: "❌",
    denied: "⛔",
    not_started: "⏸️",
    interrupted: "⚠️",
    pending: "…",
    running: "…",
  };
  const lines = [
    `## lanes batch ${r.name} (${r.batchId})`,
    "",
    `Lane **${r.lane}** · ${Object.entries(r.counts)
      .map(([k, v]) => `${v} ${k}`)
      .join(" · ")} · spent **${money(r.spentUsd)}** of a ${money(r.budgetUsd)} budget`,
    "",
    "| # | repository | status | check | cost | patch |",
    "|---|---|---|---|---|---|",
    ...r.tasks.map((t) => {
      const repo = t.repo.split("/").slice(-2).join("/");
      const detail = t.detail && t.status !== "succeeded" ? ` (${t.detail.replace(/\|/g, "\\|").slice(0, 80)})` : "";
      const patch = t.patch ? `\`${t.patch}\`` : "—";
      const home = (t.applied ?? []).map((a) => `<br>${appliedText(a).replace(/\|/g, "\\|")}`).join("");
      return `| ${t.idx} | \`${repo}\` | ${icon[t.status] ?? ""} ${t.status}${detail} | ${t.check ?? "—"} | ${money(t.costUsd)} | ${patch}${home} |`;
    }),
  ];
  return `${lines.join("\n")}\n`;
}

/** GitHub Actions workflow commands for failed tasks (shown as annotations on the run). */
export function annotations(r: BatchReport): string[] {
  return r.tasks
    .filter((t) => t.status === "failed" || t.status === "denied")
    .map(
      (t) =>
        `::error title=lanes batch task ${t.idx}::${t.repo}: ${t.status}${t.detail ? ` — ${t.detail.replace(/\r?\n/g, " ").slice(0, 200)}` : ""}`,
    );
}

/** The report for a terminal or a log: plain lines (the Markdown goes to report.md and the step summary). */
export function summaryText(r: BatchReport): string {
  const lines = [
    `batch ${r.name} (${r.batchId}) in lane ${r.lane}: ${Object.entries(r.counts)
      .map(([k, v]) => `${v} ${k}`)
      .join(", ")}; spent ${money(r.spentUsd)} of a ${money(r.budgetUsd)} budget`,
    ...r.tasks.map((t) => {
      const repo = t.repo.split("/").slice(-2).join("/");
      const detail = t.detail && t.status !== "succeeded" ? ` (${t.detail.slice(0, 120)})` : "";
      const home = (t.applied ?? []).map((a) => `\n      ${appliedText(a)}`).join("");
      return `  #${t.idx} ${repo}: ${t.status}${detail}; check ${t.check ?? "—"}; ${money(t.costUsd)}${
        t.patch ? `; patch ${t.patch}` : ""
      }${home}`;
    }),
  ];
  return `${lines.join("\n")}\n`;
}
