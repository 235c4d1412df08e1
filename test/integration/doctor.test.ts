import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, ROOT, lanes, project, tempHome, userSettings } from "../helpers/cli.js";
import { requireImage } from "../helpers/docker.js";
import { closedPort } from "../helpers/endpoints.js";
import { serveReplay, stopReplays } from "../helpers/run.js";

beforeAll(() => requireImage());
afterAll(stopReplays);

/** A project whose default lane can plan: its standard tier has a live (replay) endpoint. */
async function usableProject() {
  const p = project();
  const script = join(p.dir, "s.yaml");
  writeFileSync(script, "model: gpt-4.1-mini\nturns:\n  - say: hi\n");
  const url = await serveReplay(p.env, script);
  writeFileSync(
    join(p.repo, "lanes.yaml"),
    `tiers:\n  standard:\n    endpoints: [{ id: hosted, baseURL: "${url}", model: gpt-4.1-mini }]\n`,
  );
  return p;
}

describe("lanes doctor against the real Docker engine", () => {
  it("reports every check ok with --json and exits 0", async () => {
    const { repo, env } = await usableProject();
    const r = await lanes(["doctor", "--json"], { cwd: repo, env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(true);
    const byName = Object.fromEntries(out.checks.map((c: { name: string }) => [c.name, c]));
    expect(byName["docker host local"]).toMatchObject({
      ok: true,
      detail: expect.stringMatching(
        /Docker \S+ \(API \d+\.\d+\).*userns (yes|no), rootless (yes|no), gVisor (yes|no); images present/,
      ),
    });
    expect(byName.node.ok).toBe(true);
    expect(byName.config.ok).toBe(true);
    expect(byName["lane async"]).toMatchObject({ ok: true, detail: "endpoints in standard" });
    for (const c of out.checks)
      expect(Object.keys(c).every((k) => ["name", "ok", "detail", "hint"].includes(k))).toBe(true);
  });

  it("fails the default lane when none of its tiers has an endpoint, and says how to add one (exit 6)", async () => {
    const { repo, env } = project();
    const r = await lanes(["doctor", "--json"], { cwd: repo, env });
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout).checks.find((c: { name: string }) => c.name === "lane async")).toMatchObject({
      ok: false,
      detail: expect.stringContaining("no endpoint in its tiers (local, standard)"),
      hint: expect.stringContaining("tiers.local.endpoints"),
    });
  });

  it("reports an unreachable Docker host as not ok with a hint, and exits 5", async () => {
    // Port 9 on loopback: nothing listens, so the connection is refused at once.
    const p = project();
    const { repo, env } = p;
    userSettings(p, "hosts:\n  far:\n    url: tcp://127.0.0.1:9\n"); // hosts are the user's, never the repository's
    const r = await lanes(["doctor", "--json", "--timeout", "3000"], { cwd: repo, env });
    expect(r.code).toBe(5);
    const far = JSON.parse(r.stdout).checks.find((c: { name: string }) => c.name === "docker host far");
    expect(far).toMatchObject({
      ok: false,
      detail: expect.stringContaining("connection refused"),
      hint: expect.stringContaining("tcp://127.0.0.1:9"),
    });
  });

  it("reports a missing sandbox image with the command that builds it", async () => {
    const p = project();
    const { repo, env } = p;
    userSettings(p, "sandbox:\n  profiles:\n    default: { image: lanes-no-such-image:0 }\n");
    const r = await lanes(["doctor"], { cwd: repo, env });
    expect(r.code).toBe(5);
    expect(r.stdout).toContain("image lanes-no-such-image:0 missing");
    expect(r.stdout).toContain("lanes images build"); // a command the installed package has
  });

  it("reports a broken config as a failed check and still checks Docker", async () => {
    const { repo, env } = project("lanes: { async: { budget: { capUsd: x } } }\n");
    const r = await lanes(["doctor", "--json"], { cwd: repo, env });
    expect(r.code).toBe(2);
    const checks = JSON.parse(r.stdout).checks;
    expect(checks.find((c: { name: string }) => c.name === "config")).toMatchObject({
      ok: false,
      hint: expect.stringContaining("lanes config validate"),
    });
    expect(checks.find((c: { name: string }) => c.name === "docker host local").ok).toBe(true);
  });

  it("reports an endpoint that is down with its URL, and an unset key variable without its value", async () => {
    const port = await closedPort();
    const yaml = [
      "tiers:",
      "  local:",
      `    endpoints: [{ id: llama, baseURL: 'http://127.0.0.1:${port}/v1', model: m, price: { gpuHourUsd: 0 } }]`,
      "  standard:",
      `    endpoints: [{ id: hosted, baseURL: 'http://127.0.0.1:${port}/v1', model: m, apiKeyEnv: LANES_TEST_UNSET_KEY }]`,
    ].join("\n");
    const p = project("version: 1\n");
    const { repo, env } = p;
    userSettings(p, yaml); // a keyed endpoint is the user's own
    const r = await lanes(["doctor", "--json"], { cwd: repo, env });
    expect(r.code).toBe(6);
    const checks = JSON.parse(r.stdout).checks;
    expect(checks.find((c: { name: string }) => c.name === "endpoint local/llama")).toMatchObject({
      ok: false,
      detail: expect.stringContaining(`http://127.0.0.1:${port}/v1/models unreachable (ECONNREFUSED)`),
      hint: expect.stringContaining("llama-server"),
    });
    expect(checks.find((c: { name: string }) => c.name === "endpoint standard/hosted")).toMatchObject({
      ok: false,
      detail: "LANES_TEST_UNSET_KEY is not set",
    });
  });
});

