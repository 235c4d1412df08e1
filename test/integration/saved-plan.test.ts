import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/adapters/config/load.js";
import { AuditLog } from "../../src/adapters/store/audit.js";
import { Ledger } from "../../src/adapters/store/ledger.js";
import { adapters } from "../../src/cli/compose.js";
import { planHashOf, planTask } from "../../src/app/plan-task.js";
import { staleness } from "../../src/app/saved-plan.js";
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
  const plan = (exclude: string[] = []) =>
    planTask({ config: load().config, root: repo, task: "fix it", lane: "eval", who, ledger, adapters, exclude });
  return { repo, dir, plan };
}

describe("saved plans", () => {
  it("the same plan made again is fresh", async () => {
    const s = await setup();
    expect(staleness(await s.plan(), await s.plan())).toEqual([]);
  });

  it("names each cause of staleness", async () => {
    const s = await setup();
    const saved = await s.plan();
    expect(staleness({ ...saved, cost: { ...saved.cost, capUsd: 999 } }, saved)).toContain(
      "the plan file was changed after it was made (its hash does not match)",
    );
    expect(staleness(saved, { ...saved, inputs: { ...saved.inputs, priceVersion: "2099-01-01" } }).join()).toContain(
      "the price table changed",
    );
    expect(staleness(saved, { ...saved, endpoint: { ...saved.endpoint, model: "gpt-5" } }).join()).toContain(
      "the endpoint changed",
    );
    expect(staleness(saved, { ...saved, cost: { ...saved.cost, class: "C3" } })).toContain(
      `the cost class rose from ${saved.cost.class} to C3`,
    );

    writeFileSync(join(s.repo, "lanes.yaml"), YAML.replace("limit: 5", "limit: 6"));
    expect(staleness(saved, await s.plan())).toEqual([
      "the repository's content changed since the plan was made",
      "the policy changed (org policy, lanes.yaml, user settings or environment)",
    ]);
  });

  it("an approval covers the sandbox it saw: setup egress a runner without the cache adds makes it stale", async () => {
    const s = await setup();
    // The lane gets a setup whose dependency cache is not on this host: it needs registry egress.
    writeFileSync(
      join(s.repo, "lanes.yaml"),
      `${YAML}lanes:\n  eval:\n    setup: { commands: ["npm ci"], key: [package-lock.json] }\n`,
    );
    const fresh = await s.plan();
    expect(fresh.sandbox.relaxations).toContainEqual(
      expect.objectContaining({ field: "network", value: "allowlist (during the setup only)" }),
    );
    // What the approver saw on a machine that had the cache: no egress, no relaxation.
    const body = { ...fresh, sandbox: { ...fresh.sandbox, relaxations: [], egress: undefined } };
    const approved = { ...body, planHash: planHashOf(body) };
    const causes = staleness(approved, fresh);
    expect(causes).toContain("relaxations nobody approved: network: allowlist (during the setup only)");
    expect(causes.join()).toMatch(/egress changed \(none → /);
    expect(staleness({ ...approved, sandbox: { ...approved.sandbox, image: "other:1" } }, fresh).join()).toContain(
      "the sandbox's image changed (other:1 → lanes-sandbox:latest)",
    );
  });

  it("the tree pin leaves out the plan file itself", async () => {
    const s = await setup();
    const saved = await s.plan(["plan.json"]);
    writeFileSync(join(s.repo, "plan.json"), JSON.stringify(saved));
    expect(staleness(saved, await s.plan(["plan.json"]))).toEqual([]);
    expect(staleness(saved, await s.plan())).toContain("the repository's content changed since the plan was made");
  });
});

describe("estimate history", () => {
  it("is looked up per tier: runs on another tier of the lane never shape this tier's estimate", async () => {
    const s = await setup();
    const ledger = Ledger.open(join(s.dir, "ledger.db"));
    const row = (tier: string) => ({
      lane: "eval",
      template: "adhoc",
      tier,
      steps: 3,
      completionPerStep: 100,
      observationPerStep: 100,
      secondsPerStep: 2,
      costUsd: 0.01,
    });
    for (let i = 0; i < 3; i++) ledger.historyStore.add(row("premium"));
    expect((await s.plan()).cost.assumptions.join()).toContain("no history yet (0 earlier runs)");
    for (let i = 0; i < 3; i++) ledger.historyStore.add(row("standard"));
    expect((await s.plan()).cost.assumptions.join()).toContain("from 3 earlier runs");
    ledger.close();
  });
});

describe("audit trail under concurrent writers", () => {
  it("4 processes x 25 appends never interleave, the chain verifies and the anchor is the last record", async () => {
    const { dir } = tempHome();
    const path = join(dir, "audit.jsonl");
    const db = join(dir, "ledger.db");
    const worker = join(ROOT, "test/helpers/audit-worker.mjs");
    const exit = () =>
      new Promise((resolve, reject) =>
        spawn(process.execPath, [worker, path, db, "25"], { stdio: "inherit" }).on("exit", (c) =>
          c === 0 ? resolve(c) : reject(new Error(`exit ${c}`)),
        ),
      );
    await Promise.all(Array.from({ length: 4 }, exit));
    const ledger = Ledger.open(db);
    const log = new AuditLog(path, ledger);
    expect(log.verify()).toMatchObject({ ok: true, records: 100, anchored: { seq: 100 } });
    expect(log.read().map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    ledger.close();
  }, 60_000);
});
