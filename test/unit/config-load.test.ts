import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, formatProblem, type ConfigProblem } from "../../src/core/errors.js";
import { loadConfig } from "../../src/adapters/config/load.js";
import { gitRepo, tempHome } from "../helpers/cli.js";

function setup(project?: string, user?: string) {
  const { dir, env } = tempHome();
  const repo = gitRepo(dir);
  if (project !== undefined) writeFileSync(join(repo, "lanes.yaml"), project);
  if (user !== undefined) {
    mkdirSync(env.LANES_CONFIG_DIR!, { recursive: true });
    writeFileSync(join(env.LANES_CONFIG_DIR!, "config.json"), user);
  }
  return { repo, env };
}

function problems(project?: string, user?: string, extraEnv: Record<string, string> = {}): ConfigProblem[] {
  const { repo, env } = setup(project, user);
  const cwd = process.cwd();
  process.chdir(repo); // files under the working directory are shown relative to it, as a user sees them
  try {
    loadConfig({ repo, env: { ...env, ...extraEnv } });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  } finally {
    process.chdir(cwd);
  }
  throw new Error("expected the configuration to be rejected");
}

describe("loadConfig defaults", () => {
  it("is valid with no files and has the five built-in lanes", () => {
    const { repo, env } = setup();
    const { config, projectFile } = loadConfig({ repo, env });
    expect(projectFile).toBeUndefined();
    expect(Object.keys(config.lanes).sort()).toEqual(["async", "eval", "premium", "regulated", "sandbox"]);
    expect(config.lanes.regulated).toMatchObject({
      tiers: ["local"],
      allowHosted: false,
      approval: { mode: "always" },
    });
    expect(config.sandbox.profiles.default).toMatchObject({
      network: "none",
      readOnlyRoot: true,
      pids: 256,
      image: "lanes-sandbox:latest",
    });
    expect(config.defaults.lane).toBe("async");
  });

  it("accepts the lanes.yaml that `lanes init` writes, unchanged", () => {
    const template = readFileSync(new URL("../../templates/lanes.yaml", import.meta.url), "utf8");
    const { repo, env } = setup(template);
    expect(loadConfig({ repo, env }).config.budgets).toHaveLength(2);
  });

  it("merges a partial override of a built-in lane field by field", () => {
    const { repo, env } = setup("lanes:\n  async:\n    budget: { capUsd: 0.25 }\n");
    const { config } = loadConfig({ repo, env });
    expect(config.lanes.async!.budget.capUsd).toBe(0.25);
    expect(config.lanes.async!.tiers).toEqual(["local", "standard"]);
  });
});

describe("loadConfig precedence: defaults < user < project < env < flags", () => {
  const lanes =
    "lanes: { l1: { tiers: [local] }, l2: { tiers: [local] }, l3: { tiers: [local] }, l4: { tiers: [local] } }\n";
  it("takes each layer over the one below it", () => {
    const { repo, env } = setup(
      `${lanes}defaults: { lane: l2 }\n`,
      JSON.stringify({ defaults: { lane: "l1" }, identity: { team: "from-user" } }),
    );
    expect(loadConfig({ repo, env }).config.defaults.lane).toBe("l2");
    expect(loadConfig({ repo, env }).config.identity.team).toBe("from-user");
    expect(loadConfig({ repo, env: { ...env, LANES_LANE: "l3" } }).config.defaults.lane).toBe("l3");
    expect(loadConfig({ repo, env: { ...env, LANES_LANE: "l3" }, flags: { lane: "l4" } }).config.defaults.lane).toBe(
      "l4",
    );
  });
  it("uses the user layer when the project does not set a value", () => {
    const { repo, env } = setup(lanes, JSON.stringify({ defaults: { lane: "l1" } }));
    expect(loadConfig({ repo, env }).config.defaults.lane).toBe("l1");
  });
  it("finds lanes.yaml at the repository root from a subdirectory", () => {
    const { repo, env } = setup("defaults: { lane: eval }\n");
    mkdirSync(join(repo, "src", "deep"), { recursive: true });
    const loaded = loadConfig({ repo: join(repo, "src", "deep"), env });
    expect(loaded.projectFile).toBe(join(repo, "lanes.yaml"));
    expect(loaded.config.defaults.lane).toBe("eval");
  });
});

