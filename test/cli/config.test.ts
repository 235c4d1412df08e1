import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lanes, project } from "../helpers/cli.js";

describe("lanes config validate", () => {
  it("exits 0 and says valid for a good file", async () => {
    const { repo, env } = project("lanes:\n  async:\n    budget: { capUsd: 0.2 }\n");
    const r = await lanes(["config", "validate"], { cwd: repo, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("configuration is valid");
  });
  it("exits 2 and prints every problem as file:line:col: path: message", async () => {
    const { repo, env } = project("lanes:\n  async:\n    aproval: {}\n    budget: { capUsd: lots }\n");
    const r = await lanes(["config", "validate"], { cwd: repo, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('lanes.yaml:3:5: lanes.async.aproval: unknown key "aproval" (did you mean "approval"?)');
    expect(r.stderr).toContain(
      'lanes.yaml:4:23: lanes.async.budget.capUsd: wrong type (expected number, got string "lots")',
    );
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace without --debug
  });
  it("with --json prints {ok:false, errors:[{file,line,column,path,message}]} on stdout only", async () => {
    const { repo, env } = project("lanes:\n  async:\n    budget: { capUsd: lots }\n");
    const r = await lanes(["config", "validate", "--json"], { cwd: repo, env });
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(false);
    expect(out.errors).toEqual([
      {
        file: "lanes.yaml",
        line: 3,
        column: 23,
        path: "lanes.async.budget.capUsd",
        message: 'wrong type (expected number, got string "lots")',
      },
    ]);
  });
  it("treats bad YAML syntax the same way", async () => {
    const { repo, env } = project("lanes: [\n");
    const r = await lanes(["config", "validate", "--json"], { cwd: repo, env });
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout);
    expect(out.errors[0]).toMatchObject({
      file: "lanes.yaml",
      path: "",
      message: expect.stringMatching(/^invalid YAML/),
    });
    expect(out.errors[0].line).toBeGreaterThan(0);
  });
  it("reports a bad --lane flag as a usage error naming the flag", async () => {
    const { repo, env } = project();
    const r = await lanes(["--lane", "nope", "config", "validate"], { cwd: repo, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('flag --lane: defaults.lane: unknown lane "nope"');
  });
});

describe("lanes config get / set / path", () => {
  it("gets a merged value, as JSON with --json", async () => {
    const { repo, env } = project("lanes:\n  async:\n    budget: { capUsd: 0.3 }\n");
    const r = await lanes(["config", "get", "lanes.async.budget.capUsd"], { cwd: repo, env });
    expect([r.code, r.stdout]).toEqual([0, "0.3\n"]);
    const j = await lanes(["config", "get", "lanes.regulated", "--json"], { cwd: repo, env });
    expect(JSON.parse(j.stdout)).toMatchObject({
      key: "lanes.regulated",
      value: { tiers: ["local"], allowHosted: false },
    });
  });
  it("fails with exit 2 and a suggestion for an unknown key", async () => {
    const { repo, env } = project();
    const r = await lanes(["config", "get", "lanes.asink"], { cwd: repo, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('did you mean "lanes.async"');
  });
  it("sets a user setting that later reads see, and env then overrides it", async () => {
    const { repo, env } = project();
    const s = await lanes(["config", "set", "identity.team", "platform"], { cwd: repo, env });
    expect(s.code).toBe(0);
    expect(JSON.parse(readFileSync(join(env.LANES_CONFIG_DIR!, "config.json"), "utf8"))).toEqual({
      identity: { team: "platform" },
    });
    expect((await lanes(["config", "get", "identity.team"], { cwd: repo, env })).stdout).toBe("platform\n");
    expect(
      (await lanes(["config", "get", "identity.team"], { cwd: repo, env: { ...env, LANES_TEAM: "infra" } })).stdout,
    ).toBe("infra\n");
  });
  it("refuses a value that would not validate and leaves the file as it was", async () => {
    const { repo, env } = project();
    await lanes(["config", "set", "defaults.lane", "eval"], { cwd: repo, env });
    const r = await lanes(["config", "set", "defaults.lane", "nope"], { cwd: repo, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("nothing was changed");
    expect(JSON.parse(readFileSync(join(env.LANES_CONFIG_DIR!, "config.json"), "utf8"))).toEqual({
      defaults: { lane: "eval" },
    });
  });
  it("sets a value in lanes.yaml with --project, keeping its comments", async () => {
    const { repo, env } = project("# keep me\nlanes:\n  async:\n    budget: { capUsd: 0.5 } # and me\n");
    const r = await lanes(["config", "set", "--project", "lanes.async.budget.capUsd", "0.25"], { cwd: repo, env });
    expect(r.code).toBe(0);
    const text = readFileSync(join(repo, "lanes.yaml"), "utf8");
    expect(text).toContain("# keep me");
    expect(text).toContain("# and me");
    expect(text).toContain("capUsd: 0.25");
  });
  it("prints the paths it uses", async () => {
    const { repo, env } = project("{}\n");
    const r = await lanes(["config", "path", "--json"], { cwd: repo, env });
    expect(JSON.parse(r.stdout)).toEqual({
      userConfig: join(env.LANES_CONFIG_DIR!, "config.json"),
      projectConfig: join(repo, "lanes.yaml"),
      dataDir: env.LANES_HOME,
    });
  });
});

describe("lanes init", () => {
  it("writes lanes.yaml, a Dockerfile and a task template that then validate", async () => {
    const { repo, env } = project();
    const r = await lanes(["init"], { cwd: repo, env });
    expect(r.code).toBe(0);
    for (const f of ["lanes.yaml", ".lanes/sandbox/Dockerfile", ".lanes/tasks/fix-failing-test.yaml"])
      expect(existsSync(join(repo, f))).toBe(true);
    const dockerfile = readFileSync(join(repo, ".lanes/sandbox/Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^ARG BASE=/m);
    expect(dockerfile).toContain("FROM ${BASE}"); // lanes' own image, with what the project adds
    expect(dockerfile).toContain("ARG BASE=lanes-sandbox:lanes");
    expect(readFileSync(join(repo, "lanes.yaml"), "utf8")).toMatch(/^# /); // commented
    const v = await lanes(["config", "validate", "--json"], { cwd: repo, env });
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout).ok).toBe(true);
  });
  it("refuses to overwrite existing files unless --force", async () => {
    const { repo, env } = project("# mine\n");
    const r = await lanes(["init"], { cwd: repo, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("refusing to overwrite lanes.yaml");
    expect(readFileSync(join(repo, "lanes.yaml"), "utf8")).toBe("# mine\n");
    expect(existsSync(join(repo, ".lanes"))).toBe(false); // nothing written at all
    const f = await lanes(["init", "--force"], { cwd: repo, env });
    expect(f.code).toBe(0);
    expect(readFileSync(join(repo, "lanes.yaml"), "utf8")).not.toBe("# mine\n");
  });
  it("writes into --repo", async () => {
    const { repo, env, dir } = project();
    const r = await lanes(["--repo", repo, "init", "--json"], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).written).toContain(join(repo, "lanes.yaml"));
  });
});

describe("the store setting", () => {
  it("is set in user settings and never printed with its password", async () => {
    const { repo, env } = project("{}\n");
    const url = "postgres://lanes:hunter2-secret@db.internal:5432/lanes";
    const set = await lanes(["config", "set", "store", url], { cwd: repo, env });
    expect(set.code, set.stderr).toBe(0);
    const get = await lanes(["config", "get", "store"], { cwd: repo, env });
    expect(get.stdout.trim()).toBe("postgres://lanes@db.internal:5432/lanes");
    const all = await lanes(["config", "get", "--json"], { cwd: repo, env });
    expect(set.stdout + set.stderr + get.stdout + all.stdout).not.toContain("hunter2-secret");
    const bad = await lanes(["config", "set", "store", "mysql://x"], { cwd: repo, env });
    expect(bad.code).toBe(2);
  });
});
