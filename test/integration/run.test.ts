import { spawn } from "node:child_process";
import { hostname } from "node:os";
import { readFileSync, writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { BIN, lanes } from "../helpers/cli.js";
import { requireImage } from "../helpers/docker.js";
import { eventsFor, labelled } from "../helpers/sandbox.js";
import { DEMO, LANES, demoProject, events, serveReplay, stopReplays } from "../helpers/run.js";

beforeAll(() => requireImage());
afterEach(stopReplays);
const TASK = "Make the failing test pass";
const run = (p: ReturnType<typeof demoProject>, extra: string[] = []) =>
  lanes(["run", TASK, "--lane", "t", "--endpoint", `replay:${p.script}`, "--json", ...extra], {
    cwd: p.repo,
    env: p.env,
    timeoutMs: 120_000,
  });

/**
 * The script served in its own process and configured as the lane's hosted endpoint, billed as a
 * real API is (a `replay:` endpoint is free); returns the run's arguments.
 */
async function billed(p: ReturnType<typeof demoProject>, extra: string[] = []): Promise<string[]> {
  const url = await serveReplay(p.env, p.script);
  const model = /^model: (.+)$/m.exec(readFileSync(p.script, "utf8"))?.[1] ?? "gpt-4.1-mini";
  const json = JSON.stringify(JSON.parse(readFileSync(p.settings, "utf8")))
    .replace("http://127.0.0.1:1/v1", url)
    .replace('"model":"gpt-4.1-mini"', `"model":"${model}"`);
  writeFileSync(p.settings, json);
  return ["run", TASK, "--lane", "t", "--json", ...extra];
}
const historyRows = (p: ReturnType<typeof demoProject>) => {
  const db = new Database(join(p.env.LANES_HOME!, "ledger.db"), { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM history").get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe("lanes run", () => {
  it("fixes the sample with the recorded fix: check passes in the sandbox, --apply changes exactly those lines", async () => {
    const p = demoProject(LANES("budgets:\n  - { scope: team, period: month, limit: 10 }\n"));
    const r = await run(p, ["--apply"]);
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r.stdout);
    const end = ev.at(-1)!;
    expect(end).toMatchObject({ type: "run_end", status: "finished", check: "passed", steps: 5 });
    // A replay is a rehearsal: $0 in the quota, and nothing learned from it.
    expect(end.cost.actualUsd).toBe(0);
    const q = JSON.parse((await lanes(["quota", "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(q.buckets[0]).toMatchObject({ used: 0, held: 0 });
    expect(historyRows(p)).toBe(0);
    expect(ev.find((e) => e.type === "check")).toMatchObject({ command: "node --test", passed: true });
    const patch = readFileSync(end.patch, "utf8");
    expect(patch).toContain("-  return a - b;\n+  return a + b;\n");
    expect(p.git("diff").stdout).toBe(patch);
    expect(readFileSync(join(p.repo, "test/add.test.js"), "utf8")).toContain("assert.equal(add(2, 3), 5)"); // the test is untouched
    const show = JSON.parse((await lanes(["runs", "show", end.runId, "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(show.cost.actualUsd).toBeCloseTo(show.cost.ledgerUsd, 12); // runs show totals equal the ledger's
    expect(show.toolCalls).toEqual({ bash: 2, read_file: 1, edit_file: 1, finish: 1 });
    const audit = JSON.parse((await lanes(["audit", "ls", "--json"], { cwd: p.repo, env: p.env })).stdout).map(
      (a: { action: string }) => a.action,
    );
    expect(audit).toEqual(["plan", "reserve", "settle"]);
  });

  it("replays a recorded run's trajectory (--endpoint replay:trajectory.json) to the same patch", async () => {
    const p = demoProject(LANES());
    const first = events((await run(p)).stdout).at(-1)!;
    const again = await lanes(
      [
        "run",
        TASK,
        "--lane",
        "t",
        "--endpoint",
        `replay:${join(p.env.LANES_HOME!, "runs", first.runId, "trajectory.json")}`,
        "--json",
        "--record-history",
      ],
      { cwd: p.repo, env: p.env, timeoutMs: 120_000 },
    );
    expect(again.code, again.stderr).toBe(0);
    expect(historyRows(p)).toBe(1); // asked for: this replay teaches the estimator
    const second = events(again.stdout).at(-1)!;
    expect(second.runId).not.toBe(first.runId);
    expect(readFileSync(second.patch, "utf8")).toBe(readFileSync(first.patch, "utf8"));
  });

  it("commits the patch on a new branch with --branch, leaving the working tree alone", async () => {
    const p = demoProject(LANES());
    const r = await run(p, ["--branch", "lanes/fix-add"]);
    expect(r.code, r.stderr).toBe(0);
    expect(p.git("status", "--porcelain").stdout).toBe("");
    expect(p.git("show", "lanes/fix-add:src/add.js").stdout).toContain("return a + b;");
  });

  it("stops a model that keeps calling with budget_exhausted (exit 4); charges never exceed the cap", async () => {
    const p = demoProject(
      LANES().replace("capUsd: 0.25", "capUsd: 0.002"),
      "model: gpt-4.1-mini\nrepeatLast: true\nturns:\n  - tools: [{ bash: { command: 'echo $RANDOM' } }]\n    usage: { prompt_tokens: 900, completion_tokens: 300 }\n",
    );
    const r = await lanes(await billed(p), { cwd: p.repo, env: p.env, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(4);
    const end = events(r.stdout).at(-1)!;
    expect(end.status).toBe("budget_exhausted");
    expect(end.cost.actualUsd).toBeLessThanOrEqual(0.002);
    const show = JSON.parse((await lanes(["runs", "show", end.runId, "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(show.cost.ledgerUsd).toBeLessThanOrEqual(0.002 + 1e-12);
    const q = JSON.parse((await lanes(["quota", "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(q.buckets).toEqual([]); // no budgets configured here: nothing else to check
  });

  it("warns at 3 identical actions and stops at 5 with loop_detected (exit 1)", async () => {
    const p = demoProject(
      LANES(),
      "model: gpt-4.1-mini\nrepeatLast: true\nturns:\n  - tools: [{ bash: { command: ls } }]\n",
    );
    const r = await run(p);
    expect(r.code).toBe(1);
    const end = events(r.stdout).at(-1)!;
    expect(end.status).toBe("loop_detected");
    const t = JSON.parse(readFileSync(join(p.env.LANES_HOME!, "runs", end.runId, "trajectory.json"), "utf8"));
    const obs = t.trajectory
      .filter((e: { kind: string }) => e.kind === "tool")
      .map((e: { data: { observation: string } }) => e.data.observation);
    expect(obs).toHaveLength(4);
    expect(obs[1]).not.toContain("exact bash call");
    expect(obs[2]).toContain("you have made this exact bash call 3 times");
  });

  it("stops at the lane's step limit (exit 1)", async () => {
    const p = demoProject(
      LANES().replace("steps: 12", "steps: 3"),
      "model: gpt-4.1-mini\nturns:\n  - tools: [{ bash: { command: 'echo 1' } }]\n  - tools: [{ bash: { command: 'echo 2' } }]\n  - tools: [{ bash: { command: 'echo 3' } }]\n  - tools: [{ bash: { command: 'echo 4' } }]\n",
    );
    const r = await run(p);
    expect(r.code).toBe(1);
    expect(events(r.stdout).at(-1)).toMatchObject({ status: "step_limit", steps: 3 });
  });

  it("enforces the per-command time limit inside the sandbox and tells the model", async () => {
    const p = demoProject(
      LANES().replace("commandTimeout: 30s", "commandTimeout: 1s"),
      "model: gpt-4.1-mini\nturns:\n  - tools: [{ bash: { command: 'sleep 30' } }]\n  - tools: [{ finish: { summary: gave up } }]\n",
    );
    const t0 = Date.now();
    const r = await run(p);
    expect(Date.now() - t0).toBeLessThan(25_000);
    const end = events(r.stdout).at(-1)!;
    const t = JSON.parse(readFileSync(join(p.env.LANES_HOME!, "runs", end.runId, "trajectory.json"), "utf8"));
    expect(t.trajectory.find((e: { kind: string }) => e.kind === "tool").data.observation).toContain(
      "exit code: 124 (stopped after the 1 s time limit)",
    );
    expect(r.code).toBe(1); // finished, but the check fails: the bug is still there
    expect(end.check).toBe("failed");
  });

  it("in CI, an ask lane exits 3 before any sandbox starts", async () => {
    const p = demoProject(LANES().replace("approval: { mode: auto, autoApproveUpTo: C2 }", "approval: { mode: ask }"));
    const t0 = Date.now();
    const r = await lanes(["run", TASK, "--lane", "t", "--endpoint", `replay:${p.script}`], {
      cwd: p.repo,
      env: { ...p.env, CI: "true" },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("approval needed (approval.ask)");
    expect(r.stderr).toContain("pass --yes");
    // Scoped to this process's own sandboxes (other tests' may run on the same engine).
    expect(eventsFor(`dev.lanes.owner=${hostname()}:${r.pid}`, t0)).toEqual([]);
    const audit = JSON.parse((await lanes(["audit", "ls", "--json"], { cwd: p.repo, env: p.env })).stdout).map(
      (a: { action: string }) => a.action,
    );
    expect(audit).toEqual(["plan", "deny"]); // no reserve: nothing was held or started
  });

  it("a failing attempt on the first tier proposes the next one and, without approval in CI, stops with exit 3 and the reason", async () => {
    const p = demoProject(
      LANES("", "standard, premium"),
      "model: gpt-4.1-mini\nturns:\n  - tools: [{ finish: { summary: 'did nothing' } }]\n",
    );
    const r = await run(p);
    expect(r.code).toBe(3);
    const ev = events(r.stdout);
    expect(ev.find((e) => e.type === "escalation")).toMatchObject({
      from: "standard",
      to: "premium",
      reason: "the check `node --test` failed on standard",
    });
    expect(ev.find((e) => e.type === "decision" && e.stage === "escalation")).toMatchObject({ tier: "premium" });
    expect(r.stderr).toContain("escalating to premium");
    expect(r.stderr).toContain("needs approval");
  });

  it("on SIGINT mid-run exits 130, leaves no container, and settles the hold", async () => {
    const p = demoProject(
      LANES("budgets:\n  - { scope: team, period: month, limit: 10 }\n"),
      "model: gpt-4.1-mini\nturns:\n  - tools: [{ bash: { command: 'sleep 60' } }]\n",
    );
    const child = spawn(process.execPath, [BIN, ...(await billed(p))], {
      cwd: p.repo,
      env: p.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const owner = `dev.lanes.owner=${hostname()}:${child.pid}`;
    for (let i = 0; i < 200 && !out.includes('"tool_start"'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('"tool_start"');
    child.kill("SIGINT");
    const code = await new Promise((r) => child.on("exit", r));
    expect(code).toBe(130);
    expect(labelled(owner)).toEqual({ containers: [], volumes: [] });
    const q = JSON.parse((await lanes(["quota", "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(q.buckets[0].held).toBe(0);
    expect(q.buckets[0].used).toBeGreaterThan(0); // the first call was paid for
  }, 60_000);

  it("delays while the lane is full: exits 4 at once without --wait, and waits it out with --wait", async () => {
    const slow =
      "model: gpt-4.1-mini\nturns:\n  - tools: [{ bash: { command: 'sleep 4' } }]\n  - tools: [{ finish: { summary: slept } }]\n";
    const p = demoProject(LANES().replace("    check: node --test\n", "    concurrency: 1\n"), slow);
    const first = spawn(
      process.execPath,
      [BIN, "run", TASK, "--lane", "t", "--endpoint", `replay:${p.script}`, "--json"],
      { cwd: p.repo, env: p.env, stdio: ["ignore", "pipe", "pipe"] },
    );
    const firstExit = new Promise((r) => first.on("exit", r));
    let out = "";
    first.stdout.on("data", (d) => (out += d));
    for (let i = 0; i < 200 && !out.includes('"tool_start"'); i++) await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const now = await lanes(["run", TASK, "--lane", "t", "--endpoint", `replay:${p.script}`], {
      cwd: p.repo,
      env: p.env,
    });
    expect(now.code).toBe(4);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(now.stderr).toContain("lane t is full: 1 of 1 runs in flight");
    const waited = await lanes(["run", TASK, "--lane", "t", "--endpoint", `replay:${p.script}`, "--wait", "60s"], {
      cwd: p.repo,
      env: p.env,
      timeoutMs: 90_000,
    });
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stderr).toMatch(/waiting \(\d+ s left\): lane t is full/);
    expect(await firstExit).toBe(0);
  }, 90_000);

  it("flags a patch that edits lanes.yaml, and --apply refuses it in CI (exit 3) leaving the tree untouched", async () => {
    const script = `model: gpt-4.1-mini
turns:
  - tools:
      - edit_file: { path: lanes.yaml, old_string: "capUsd: 0.25", new_string: "capUsd: 25" }
  - tools:
      - edit_file: { path: src/add.js, old_string: "return a - b;", new_string: "return a + b;" }
  - tools:
      - finish: { summary: "fixed add() and raised my own budget" }
`;
    const p = demoProject(LANES(), script, "lanes:\n  t:\n    budget: { capUsd: 0.25 }\n");
    const r = await lanes(["run", TASK, "--lane", "t", "--endpoint", `replay:${p.script}`, "--json", "--apply"], {
      cwd: p.repo,
      env: { ...p.env, CI: "true" },
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(3);
    const end = events(r.stdout).at(-1)!;
    expect(end).toMatchObject({ type: "run_end", check: "passed", policyEdits: ["lanes.yaml"] });
    expect(end.applied).toEqual([
      { ok: false, how: "apply", policy: true, reason: expect.stringContaining("it edits policy (lanes.yaml)") },
    ]);
    expect(p.git("status", "--porcelain").stdout).toBe("");
    const show = JSON.parse((await lanes(["runs", "show", end.runId, "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(show.patchFiles).toEqual(["lanes.yaml", "src/add.js"]);
    expect(show.policyEdits).toEqual(["lanes.yaml"]);
    const audit = JSON.parse((await lanes(["audit", "ls", "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(audit.at(-1)).toMatchObject({
      action: "deny",
      decision: { reasons: [{ rule: "patch.policy_edit" }] },
      inputs: { policyEdits: ["lanes.yaml"] },
    });
  });
  it("an unpriced tier runs only when allowed, metered in tokens against the lane's token cap, and never reports $0.00", async () => {
    const script = readFileSync(join(DEMO, "fix-add.replay.yaml"), "utf8").replace(
      "model: gpt-4.1-mini",
      "model: no-such-model",
    );
    const p = demoProject(
      LANES("    allowUnpriced: true\n").replace(
        "budget: { capUsd: 0.25 }",
        "budget: { capUsd: 0.25, capTokens: 60000 }",
      ),
      script,
    );
    const ci = { ...p.env, CI: "true" };
    const args = await billed(p);
    const denied = await lanes(args, { cwd: p.repo, env: ci });
    expect(denied.code).toBe(3); // unpriced asks even when allowed: --yes is the explicit approval
    const r = await lanes([...args, "--yes"], { cwd: p.repo, env: ci, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const end = events(r.stdout).at(-1)!;
    expect(end.cost.actualUsd).toBeNull();
    expect(end.cost.tokens).toBeGreaterThan(0);
    const show = await lanes(["runs", "show", end.runId], { cwd: p.repo, env: p.env });
    expect(show.stdout).toMatch(/cost: unpriced \([\d,]+ tokens\)/);
    expect(show.stdout).not.toContain("$0.00 actual");

    // A token cap too small for the first call: stopped before it, as budget_exhausted.
    const small = demoProject(
      LANES("    allowUnpriced: true\n").replace(
        "budget: { capUsd: 0.25 }",
        "budget: { capUsd: 0.25, capTokens: 500 }",
      ),
      script,
    );
    const stopped = await lanes(await billed(small, ["--yes"]), {
      cwd: small.repo,
      env: { ...small.env, CI: "true" },
      timeoutMs: 120_000,
    });
    expect(events(stopped.stdout).at(-1)).toMatchObject({
      type: "run_end",
      status: "budget_exhausted",
      cost: { actualUsd: null },
    });
  });
  it("says why a check failed: its last lines in the run output, run_end and runs show", async () => {
    const script = "model: gpt-4.1-mini\nturns:\n  - tools: [{ finish: { summary: 'all fixed, trust me' } }]\n";
    const p = demoProject(LANES(), script);
    const r = await run(p);
    expect(r.code).toBe(1);
    const end = events(r.stdout).at(-1)!;
    expect(end).toMatchObject({ type: "run_end", check: "failed", checkOutput: expect.stringMatching(/fail/i) });
    expect(events(r.stdout).find((e) => e.type === "check")?.outputTail).toBe(end.checkOutput);
    const plain = await lanes(["run", TASK, "--lane", "t", "--endpoint", `replay:${p.script}`], {
      cwd: p.repo,
      env: p.env,
      timeoutMs: 120_000,
    });
    expect(plain.stderr).toMatch(/check `node --test`: failed \(exit 1\)[^\n]*\n {2}│ /);
    const show = await lanes(["runs", "show", end.runId], { cwd: p.repo, env: p.env });
    expect(show.stdout).toContain("check output (last lines):");
    expect(show.stdout).toMatch(/ {2}│ .*fail/i);
  });

  it("the patch is the agent's change: no __pycache__ from a Python check", async () => {
    const script = `model: gpt-4.1-mini
turns:
  - tools:
      - bash: { command: "printf 'def add(a, b):\\n    return a + b\\n' > calc.py && python3 -c 'import calc; assert calc.add(2, 3) == 5'" }
  - tools:
      - finish: { summary: "added calc.py" }
`;
    const p = demoProject(
      LANES().replace("check: node --test", `check: python3 -c 'import calc; assert calc.add(2, 3) == 5'`),
      script,
    );
    const r = await run(p, ["--apply"]);
    expect(r.code, r.stderr).toBe(0);
    const patch = readFileSync(events(r.stdout).at(-1)!.patch, "utf8");
    expect(patch).toContain("+++ b/calc.py");
    expect(patch).not.toMatch(/__pycache__|\.pyc/);
    expect(p.git("status", "--porcelain").stdout).toBe("?? calc.py\n");
  });
  it("kill -9 of lanes run: the next command settles its hold at worst case, lists it as crashed, frees the lane, and the next run reaps its volume", async () => {
    const script =
      "model: gpt-4.1-mini\nturns:\n  - tools: [{ bash: { command: 'sleep 25' } }]\n  - tools: [{ finish: { summary: x } }]\n";
    const p = demoProject(LANES("    concurrency: 1\n"), script);
    const child = spawn(
      process.execPath,
      [BIN, "run", TASK, "--lane", "t", "--endpoint", `replay:${p.script}`, "--json"],
      {
        cwd: p.repo,
        env: p.env,
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    for (let i = 0; i < 300 && !out.includes('"tool_start"'); i++) await new Promise((r) => setTimeout(r, 100));
    const runId = events(out.slice(0, out.lastIndexOf("\n") + 1)).find((e) => e.type === "run_start")!.runId as string;
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));

    const runs = JSON.parse((await lanes(["runs", "ls", "--json"], { cwd: p.repo, env: p.env })).stdout);
    const crashed = runs.find((r: { id: string }) => r.id === runId);
    expect(crashed).toMatchObject({ status: "crashed", lane: "t", tier: "standard" });
    expect(crashed.costUsd).toBeCloseTo(0.25, 9); // its worst case: the whole cap, never released
    const plan = JSON.parse((await lanes(["plan", TASK, "--lane", "t", "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(plan.decision.reasons.map((r: { rule: string }) => r.rule)).not.toContain("lane.concurrency"); // the slot is free
    const audit = JSON.parse((await lanes(["audit", "ls", "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(
      audit.find(
        (a: { runId?: string; outcome?: { status?: string } }) => a.runId === runId && a.outcome?.status === "crashed",
      ),
    ).toBeDefined();

    // The next run reaps what the killed one left on the engine.
    const next = await lanes(
      ["run", TASK, "--lane", "t", "--endpoint", `replay:${join(DEMO, "fix-add.replay.yaml")}`],
      {
        cwd: p.repo,
        env: p.env,
        timeoutMs: 120_000,
      },
    );
    expect(next.code, next.stderr).toBe(0);
    expect(labelled(`dev.lanes.run=${runId}`)).toEqual({ containers: [], volumes: [] });
  }, 120_000);
  it("an endpoint that bills more than the hold has left: the overage is shown in run_end, runs ls --json, runs show and the trajectory", async () => {
    const script =
      "model: gpt-4.1-mini\nturns:\n  - say: thinking\n    usage: { prompt_tokens: 1000, completion_tokens: 10000000 }\n" +
      "  - tools: [{ finish: { summary: done } }]\n";
    const p = demoProject(LANES(), script);
    const r = await lanes(await billed(p), { cwd: p.repo, env: p.env, timeoutMs: 120_000 });
    const end = events(r.stdout).at(-1)!;
    expect(end.cost.actualUsd).toBeCloseTo(0.25, 9); // the hold's cap: charged, never more
    expect(end.cost.overageUsd).toBeGreaterThan(10); // 10 M completion tokens at $1.60 per M, less the cap
    const ls = JSON.parse((await lanes(["runs", "ls", "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(ls.find((x: { id: string }) => x.id === end.runId).overageUsd).toBeCloseTo(end.cost.overageUsd, 9);
    const show = await lanes(["runs", "show", end.runId], { cwd: p.repo, env: p.env });
    expect(show.stdout).toMatch(/billed beyond the hold/);
    const traj = JSON.parse(readFileSync(join(p.env.LANES_HOME!, "runs", end.runId, "trajectory.json"), "utf8"));
    expect(traj.overageUsd).toBeCloseTo(end.cost.overageUsd, 9);
  });
});
