/**
 * Quota buckets: `scope:id:period`, with the period's instance in the key (2026-11, 2026-W47,
 * 2026-11-22) so a new period is simply a new bucket and nothing needs a reset job.
 */
export type Scope = "user" | "team" | "project" | "lane" | "global";
export type Period = "day" | "week" | "month";
export type Unit = "usd" | "gpu_seconds" | "sandbox_seconds";

export interface BucketSpec {
  key: string;
  scope: Scope;
  id: string;
  period: Period;
  unit: Unit;
  limit: number;
  kind: "soft" | "hard";
  resetsAt: string;
}

export interface BucketStatus {
  key: string;
  unit: Unit;
  used: number;
  held: number;
  limit: number;
  kind: "soft" | "hard";
  resetsAt: string;
}

export type QuotaLevel = "ok" | "warn" | "ask" | "over";

/** The period instance containing `now` (UTC) and when the next one starts. */
export function periodOf(period: Period, now: Date): { id: string; resetsAt: Date } {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  if (period === "month") return { id: `${y}-${pad(m + 1)}`, resetsAt: new Date(Date.UTC(y, m + 1, 1)) };
  if (period === "day") return { id: `${y}-${pad(m + 1)}-${pad(d)}`, resetsAt: new Date(Date.UTC(y, m, d + 1)) };
  // ISO week: Monday-based; the week belongs to the year of its Thursday.
  const day = (now.getUTCDay() + 6) % 7;
  const monday = Date.UTC(y, m, d - day);
  const thursday = new Date(monday + 3 * 86_400_000);
  const jan4 = Date.UTC(thursday.getUTCFullYear(), 0, 4);
  const week =
    1 + Math.round((monday - (jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * 86_400_000)) / (7 * 86_400_000));
  return { id: `${thursday.getUTCFullYear()}-W${pad(week)}`, resetsAt: new Date(monday + 7 * 86_400_000) };
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

export function bucketKey(scope: Scope, id: string, period: Period, periodId: string, unit: Unit): string {
  return `${scope}:${id}:${period}:${periodId}${unit === "usd" ? "" : `:${unit}`}`;
}

/** How full a bucket is, counting what is held for running work. */
export function levelOf(
  used: number,
  held: number,
  limit: number,
  rules: { warnAt: number; askAt: number },
): QuotaLevel {
  if (limit <= 0) return used + held > 0 ? "over" : "ok";
  const f = (used + held) / limit;
  if (f > 1) return "over";
  if (f >= rules.askAt) return "ask";
  if (f >= rules.warnAt) return "warn";
  return "ok";
}
