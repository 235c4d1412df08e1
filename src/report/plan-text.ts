/** A plan as plain text, for terminals without ink and for CI logs. */
import type { Plan } from "../app/plan-task.js";
import { describeRelaxation } from "../core/relaxations.js";
import type { Style } from "./style.js";

type Stylize = (s: Style, t: string) => string;

export function money(n: number | null): string {
  if (n === null) return "unpriced";
  // Float residue of a charge and its refund (-1e-17) is zero, never "$-0.00000".
  if (Math.abs(n) < 5e-7) n = 0;
  if (n === 0) return "$0.00";
  return n >= 1 ? `$${n.toFixed(2)}` : n >= 0.01 ? `$${n.toFixed(3)}` : `$${n.toFixed(5)}`;
}

export function amount(n: number, unit: string): string {
  return unit === "usd" ? money(n) : `${Math.round(n)}${unit === "gpu_seconds" ? " GPU-s" : " s"}`;
}

export function bar(fraction: number, width = 20): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return "█".repeat(filled) + "░".repeat(width - filled);
}

export function planText(p: Plan, style: Stylize = (_s, t) => t): string {
  const verdictStyle: Record<string, Style> = { allow: "green", ask: "yellow", delay: "yellow", deny: "red" };
  const lines = [
    `${style("bold", "lane")} ${p.lane} · ${style("bold", "tier")} ${p.tier} · ${style("bold", "endpoint")} ${p.endpoint.id} (${p.endpoint.model})` +
      (p.agent ? ` · ${style("bold", "agent")} ${p.agent} (behind the gateway)` : ""),
    `${style("bold", "cost")}  ${p.cost.class} ${p.cost.label}  ${money(p.cost.p50Usd)} – ${money(p.cost.p90Usd)}` +
      ` (p50–p90), cap ${money(p.cost.capUsd)}   prompt ${p.tokens.prompt.toLocaleString("en-US")}` +
      ` tokens (${p.tokens.exact ? "exact" : "approximate"})`,
  ];
  lines.push(sandboxLine(p), ...workspaceLines(p).map((l) => style("yellow", l)));
  for (const r of p.sandbox.relaxations) lines.push(`  ${style("yellow", "relaxed")} ${describeRelaxation(r)}`);
  if (p.tokenCap !== undefined)
    lines.push(
      `${style("bold", "tokens")} unpriced: metered against a cap of ${p.tokenCap.toLocaleString("en-US")} tokens`,
    );
  for (const q of p.quota) {
    const f = q.limit > 0 ? (q.used + q.held) / q.limit : 1;
    const color: Style = q.level === "ok" ? "green" : q.level === "warn" ? "yellow" : "red";
    lines.push(
      `${style("bold", "quota")} ${q.bucket}  ${style(color, bar(f))} ${Math.round(f * 100)}%  used` +
        ` ${amount(q.used, q.unit)} + held ${amount(q.held, q.unit)}, this run p90 ${amount(q.projected, q.unit)}` +
        ` (cap ${amount(q.cap, q.unit)}) of ${amount(q.limit, q.unit)} ${q.kind}; resets ${q.resetsAt}`,
    );
  }
  if (!p.quota.length) lines.push(`${style("bold", "quota")} no budgets configured`);
  lines.push(
    `${style("bold", "decision")}` +
      ` ${style(verdictStyle[p.decision.verdict] ?? "bold", p.decision.verdict.toUpperCase())}${p.decision.retryAt ? ` (retry at ${p.decision.retryAt})` : ""}`,
  );
  for (const r of p.decision.reasons)
    lines.push(`  ${r.level === "hard" ? "✗" : r.level === "soft" ? "?" : "✓"} ${r.rule} (${r.level}): ${r.message}`);
  lines.push(style("dim", `assumptions: ${p.cost.assumptions.join("; ")}`));
  return lines.join("\n");
}

/** What the workspace leaves out (submodules not checked out, huge files) and LFS pointers, if any. */
export function workspaceLines(p: Plan): string[] {
  const w = p.repo.workspace;
  if (!w) return [];
  return [
    ...w.skipped.map((s) => `workspace: not copied: ${s.path} (${s.why})`),
    ...(w.lfsPointers.length
      ? [`workspace: Git LFS pointers copied without their content (git lfs pull first): ${w.lfsPointers.join(", ")}`]
      : []),
  ];
}

/** Where the run executes: host, image, runtime and profile (hardened, or how many relaxations). */
export function sandboxLine(p: Plan): string {
  const n = p.sandbox.relaxations.length;
  const state = n ? `${n} relaxation${n > 1 ? "s" : ""} from the hardened baseline` : "hardened";
  const egress = p.sandbox.egress ? ` · egress only to ${p.sandbox.egress.join(", ") || "nothing"}` : "";
  const s = p.sandbox.setup;
  const setup = s ? ` · setup \`${s.commands.join(" && ")}\` (${s.cached ? "cached" : "not cached yet"})` : "";
  const host = p.sandbox.hostUrl ? `${p.sandbox.host} (${p.sandbox.hostUrl})` : p.sandbox.host;
  return `sandbox ${host} · ${p.sandbox.image} · ${p.sandbox.runtime} · profile ${p.sandbox.profile} (${state})${egress}${setup}`;
}
