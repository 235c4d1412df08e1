import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { gitRepo, lanes, OS_USER, tempHome, userSettings } from "../helpers/cli.js";

const TIERS = `tiers:
  standard:
    endpoints: [{ id: hosted, baseURL: "http://127.0.0.1:1/v1", model: gpt-4.1-mini }]
  premium:
    endpoints: [{ id: top, baseURL: "http://127.0.0.1:1/v1", model: gpt-5 }]
  local:
    endpoints: [{ id: llama, baseURL: "http://127.0.0.1:1/v1", model: tiny, price: { gpuHourUsd: 0 } }]
`;

function project(extra = "") {
  const home = tempHome();
  const repo = gitRepo(home.dir, "repo", { "src/add.js": "export const add = (a, b) => a - b;\n" });
  writeFileSync(join(repo, "lanes.yaml"), TIERS + extra);
  return { ...home, repo, env: { ...home.env, LANES_USER: "ana" } as NodeJS.ProcessEnv };
}

describe("lanes plan", () => {
  it("prints the documented JSON shape, spends nothing and reserves nothing", async () => {
    const { repo, env } = project("budgets:\n  - { scope: team, period: month, limit: 200 }\n");
    const r = await lanes(["plan", "fix the failing test", "--json", "--lane", "eval"], { cwd: repo, env });
    expect(r.code, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p).toMatchObject({
      lane: "eval",
      tier: "standard",
      endpoint: { id: "hosted", model: "gpt-4.1-mini" },
      tokens: { prompt: expect.any(Number), exact: true },
      cost: {
        p50Usd: expect.any(Number),
        p90Usd: expect.any(Number),
        capUsd: 2,
        class: expect.stringMatching(/^C[0-4]$/),
        assumptions: expect.any(Array),
      },
      quota: [
        {
          bucket: expect.stringMatching(/^team:default:month:\d{4}-\d{2}$/),
          unit: "usd",
          used: 0,
          held: 0,
          projected: expect.any(Number),
          limit: 200,
          level: "ok",
          resetsAt: expect.any(String),
        },
      ],
      decision: {
        verdict: "allow",
        reasons: [{ rule: "approval.auto", level: "advisory", message: expect.any(String) }],
      },
      planHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(p.cost.p50Usd).toBeLessThan(p.cost.p90Usd);
    const q = await lanes(["quota", "--json"], { cwd: repo, env });
    expect(JSON.parse(q.stdout).buckets[0]).toMatchObject({ used: 0, held: 0 });
  });

  it.each([
    ["allow", "", ["--lane", "eval"], 0],
    ["ask (lane always asks)", "", ["--lane", "premium"], 3],
    ["policy deny (hosted tier in a local-only lane)", "", ["--lane", "regulated", "--tier", "standard"], 3],
    [
      "quota deny (cap over a hard limit)",
      "budgets:\n  - { scope: team, period: month, limit: 1 }\n",
      ["--lane", "eval"],
      4,
    ],
    [
      "delay (schedule window closed)",
      `lanes:\n  eval: { schedule: { window: "${closedWindow()}" } }\n`,
      ["--lane", "eval"],
      4,
    ],
  ])("--check exits with the verdict: %s", async (_, extra, args, code) => {
    const { repo, env } = project(extra as string);
    const r = await lanes(["plan", "fix it", "--check", "--json", ...(args as string[])], { cwd: repo, env });
    expect(r.code, r.stderr).toBe(code);
  });

  it("without --check, exits 0 and shows the decision in plain text", async () => {
    const { repo, env } = project();
    const r = await lanes(["plan", "fix it", "--lane", "premium"], { cwd: repo, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("decision ASK");
    expect(r.stdout).toContain("approval.always (soft)");
  });

  it("--endpoint replay:FILE plans on a replay script, and --endpoint NAME on that endpoint", async () => {
    const { repo, env, dir } = project();
    const script = join(dir, "s.yaml");
    writeFileSync(script, "model: gpt-4.1-mini\nturns:\n  - say: hi\n");
    const r = await lanes(["plan", "fix it", "--lane", "eval", "--endpoint", `replay:${script}`, "--json"], {
      cwd: repo,
      env,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).endpoint).toMatchObject({ id: "replay", model: "gpt-4.1-mini" });
    const named = await lanes(["plan", "fix it", "--lane", "premium", "--endpoint", "top", "--json"], {
      cwd: repo,
      env,
    });
    expect(JSON.parse(named.stdout).endpoint).toMatchObject({ id: "top", model: "gpt-5" });
    // An endpoint of a tier the lane does not use is refused, never moved into the lane's tier.
    const foreign = await lanes(["plan", "fix it", "--lane", "eval", "--endpoint", "llama"], { cwd: repo, env });
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toContain('endpoint "llama" is in tier local, which lane eval does not use');
    const unknown = await lanes(["plan", "fix it", "--endpoint", "nope"], { cwd: repo, env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no endpoint named "nope"');
  });

  it("a saved plan made with --endpoint stays fresh under the same --endpoint, and refuses another", async () => {
    const second = 'model: gpt-4.1-mini }, { id: second, baseURL: "http://127.0.0.1:2/v1", model: gpt-4.1-mini }]';
    const { repo, env } = project("lanes:\n  eval: { tiers: [standard], approval: { mode: ask } }\n");
    const yaml = readFileSync(join(repo, "lanes.yaml"), "utf8").replace("model: gpt-4.1-mini }]", second);
    writeFileSync(join(repo, "lanes.yaml"), yaml);
    const made = await lanes(["plan", "fix it", "--lane", "eval", "--endpoint", "second", "--out", "p.json"], {
      cwd: repo,
      env,
    });
    expect(made.code, made.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(repo, "p.json"), "utf8")).endpoint.id).toBe("second");
    const ci = { ...env, CI: "true" };
    const same = await lanes(["run", "--plan", "p.json", "--endpoint", "second"], { cwd: repo, env: ci });
    expect(same.stderr).not.toContain("stale");
    expect(same.stderr).toContain("approval needed (approval.ask)"); // fresh: only the approval is missing
    expect(same.code).toBe(3);
    const other = await lanes(["run", "--plan", "p.json", "--endpoint", "hosted"], { cwd: repo, env: ci });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain("p.json pins endpoint second; --endpoint hosted would run something else");
  });

  it("a missing API key is a plan reason (endpoint.no_key), and endpoints check says so", async () => {
    const p = project();
    const { repo, env } = p;
    // A keyed endpoint is the user's (a repository cannot name a key variable).
    writeFileSync(join(repo, "lanes.yaml"), "version: 1\n");
    userSettings(p, TIERS.replace("model: gpt-4.1-mini }", "model: gpt-4.1-mini, apiKeyEnv: LANES_NO_SUCH_KEY }"));
    const r = await lanes(["plan", "fix it", "--lane", "eval", "--json", "--check"], { cwd: repo, env });
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout).decision.reasons).toContainEqual(
      expect.objectContaining({
        rule: "endpoint.no_key",
        level: "hard",
        message: expect.stringContaining("LANES_NO_SUCH_KEY"),
      }),
    );
    const check = await lanes(["endpoints", "check", "hosted"], { cwd: repo, env });
    expect(check.code).toBe(6);
    expect(check.stdout).toContain("key not set");
    expect(check.stderr).toContain("its API key is not set");
    expect(check.stderr).not.toContain("is down");
  });

  it("says when a tier has no endpoints (exit 2)", async () => {
    const home = tempHome();
    const repo = gitRepo(home.dir);
    const r = await lanes(["plan", "x"], { cwd: repo, env: home.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("tier local has no endpoints");
  });
});

describe("choosing an agent", () => {
  it("an unknown agent, two agents at once, or a lane naming one lanes does not know: exit 2, saying which exist", async () => {
    const p = project("lanes:\n  a: { tiers: [standard] }\n");
    const unknown = await lanes(["plan", "x", "--lane", "a", "--agent", "aider"], { cwd: p.repo, env: p.env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown agent "aider"');
    expect(unknown.stderr).toContain("codex, claude");
    const both = await lanes(["plan", "x", "--lane", "a", "--agent", "codex", "--agent-cmd", "./me"], {
      cwd: p.repo,
      env: p.env,
    });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("pick one");
    const q = project("lanes:\n  a: { tiers: [standard], agent: aider }\n");
    const lane = await lanes(["plan", "x", "--lane", "a"], { cwd: q.repo, env: q.env });
    expect(lane.code).toBe(2);
    expect(lane.stderr).toMatch(/lanes\.a\.agent/);
  });
});

describe("smaller things a user sees", () => {
  it("plan NAME resolves a task template as run does; a broken template is exit 2 with file:line", async () => {
    const { repo, env } = project();
    const r = await lanes(["plan", "fix-failing-test", "--lane", "eval", "--json"], { cwd: repo, env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).task.template).toBe("fix-failing-test@1");
    mkdirSync(join(repo, ".lanes", "tasks"), { recursive: true });
    writeFileSync(join(repo, ".lanes", "tasks", "broken.yaml"), "name: broken\nprompt: [unclosed\n");
    const bad = await lanes(["plan", "broken"], { cwd: repo, env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/task template \S*broken\.yaml:\d+:\d+: invalid YAML/);
    expect(bad.stderr).not.toContain("internal error");
  });

  it("sandbox ls with no host answering is exit 5, not 'no lanes sandboxes'", async () => {
    const p = project();
    const { repo, env } = p;
    userSettings(p, { hosts: { local: { url: "tcp://127.0.0.1:9" } } }); // hosts are the user's, never the repository's
    const r = await lanes(["sandbox", "ls"], { cwd: repo, env });
    expect(r.code).toBe(5);
    expect(r.stdout).toContain("no host answered (local)");
    expect(r.stdout).not.toContain("no lanes sandboxes");
  });
});

describe("lanes approve", () => {
  it("with no terminal and no --yes exits 3 at once with stdin closed (never waits for input), and says how", async () => {
    const { repo, env, dir } = project();
    const file = join(dir, "plan.json");
    await lanes(["plan", "fix it", "--lane", "eval", "--out", file], { cwd: repo, env });
    const r = await lanes(["approve", file], { cwd: repo, env });
    expect(r.code).toBe(3);
    expect(r.ms).toBeLessThan(10_000); // generous on a loaded machine: a wait for input would never end
    expect(r.stderr).toContain("pass --yes");
    expect(JSON.parse(readFileSync(file, "utf8")).approval).toBeUndefined();
  });

  it("--yes never passes a deny", async () => {
    const { repo, env, dir } = project("budgets:\n  - { scope: team, period: month, limit: 1 }\n");
    const file = join(dir, "plan.json");
    await lanes(["plan", "fix it", "--lane", "eval", "--out", file], { cwd: repo, env });
    const r = await lanes(["approve", file, "--yes"], { cwd: repo, env });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("no approval (and no --yes) can pass a deny");
    expect(JSON.parse(readFileSync(file, "utf8")).approval).toBeUndefined();
  });

  it("--yes is not enough for a lane that needs a person in a terminal", async () => {
    const { repo, env, dir } = project();
    const file = join(dir, "plan.json");
    await lanes(["plan", "fix it", "--lane", "premium", "--out", file], { cwd: repo, env });
    const r = await lanes(["approve", file, "--yes"], { cwd: repo, env });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("requires a person to approve in a terminal");
  });

  it("records the approver, signs with LANES_APPROVAL_KEY, and audits it", async () => {
    const { repo, env, dir } = project();
    const file = join(dir, "plan.json");
    await lanes(["plan", "fix it", "--lane", "eval", "--out", file], { cwd: repo, env });
    const r = await lanes(["approve", file, "--yes"], { cwd: repo, env: { ...env, LANES_APPROVAL_KEY: "k1" } });
    expect(r.code, r.stderr).toBe(0);
    const p = JSON.parse(readFileSync(file, "utf8"));
    expect(p.approval).toMatchObject({ by: OS_USER, how: "yes", signature: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const log = JSON.parse((await lanes(["audit", "ls", "--json"], { cwd: repo, env })).stdout);
    expect(log.map((x: { action: string }) => x.action)).toEqual(["plan", "approve"]);
    expect(log[1].outcome).toEqual({ by: OS_USER, how: "yes" });
  });
});

describe("lanes audit", () => {
  it("verify passes, then fails after one byte of one record changes, naming it", async () => {
    const { repo, env } = project();
    for (let i = 0; i < 3; i++) await lanes(["plan", `task ${i}`, "--lane", "eval"], { cwd: repo, env });
    expect((await lanes(["audit", "verify"], { cwd: repo, env })).code).toBe(0);
    const file = join(env.LANES_HOME!, "audit.jsonl");
    const lines = readFileSync(file, "utf8").split("\n");
    const second = JSON.parse(lines[1]!);
    expect(lines[1]).toContain('"lane":"eval"');
    lines[1] = lines[1]!.replace('"lane":"eval"', '"lane":"evaL"'); // one byte
    writeFileSync(file, lines.join("\n"));
    const r = await lanes(["audit", "verify", "--json"], { cwd: repo, env });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      line: 2,
      id: second.id,
      reason: expect.stringContaining("was changed"),
    });
  });
});

function closedWindow(): string {
  const h = (new Date().getUTCHours() + 2) % 24;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(h)}:00-${pad((h + 1) % 24)}:00`;
}
void spawnSync;