describe("loadConfig errors name file, line, column, path and what was expected", () => {
  it("reports a wrong type at the value", () => {
    const [p] = problems("lanes:\n  async:\n    budget:\n      capUsd: lots\n");
    expect(p).toEqual({
      file: "lanes.yaml",
      line: 4,
      column: 15,
      path: "lanes.async.budget.capUsd",
      message: 'wrong type (expected number, got string "lots")',
    });
    expect(formatProblem(p!)).toBe(
      'lanes.yaml:4:15: lanes.async.budget.capUsd: wrong type (expected number, got string "lots")',
    );
  });
  it("reports an unknown key at the key, with a did-you-mean", () => {
    const [p] = problems("lanes:\n  async:\n    aproval: { mode: ask }\n");
    expect(p).toMatchObject({
      line: 3,
      column: 5,
      path: "lanes.async.aproval",
      message: 'unknown key "aproval" (did you mean "approval"?)',
    });
  });
  it("reports an unknown top-level key without a suggestion when nothing is close", () => {
    const [p] = problems("zzzzzzzz: 1\n");
    expect(p).toMatchObject({ line: 1, column: 1, path: "zzzzzzzz", message: 'unknown key "zzzzzzzz"' });
  });
  it("reports a value outside an enum with the choices", () => {
    const [p] = problems("sandbox:\n  profiles:\n    default:\n      network: opn\n");
    expect(p).toMatchObject({ line: 4, column: 16, path: "sandbox.profiles.default.network" });
    expect(p!.message).toContain("expected none | allowlist | open");
    expect(p!.message).toContain('did you mean "open"');
  });
  it("reports a missing required field at the key that lacks it", () => {
    const [p] = problems("lanes:\n  nightly:\n    concurrency: 2\n");
    expect(p).toMatchObject({
      line: 2,
      column: 3,
      path: "lanes.nightly.tiers",
      message: "is required (expected array)",
    });
  });
  it("reports a bad format and a number out of range", () => {
    const ps = problems(
      "lanes:\n  async:\n    limits: { wallTime: forever }\nbudgets:\n  - { scope: team, period: month, limit: -1 }\n",
    );
    expect(ps.map((p) => [p.line, p.path])).toEqual([
      [3, "lanes.async.limits.wallTime"],
      [5, "budgets.0.limit"],
    ]);
    expect(ps[0]!.message).toContain("a duration such as");
    expect(ps[1]!.message).toBe("too small (expected >= 0, got number -1)");
  });
  it("reports references to undefined names, with a suggestion", () => {
    const ps = problems("defaults: { lane: asynk }\nlanes:\n  async:\n    tiers: [local, standrd]\n");
    expect(ps.map((p) => [p.line, p.column, p.path])).toEqual([
      [1, 19, "defaults.lane"],
      [4, 20, "lanes.async.tiers.1"],
    ]);
    expect(ps[1]!.message).toContain('did you mean "standard"');
  });
  it("lists every problem in one pass, not only the first", () => {
    expect(problems("lanes:\n  async: { tiers: [nope], budget: { capUsd: x } }\nfoo: 1\n")).toHaveLength(3);
  });
  it("reports YAML syntax errors with their position and never falls back to defaults", () => {
    const ps = problems("lanes:\n  async: [1, 2\n");
    expect(ps[0]).toMatchObject({ file: "lanes.yaml", path: "" });
    expect(ps[0]!.line).toBeGreaterThanOrEqual(2);
    expect(ps[0]!.message).toMatch(/^invalid YAML: /);
  });
  it("reports duplicate keys as errors", () => {
    const [p] = problems("lanes:\n  async: { concurrency: 1 }\n  async: { concurrency: 2 }\n");
    expect(p).toMatchObject({ line: 3, column: 3 });
    expect(p!.message).toContain('duplicate key "async"');
  });
  it("finds a duplicate key among 40,000 in linear time, and refuses a file over 1 MB", () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `  k${i}: 1`).join("\n");
    const t0 = performance.now();
    const [p] = problems(`prices:\n${keys}\n  k7: 2\n`);
    expect(p!.message).toContain('duplicate key "k7"');
    expect(p!.line).toBe(40_002);
    expect(performance.now() - t0).toBeLessThan(10_000); // quadratic took minutes; this is a generous bound
    const [big] = problems(`# ${"x".repeat(1_100_000)}\n`);
    expect(big).toMatchObject({ line: 1, message: expect.stringContaining("limited to 1 MB") });
  });
  it("bounds an alias bomb: a clear problem with the file, not an internal error", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x]",
      ...Array.from({ length: 8 }, (_, i) => {
        const prev = String.fromCharCode(97 + i);
        const next = String.fromCharCode(98 + i);
        return `${next}: &${next} [*${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}]`;
      }),
    ].join("\n");
    const [p] = problems(`${bomb}\n`);
    expect(p).toMatchObject({ file: "lanes.yaml", message: expect.stringMatching(/^invalid YAML: .*alias/i) });
  });
  it("rejects a file whose top level is not a mapping", () => {
    expect(problems("- a\n- b\n")[0]).toMatchObject({
      line: 1,
      column: 1,
      message: expect.stringContaining("got a list"),
    });
  });
  it("locates problems in the user settings file (JSON) by its own line", () => {
    const [p] = problems(undefined, '{\n  "defaults": {\n    "lane": 5\n  }\n}\n');
    expect(p!.file).toMatch(/config\.json$/);
    expect(p).toMatchObject({ line: 3, column: 13, path: "defaults.lane" });
  });
  it("blames the environment variable when it sets a bad value", () => {
    const [p] = problems(undefined, undefined, { LANES_LANE: "nope" });
    expect(p).toMatchObject({ file: "environment LANES_LANE", line: 0, path: "defaults.lane" });
    expect(formatProblem(p!)).toMatch(/^environment LANES_LANE: defaults\.lane: unknown lane "nope"/);
  });
});

describe("endpoint speed", () => {
  const ep = (extra: string) =>
    `tiers:\n  local:\n    endpoints:\n      - { id: l, baseURL: "http://127.0.0.1:8080/v1", model: m, ${extra} }\n`;
  it("speed: { promptTps, completionTps } is what plans project GPU time from", async () => {
    const { repo, env } = setup(ep("speed: { promptTps: 5000, completionTps: 90 }"));
    const { endpointSpecs } = await import("../../src/app/endpoints.js");
    const [spec] = endpointSpecs(loadConfig({ repo, env }).config);
    expect(spec!.speeds).toEqual({ promptTokensPerSecond: 5000, completionTokensPerSecond: 90 });
  });
  it("speed and speeds together are refused", () => {
    const p = problems(
      ep(
        "speed: { promptTps: 1, completionTps: 1 }, speeds: { promptTokensPerSecond: 1, completionTokensPerSecond: 1 }",
      ),
    );
    expect(p.map((x) => x.message).join()).toContain("set `speed` or `speeds`, not both");
  });
});
