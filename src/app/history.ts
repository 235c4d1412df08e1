/** Estimate history for a plan: which earlier runs shape it, and the endpoint's measured speeds. */
import { percentiles, type History } from "../core/estimate.js";
import type { HistoryKey, HistoryRow, Store } from "../core/ports.js";

/**
 * History for a plan, most specific first: this lane on this tier with this endpoint and task
 * template, then without the endpoint, then without the template, then the lane on the tier —
 * never another tier (local and hosted runs are not mixed). The first with 3 runs is used, and
 * named in the assumptions. Speeds and the prompt cache's share are the endpoint's own, from any
 * lane's runs on it.
 */
export function historyOf(
  ledger: Store,
  lane: string,
  template: string,
  tier: string,
  endpoint: string,
): History | undefined {
  const keys: [HistoryKey, string][] = [
    [{ lane, tier, endpoint, template }, `lane ${lane} on ${tier}/${endpoint} with this task`],
    [{ lane, tier, template }, `lane ${lane} on tier ${tier} with this task`],
    [{ lane, tier, endpoint }, `lane ${lane} on ${tier}/${endpoint}`],
    [{ lane, tier }, `lane ${lane} on tier ${tier}`],
  ];
  let rows: HistoryRow[] = [];
  let scope = keys[0]![1];
  for (const [key, name] of keys) {
    const found = ledger.historyStore.recent(key);
    if (found.length > rows.length) [rows, scope] = [found, name];
    if (found.length >= 3) break;
  }
  const measured = ledger.historyStore.recent({ endpoint }).filter((r) => r.completionTps !== undefined);
  if (!rows.length && !measured.length) return undefined;
  const pick = (f: (r: HistoryRow) => number) => percentiles(rows.map(f));
  const steps = pick((r) => r.steps);
  const comp = pick((r) => r.completionPerStep);
  const obs = pick((r) => r.observationPerStep);
  const secs = pick((r) => r.secondsPerStep);
  const median = (f: (r: HistoryRow) => number | undefined) => {
    const xs = measured.map(f).filter((x): x is number => x !== undefined);
    return xs.length ? percentiles(xs).p50 : undefined;
  };
  const [ctps, ptps, share] = [
    median((r) => r.completionTps),
    median((r) => r.promptTps),
    median((r) => r.cachedShare),
  ];
  return {
    runs: rows.length,
    scope,
    p50: { steps: steps.p50, completionPerStep: comp.p50, observationPerStep: obs.p50, secondsPerStep: secs.p50 },
    p90: { steps: steps.p90, completionPerStep: comp.p90, observationPerStep: obs.p90, secondsPerStep: secs.p90 },
    samples: rows
      .filter((r) => r.costUsd !== null && r.costUsd > 0 && r.endpoint === endpoint)
      .map((r) => ({
        profile: {
          steps: r.steps,
          completionPerStep: r.completionPerStep,
          observationPerStep: r.observationPerStep,
          secondsPerStep: r.secondsPerStep,
        },
        costUsd: r.costUsd!,
      })),
    ...(ctps !== undefined ? { completionTokensPerSecond: ctps } : {}),
    ...(ptps !== undefined ? { promptTokensPerSecond: ptps } : {}),
    ...(share !== undefined ? { cachedShare: share } : {}),
    ...(measured.length
      ? { measuredOn: new Date(Math.max(...measured.map((r) => r.at ?? 0))).toISOString().slice(0, 10) }
      : {}),
  };
}