describe("output modes load ink only in a terminal", () => {
  // A package is loaded from node_modules, or (bundled by scripts/bundle.mjs) as its named chunk.
  const loaded = (names: string) => new RegExp(`(node_modules/(${names})/|/dist/bundle/(${names})-)`);
  const trace = (
    args: string[],
    env: NodeJS.ProcessEnv,
    viaTerminal: boolean,
    file = join(tempHome().dir, "m.txt"),
  ) => {
    writeFileSync(file, "");
    const hook = join(ROOT, "test/helpers/trace-modules.mjs");
    const cmd = [process.execPath, "--import", hook, BIN, ...args].map((a) => `'${a}'`).join(" ");
    const childEnv: NodeJS.ProcessEnv = { ...env, LANES_TRACE_FILE: file };
    delete childEnv.CI;
    const r = viaTerminal
      ? spawnSync("script", ["-qfec", `stty cols 120 rows 40; ${cmd}`, "/dev/null"], {
          env: { ...childEnv, TERM: "xterm" },
          encoding: "utf8",
          timeout: 30_000,
        })
      : spawnSync("sh", ["-c", `${cmd} </dev/null`], { env: childEnv, encoding: "utf8", timeout: 30_000 });
    return { status: r.status, modules: readFileSync(file, "utf8"), output: r.stdout };
  };

  it("--json never loads ink or react, even in a terminal", async () => {
    const { repo, env } = await usableProject();
    const t = trace(["--repo", repo, "doctor", "--json"], env, true);
    expect(t.status).toBe(0);
    expect(t.modules).toMatch(/\/dist\/bundle\/doctor-/); // the trace works
    expect(t.modules).not.toMatch(/node_modules\/(ink|react)\//);
  });

  it("the interactive doctor (a real pseudo-terminal) does load ink", async () => {
    const { repo, env } = await usableProject();
    const t = trace(["--repo", repo, "doctor"], env, true);
    expect(t.status).toBe(0);
    expect(t.modules).toMatch(/node_modules\/ink\//);
    expect(t.output).toContain("checks passed");
  });

  it("--version and --help load neither ink, dockerode, openai nor any native module", () => {
    const { env } = project();
    for (const args of [["--version"], ["--help"]]) {
      const t = trace(args, env, false);
      expect(t.status).toBe(0);
      expect(t.modules).not.toMatch(loaded("ink|react|dockerode|openai|better-sqlite3|ssh2|cpu-features"));
      expect(t.modules).not.toMatch(/\.node$/m);
    }
  });

  it("an unchanged configuration is not parsed again; a changed one, or one under an org policy, is", () => {
    const { repo, env, dir } = project(
      'tiers:\n  standard:\n    endpoints: [{ id: hosted, baseURL: "http://127.0.0.1:1/v1", model: gpt-4.1-mini }]\n',
    );
    // The same trace file each time: every LANES_* variable is part of the cache's key.
    const file = join(dir, "modules.txt");
    const plan = (e = env) => trace(["--repo", repo, "--lane", "eval", "plan", "fix it", "--json"], e, false, file);
    const parsers = loaded("yaml|zod");
    expect(plan().modules).toMatch(parsers); // the first plan validates lanes.yaml
    const again = plan();
    expect(again.status).toBe(0);
    expect(again.modules).toMatch(/\/dist\/bundle\/plan-task-/);
    expect(again.modules).not.toMatch(parsers);
    expect(again.modules).not.toMatch(/\/dist\/bundle\/schema-/);
    // One byte changed: validated again, and a broken file is still exit 2 with its line.
    const yaml = join(repo, "lanes.yaml");
    writeFileSync(yaml, `${readFileSync(yaml, "utf8")}\nsandbox: 3\n`);
    const broken = plan();
    expect(broken.status).toBe(2);
    expect(broken.modules).toMatch(parsers);
    // Under an org policy nothing is cached: every load checks its floors.
    writeFileSync(yaml, readFileSync(yaml, "utf8").replace("\nsandbox: 3\n", ""));
    const policy = join(dir, "policy.yaml");
    writeFileSync(policy, "budgets:\n  - { scope: team, period: month, limit: 100 }\n");
    const governed = { ...env, LANES_POLICY: policy };
    expect(plan(governed).status).toBe(0);
    expect(plan(governed).modules).toMatch(parsers);
  });

  it("plan never loads execa (it is for bringing patches home, off the hot path)", () => {
    const { repo, env } = project();
    const t = trace(["--repo", repo, "plan", "fix it", "--json"], env, false);
    expect(t.modules).toMatch(/\/dist\/bundle\/plan-task-/); // the trace works
    expect(t.modules).not.toMatch(loaded("execa"));
  });
});
