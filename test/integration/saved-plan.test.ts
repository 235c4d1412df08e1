import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/adapters/config/load.js";
import { AuditLog } from "../../src/adapters/store/audit.js";
import { Ledger } from "../../src/adapters/store/ledger.js";
import { bucketsFor } from "../../src/app/buckets.js";
import { planHashOf, planTask } from "../../src/app/plan-task.js";
import { approve, staleness } from "../../src/app/saved-plan.js";
import { ROOT, gitRepo, tempHome } from "../helpers/cli.js";

const YAML = `tiers:
  standard:
    endpoints: [{ id: hosted, baseURL: "http://127.0.0.1:1/v1", model: gpt-4.1-mini }]
budgets:
  - { scope: team, period: month, limit: 5 }
`;

async function setup() {
  const { dir, env } = tempHome();
  const repo = gitRepo(dir, "repo", { "a.txt": "a\n" });
  writeFileSync(join(repo, "lanes.yaml"), YAML);
  const load = () => loadConfig({ repo, env });
  const ledger = Ledger.open(join(dir, "ledger.db"));
  const who = { user: "ana", team: "core", project: "repo" };
  const plan = await planTask({ config: load().config, root: repo, task: "fix it", lane: "eval", who, ledger });
  return { repo, env, dir, load, ledger, who, plan };
}

describe("saved plans", () => {
  it("an approved, signed plan verifies while nothing changed", async () => {
    const s = await setup();
    const approved = approve(s.plan, "ana", "yes", "key-1");
    expect(await staleness(approved, { config: s.load().config, root: s.repo, ledger: s.ledger, key: "key-1" })).toEqual([]);
  });

  it("detects each cause of staleness", async () => {
    const s = await setup();
    const approved = approve(s.plan, "ana", "yes", "key-1");
    const check = (p = approved, key: string | null = "key-1", config = s.load().config) => staleness(p, { config, root: s.repo, ledger: s.ledger, key: key ?? undefined });

    const edited = { ...approved, cost: { ...approved.cost, capUsd: 999 } };
    expect(await check(edited)).toContain("the plan file was changed after it was made (its hash does not match)");
    expect(await check(approved, "another-key")).toContain("the approval signature is invalid for this key");
    expect(await check(approve(s.plan, "ana", "yes", undefined))).toContain("the plan is not signed, and LANES_APPROVAL_KEY requires a signature");
    expect(await check(approved, null)).toContain("the plan is signed but LANES_APPROVAL_KEY is not set here, so the signature cannot be checked");

    const older = { ...s.plan, inputs: { ...s.plan.inputs, priceVersion: "2024-01-01" } };
    const olderSigned = approve({ ...older, planHash: planHashOf(older) }, "ana", "yes", "key-1");
    expect((await check(olderSigned)).join()).toContain("the price table changed (2024-01-01 →");

    writeFileSync(join(s.repo, "lanes.yaml"), YAML.replace("limit: 5", "limit: 6"));
    expect(await check()).toContain("the policy changed (lanes.yaml, user settings or environment)");
    writeFileSync(join(s.repo, "lanes.yaml"), YAML);

    const [bucket] = bucketsFor(s.load().config, s.who, new Date(), "eval");
    s.ledger.reserve({ runId: "other", lane: "eval", buckets: [bucket!], caps: { usd: 4 }, ttlMs: 60_000 });
    expect((await check()).join()).toMatch(/the quota no longer fits: team:core:month:\S+ has 1\.00 left of 5, the run holds 2/);

    spawnSync("git", ["-C", s.repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "move"]);
    expect((await check()).join()).toMatch(/the repository HEAD changed \([0-9a-f]{10} → [0-9a-f]{10}\)/);
  });
});

describe("audit trail under concurrent writers", () => {
  it("4 processes x 25 appends never interleave, and the chain verifies", async () => {
    const path = join(tempHome().dir, "audit.jsonl");
    const worker = join(ROOT, "test/helpers/audit-worker.mjs");
    await Promise.all(
      Array.from({ length: 4 }, () => new Promise((resolve, reject) => spawn(process.execPath, [worker, path, "25"], { stdio: "inherit" }).on("exit", (c) => (c === 0 ? resolve(c) : reject(new Error(`exit ${c}`)))))),
    );
    const log = new AuditLog(path);
    expect(log.verify()).toEqual({ ok: true, records: 100 });
    expect(log.read().map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  }, 60_000);
});
