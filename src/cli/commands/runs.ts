/** `lanes runs ls|show`. */
import { existsSync, readFileSync } from "node:fs";
import { filesOf, isPolicyPath } from "../../core/policy-edits.js";
import { join } from "node:path";
import { LanesError } from "../../core/errors.js";
import { openLedger } from "../compose.js";
import type { RunRow } from "../../adapters/store/ledger-schema.js";
import { money } from "../../report/plan-text.js";
import type { CommandContext } from "../context.js";

export async function ls(ctx: CommandContext): Promise<void> {
  const ledger = await openLedger();
  try {
    const rows = ledger.runStore.list();
    ctx.out.result(rows, (rs) =>
      rs.length
        ? rs
            .map(
              (r) =>
                `${r.id}  ${new Date(r.createdAt).toISOString()}  ${r.lane}/${r.tier}  ${r.status.padEnd(16)}` +
                ` check ${r.check.padEnd(9)} ${runCost(r)} (p90 ${money(r.p90Usd)}, cap ${money(r.capUsd)}) ` +
                ` ${r.steps} steps  ${r.task.split("\n")[0]!.slice(0, 50)}`,
            )
            .join("\n")
        : "no runs yet",
    );
  } finally {
    ledger.close();
  }
}

export async function show(ctx: CommandContext): Promise<void> {
  const ledger = await openLedger();
  try {
    const row = ledger.runStore.find(ctx.args[0]!);
    if (!row) throw new LanesError("usage", `no run ${ctx.args[0]}`, { hint: "`lanes runs ls` lists them" });
    const t = JSON.parse(readFileSync(join(row.dir, "trajectory.json"), "utf8")) as {
      trajectory: { kind: string; data: Record<string, unknown>; at: number; step: number }[];
      usage: Record<string, number>;
      modelMs: number;
      toolMs: number;
      sandboxSeconds: number;
      redactions: number;
      summary: string;
    };
    const tools: Record<string, number> = {};
    for (const e of t.trajectory)
      if (e.kind === "tool") tools[String(e.data.tool)] = (tools[String(e.data.tool)] ?? 0) + 1;
    const ledgerCost = ledger.chargedOn(row.holdId ?? "", "usd");
    const patchFile = join(row.dir, "patch.diff");
    const patchFiles = existsSync(patchFile) ? filesOf(readFileSync(patchFile, "utf8")) : [];
    // The check's own output (kept in the trajectory), so a failure says why without digging.
    const checkNote = t.trajectory.find((e) => e.kind === "note" && e.data.check !== undefined)?.data;
    const checkOutput =
      checkNote && checkNote.exitCode !== 0
        ? [String(checkNote.stdout ?? "").trimEnd(), String(checkNote.stderr ?? "").trimEnd()]
            .filter(Boolean)
            .join("\n")
            .split("\n")
            .slice(-20)
            .join("\n")
        : undefined;
    const out = {
      ...row,
      summary: t.summary,
      timeline: { modelMs: t.modelMs, toolMs: t.toolMs, sandboxSeconds: t.sandboxSeconds },
      tokens: t.usage,
      toolCalls: tools,
      ...(checkOutput !== undefined ? { checkOutput } : {}),
      patch: patchFiles.length ? patchFile : null,
      patchFiles,
      policyEdits: patchFiles.filter(isPolicyPath),
      redactions: t.redactions,
      cost: {
        actualUsd: row.unpriced ? null : row.costUsd,
        tokens: row.tokens,
        overageUsd: row.overageUsd,
        ledgerUsd: ledgerCost,
        p90Usd: row.p90Usd,
        capUsd: row.capUsd,
      },
      steps: t.trajectory
        .filter((e) => e.kind !== "note")
        .map((e): Record<string, unknown> & { step: number; atMs: number; kind: string } => ({
          step: e.step,
          atMs: e.at,
          kind: e.kind,
          ...(e.kind === "tool"
            ? { tool: e.data.tool, exitCode: e.data.exitCode, ms: e.data.ms }
            : {
                tokensIn: (e.data.usage as Record<string, number>)?.promptTokens,
                tokensOut: (e.data.usage as Record<string, number>)?.completionTokens,
                costUsd: e.data.costUsd,
                ms: e.data.ms,
                // A call an external agent made through the gateway, in its own protocol.
                ...(e.data.protocol ? { via: `gateway (${String(e.data.protocol)})` } : {}),
                ...(e.data.error ? { error: e.data.error } : {}),
              }),
        })),
    };
    ctx.out.result(out, (o) =>
      [
        `run ${o.id}: ${o.status}, check ${o.check}; ${o.lane}/${o.tier}; ${o.steps.length ? o.steps[o.steps.length - 1]!.step : 0}` +
          ` steps in ${(o.durationMs / 1000).toFixed(1)} s`,
        `time: model ${(o.timeline.modelMs / 1000).toFixed(2)} s, tools ${(o.timeline.toolMs / 1000).toFixed(2)}` +
          ` s, sandbox ${o.timeline.sandboxSeconds.toFixed(1)} s`,
        `tokens: ${o.tokens.promptTokens} in, ${o.tokens.completionTokens} out; tool calls: ${
          Object.entries(o.toolCalls)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ") || "none"
        }; redactions ${o.redactions}`,
        `cost: ${runCost(row)} actual vs ${money(o.cost.p90Usd)} projected (p90) vs ${money(o.cost.capUsd)} cap`,
        ...o.steps.map((s) => `  ${String(s.atMs).padStart(6)} ms  step ${s.step} ${stepText(s)}`),
        ...(o.checkOutput ? [`check output (last lines):\n${o.checkOutput.replace(/^/gm, "  │ ")}`] : []),
        `patch: ${o.patch ? `${o.patchFiles.join(", ")} (${o.patch})` : "no changes"}`,
        ...(o.policyEdits.length ? [`the patch edits policy: ${o.policyEdits.join(", ")}`] : []),
        `summary: ${o.summary}`,
      ].join("\n"),
    );
  } finally {
    ledger.close();
  }
}

/** A run's cost as a person should read it: unpriced runs in tokens, and any overage spelled out. */
function runCost(r: RunRow): string {
  if (r.unpriced) return `unpriced (${r.tokens.toLocaleString("en-US")} tokens)`;
  return r.overageUsd > 0 ? `${money(r.costUsd)} + ${money(r.overageUsd)} billed beyond the hold` : money(r.costUsd);
}

function stepText(s: Record<string, unknown>): string {
  if (s.kind === "tool") {
    const ms = s.ms === undefined ? "" : ` (${String(s.ms)} ms)`;
    return `${String(s.tool)} → ${String(s.exitCode ?? "ok")}${ms}`;
  }
  const cost = money(Number(s.costUsd ?? 0));
  if (s.error) return `model call failed: ${String(s.error)}`;
  const via = s.via ? ` via ${String(s.via)}` : "";
  return `model ${String(s.tokensIn)}→${String(s.tokensOut)} tokens ${cost} (${String(s.ms)} ms)${via}`;
}
