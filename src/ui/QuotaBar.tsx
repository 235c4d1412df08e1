/**
 * One quota bucket: used, held by others, this run's p90, against the limit. Its colour is the
 * bucket's level, which the plan computed with the configured rules.quota thresholds (warnAt,
 * askAt): green ok, yellow warn, red ask or over.
 */
import { Text } from "ink";
import type { Plan } from "../app/plan-task.js";
import { amount } from "../report/plan-text.js";

export function QuotaBar({ q, width = 24 }: { q: Plan["quota"][number]; width?: number }) {
  const lim = q.limit > 0 ? q.limit : 1;
  const cells = (n: number) => Math.max(0, Math.min(width, Math.round((n / lim) * width)));
  const used = cells(q.used);
  const held = Math.min(width - used, cells(q.held));
  const run = Math.min(width - used - held, Math.max(q.projected > 0 ? 1 : 0, cells(q.projected)));
  const free = width - used - held - run;
  const f = (q.used + q.held) / lim;
  const color = q.level === "ok" ? "green" : q.level === "warn" ? "yellow" : "red";
  const resets = new Date(q.resetsAt).getTime() - Date.now();
  return (
    <Text>
      <Text>{fit(q.bucket, 30)} </Text>
      <Text color={color}>{"█".repeat(used)}</Text>
      <Text color={color} dimColor>
        {"▓".repeat(held)}
      </Text>
      <Text color="cyan">{"▒".repeat(run)}</Text>
      <Text dimColor>{"░".repeat(free)}</Text>
      <Text color={color}> {Math.round(f * 100)}%</Text>
      <Text dimColor>
        {" "}
        {amount(q.used, q.unit)} used · {amount(q.held, q.unit)} held · +{amount(q.projected, q.unit)} this run · limit{" "}
        {amount(q.limit, q.unit)} {q.kind} · resets in {humanize(resets)}
      </Text>
    </Text>
  );
}

/** A bucket id in `width` columns: a long one (an e-mail identity) is cut in the middle, never wrapped. */
export function fit(id: string, width: number): string {
  if (id.length <= width) return id.padEnd(width);
  const head = Math.ceil((width - 1) / 2);
  return `${id.slice(0, head)}…${id.slice(id.length - (width - 1 - head))}`;
}

export function humanize(ms: number): string {
  if (ms <= 0) return "now";
  const h = ms / 3_600_000;
  return h >= 48 ? `${Math.round(h / 24)}d` : h >= 1 ? `${Math.round(h)}h` : `${Math.max(1, Math.round(ms / 60_000))}m`;
}
