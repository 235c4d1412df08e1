import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Ledger } from "../../src/adapters/store/ledger.js";
import type { BucketSpec } from "../../src/core/quota.js";
import { tempHome } from "../helpers/cli.js";
import { raceWorker } from "../helpers/ledger-race.js";
import { freshDb } from "../helpers/pg.js";
import { SqliteDb } from "../../src/adapters/store/sqlite.js";
import { MIGRATIONS } from "../../src/adapters/store/ledger-schema.js";
import { PgDb } from "../../src/adapters/store/pg-db.js";
import { PG_MIGRATIONS } from "../../src/adapters/store/pg-schema.js";

const bucket = (o: Partial<BucketSpec> = {}): BucketSpec => ({
  key: "team:t:month:2026-11",
  scope: "team",
  id: "t",
  period: "month",
  unit: "usd",
  limit: 10,
  kind: "hard",
  resetsAt: "2026-12-01T00:00:00.000Z",
  ...o,
});

// The same suite against both stores: a SQLite file, and a fresh database on a real PostgreSQL.
describe.each(["sqlite", "postgres"] as const)("ledger reservations (%s)", (kind) => {
  const where = async () => (kind === "sqlite" ? join(tempHome().dir, "ledger.db") : await freshDb());
  const fresh = async () => Ledger.openAt(await where());

  it("8 processes x 50 concurrent reservations (on a ledger they create together, from two homes) never exceed the bucket's limit, and charges reconcile", async () => {
    const path = await where(); // new: the 8 processes also race to create (migrate) it
    const homes = [tempHome().dir, tempHome().dir]; // two simulated machines
    const runs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => raceWorker(path, { n: 50, amount: 0.5, limit: 10, home: homes[i % 2]! })),
    );
    const reserved = runs.reduce((n, r) => n + r.reserved, 0);
    const charged = runs.reduce((n, r) => n + r.charged, 0);
    expect(runs.reduce((n, r) => n + r.reserved + r.denied, 0)).toBe(400);
    expect(reserved).toBe(20); // exactly what $10 pays at $0.50 each: never one more
    const ledger = await Ledger.openAt(path);
    const [s] = ledger.status([bucket({ key: "team:race:month:2026-11" })]);
    expect(s!.used).toBeCloseTo(10, 9);
    expect(s!.held).toBeCloseTo(0, 9);
    expect(ledger.totalCharged()).toBeCloseTo(charged, 9);
    ledger.close();
  }, 120_000);

  it("denies a reservation that would cross a hard limit, naming the bucket, and holds nothing", async () => {
    const l = await fresh();
    l.reserve({ runId: "a", lane: "x", buckets: [bucket()], caps: { usd: 8 }, ttlMs: 60_000 });
    expect(() =>
      l.reserve({
        runId: "b",
        lane: "x",
        buckets: [bucket(), bucket({ key: "user:u:day:2026-11-22", limit: 100 })],
        caps: { usd: 3 },
        ttlMs: 60_000,
      }),
    ).toThrow(
      /quota team:t:month:2026-11 cannot hold this run: used \$0\.00 \+ held \$8\.00 \+ this run's cap \$3\.00 > limit \$10\.00/,
    );
    expect(l.status([bucket({ key: "user:u:day:2026-11-22", limit: 100 })])[0]!.held).toBe(0); // all or nothing
  });

  it("a settled hold's unspent cap is free for the next reservation at once, and status is exact throughout", async () => {
    const l = await fresh();
    const a = l.reserve({ runId: "a", lane: "x", buckets: [bucket()], caps: { usd: 8 }, ttlMs: 60_000 });
    l.charge(a.id, "usd", 1);
    expect(l.status([bucket()])[0]).toMatchObject({ used: 1, held: 7 }); // an open hold's charge is used
    l.settle(a.id);
    expect(l.status([bucket()])[0]).toMatchObject({ used: 1, held: 0 });
    const b = l.reserve({ runId: "b", lane: "x", buckets: [bucket()], caps: { usd: 9 }, ttlMs: 60_000 });
    l.charge(b.id, "usd", 2);
    l.refund(b.id, "usd", 0.5);
    expect(l.status([bucket()])[0]).toMatchObject({ used: 2.5, held: 7.5 });
    expect(l.chargedOn(b.id)).toBeCloseTo(1.5, 12); // the sum of its charge rows
    expect(l.chargedOn(a.id) + l.chargedOn(b.id)).toBeCloseTo(l.totalCharged(), 12);
    expect(() => l.reserve({ runId: "c", lane: "x", buckets: [bucket()], caps: { usd: 0.5 }, ttlMs: 60_000 })).toThrow(
      /used \$2\.50 \+ held \$7\.50 \+ this run's cap \$0\.50 > limit \$10\.00/,
    );
  });

  it("a reservation refused by a later bucket takes back what it held in the earlier ones", async () => {
    const l = await fresh();
    const lane = bucket({ key: "lane:x:day:2026-11-22", limit: 100 }); // sorts before team:…
    l.reserve({ runId: "a", lane: "x", buckets: [bucket()], caps: { usd: 8 }, ttlMs: 60_000 });
    expect(() =>
      l.reserve({ runId: "b", lane: "x", buckets: [lane, bucket()], caps: { usd: 3 }, ttlMs: 60_000 }),
    ).toThrow(/quota team:t:month:2026-11 cannot hold this run/);
    expect(l.status([lane])[0]).toMatchObject({ used: 0, held: 0 });
    expect(() =>
      l.reserve({ runId: "c", lane: "x", buckets: [bucket({ key: "team:new" })], caps: { usd: 11 }, ttlMs: 60_000 }),
    ).toThrow(/quota team:new cannot hold this run: used \$0\.00 \+ held \$0\.00 \+ this run's cap \$11\.00/);
    expect(l.status([bucket({ key: "team:new" })])[0]).toMatchObject({ used: 0, held: 0 });
    expect(l.running("x")).toBe(1); // the refused holds are gone
  });

  it("a ledger from before holds kept their charges migrates with the same totals", async () => {
    // As the earlier functions left it: open hold a charged $1 (moved into used), hold b settled
    // at $2; the bucket shows used $3, held $7.
    const at = await where();
    const old =
      kind === "sqlite" ? SqliteDb.open(at, MIGRATIONS.slice(0, 9)) : PgDb.open(at, PG_MIGRATIONS.slice(0, 3));
    const k = bucket().key;
    old
      .sql("INSERT INTO buckets (key, unit, lim, kind, resets_at, used, held) VALUES (?, 'usd', 10, 'hard', 'x', 3, 7)")
      .run(k);
    for (const [id, status, cap, charged] of [
      ["a", "open", 8, 1],
      ["b", "settled", 5, 2],
    ] as const) {
      old
        .sql("INSERT INTO holds (id, run_id, lane, created_at, expires_at, status) VALUES (?, ?, 'x', 0, ?, ?)")
        .run(id, id, Date.now() + 60_000, status);
      old.sql("INSERT INTO hold_caps (hold_id, unit, cap, charged) VALUES (?, 'usd', ?, ?)").run(id, cap, charged);
      old
        .sql("INSERT INTO hold_buckets (hold_id, bucket_key, unit, reserved, charged) VALUES (?, ?, 'usd', ?, ?)")
        .run(id, k, cap, charged);
    }
    old.close();
    const l = await Ledger.openAt(at);
    expect(l.status([bucket()])[0]).toMatchObject({ used: 3, held: 7 });
    l.charge("a", "usd", 1);
    expect(l.status([bucket()])[0]).toMatchObject({ used: 4, held: 6 });
    l.settle("a");
    expect(l.status([bucket()])[0]).toMatchObject({ used: 4, held: 0 });
    l.reserve({ runId: "c", lane: "x", buckets: [bucket()], caps: { usd: 6 }, ttlMs: 60_000 }); // exactly fits
    expect(l.status([bucket()])[0]).toMatchObject({ used: 4, held: 6 });
    l.close();
  });

  it("lets a soft bucket hold past its limit (policy asks instead)", async () => {
    const l = await fresh();
    l.reserve({ runId: "a", lane: "x", buckets: [bucket({ kind: "soft" })], caps: { usd: 12 }, ttlMs: 60_000 });
    expect(l.status([bucket()])[0]!.held).toBe(12);
  });

  it("refuses a charge past the hold and charges nothing", async () => {
    const l = await fresh();
    const h = l.reserve({ runId: "a", lane: "x", buckets: [bucket()], caps: { usd: 1 }, ttlMs: 60_000 });
    l.charge(h.id, "usd", 0.75);
    expect(() => l.charge(h.id, "usd", 0.5)).toThrow(/hold has 0\.250000 usd left/);
    expect(l.hold(h.id).charged.usd).toBeCloseTo(0.75, 12);
  });

  it("settles to what was charged, and settling twice is settling once", async () => {
    const l = await fresh();
    const h = l.reserve({ runId: "a", lane: "x", buckets: [bucket()], caps: { usd: 2 }, ttlMs: 60_000 });
    l.charge(h.id, "usd", 0.5);
    const first = l.settle(h.id);
    const second = l.settle(h.id);
    expect(second).toEqual(first);
    expect(first.status).toBe("settled");
    expect(l.status([bucket()])[0]).toMatchObject({ used: 0.5, held: 0 });
    expect(() => l.charge(h.id, "usd", 0.1)).toThrow(/settled/);
  });

  it("charges an expired hold at its worst case, never releasing it to zero", async () => {
    const l = await fresh();
    const h = l.reserve({ runId: "a", lane: "x", buckets: [bucket()], caps: { usd: 2 }, ttlMs: 1 });
    l.charge(h.id, "usd", 0.5);
    expect(l.expire(Date.now() + 10)).toBe(1);
    expect(l.hold(h.id)).toMatchObject({ status: "expired", charged: { usd: 2 } });
    expect(l.status([bucket()])[0]).toMatchObject({ used: 2, held: 0 });
    expect(l.settle(h.id).status).toBe("expired");
  });

  it("counts a lane's open holds as its runs in flight", async () => {
    const l = await fresh();
    const a = l.reserve({ runId: "a", lane: "async", buckets: [bucket()], caps: { usd: 1 }, ttlMs: 60_000 });
    l.reserve({ runId: "b", lane: "async", buckets: [bucket()], caps: { usd: 1 }, ttlMs: 60_000 });
    expect(l.running("async")).toBe(2);
    l.settle(a.id);
    expect(l.running("async")).toBe(1);
    expect(l.running("eval")).toBe(0);
  });

  it("keeps history of actuals per lane and task template", async () => {
    const l = await fresh();
    for (let i = 1; i <= 4; i++)
      l.historyStore.add({
        lane: "async",
        template: "fix",
        tier: "local",
        steps: i,
        completionPerStep: 100 * i,
        observationPerStep: 50,
        secondsPerStep: 2,
        costUsd: 0.01 * i,
      });
    l.historyStore.add({
      lane: "eval",
      template: "fix",
      tier: "local",
      steps: 99,
      completionPerStep: 1,
      observationPerStep: 1,
      secondsPerStep: 1,
      costUsd: 0,
    });
    const h = l.historyStore.recent({ lane: "async", template: "fix" });
    expect(h.map((r) => r.steps)).toEqual([4, 3, 2, 1]);
  });
});

describe("the SQLite ledger file", () => {
  it("says clearly when the file is not a database, and leaves it alone", () => {
    const path = join(tempHome().dir, "ledger.db");
    writeFileSync(path, "this is not sqlite, it is someone's notes ".repeat(200));
    expect(() => Ledger.open(path)).toThrow(/ledger at .* is not a readable SQLite database/);
  });
});
