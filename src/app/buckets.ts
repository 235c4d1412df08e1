/** The quota buckets a run of a lane touches, from the `budgets:` configuration. */
import type { Config } from "../adapters/config/schema.js";
import { bucketKey, periodOf, type BucketSpec } from "../core/quota.js";
import type { Identity } from "./identity.js";

/** Every configured bucket for this identity; with `lane`, only those a run of that lane touches. */
export function bucketsFor(config: Config, who: Identity, now: Date, lane?: string): BucketSpec[] {
  const out: BucketSpec[] = [];
  for (const b of config.budgets) {
    let id: string;
    if (b.scope === "user") id = b.id ?? who.user;
    else if (b.scope === "team") id = b.id ?? who.team;
    else if (b.scope === "project") id = b.id ?? who.project;
    else if (b.scope === "global") id = b.id ?? "all";
    else {
      if (lane && b.id && b.id !== lane) continue; // another lane's bucket
      id = b.id ?? lane ?? "*";
      if (id === "*") continue;
    }
    if (
      b.scope !== "lane" &&
      b.id &&
      lane &&
      ((b.scope === "user" && b.id !== who.user) ||
        (b.scope === "team" && b.id !== who.team) ||
        (b.scope === "project" && b.id !== who.project))
    )
      continue;
    const p = periodOf(b.period, now);
    out.push({
      key: bucketKey(b.scope, id, b.period, p.id, b.unit),
      scope: b.scope,
      id,
      period: b.period,
      unit: b.unit,
      limit: b.limit,
      kind: b.kind,
      resetsAt: p.resetsAt.toISOString(),
    });
  }
  return out;
}
