/**
 * The trust table (src/adapters/config/trust.ts) as loading enforces it: what a repository's
 * lanes.yaml may select and tighten, and what it may not set at all.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, type ConfigProblem } from "../../src/core/errors.js";
import { loadConfig } from "../../src/adapters/config/load.js";
import { TRUST, trustTableMarkdown } from "../../src/adapters/config/trust.js";
import { configSchema } from "../../src/adapters/config/schema.js";
import { gitRepo, tempHome } from "../helpers/cli.js";

function setup(o: { project?: string; user?: object; policy?: string }) {
  const { dir, env } = tempHome();
  const repo = gitRepo(dir);
  if (o.project !== undefined) writeFileSync(join(repo, "lanes.yaml"), o.project);
  if (o.user) {
    mkdirSync(env.LANES_CONFIG_DIR!, { recursive: true });
    writeFileSync(join(env.LANES_CONFIG_DIR!, "config.json"), JSON.stringify(o.user));
  }
  if (o.policy !== undefined) {
    writeFileSync(join(dir, "policy.yaml"), o.policy);
    env.LANES_POLICY = join(dir, "policy.yaml");
  }
  return { repo, env };
}

const load = (o: Parameters<typeof setup>[0]) => {
  const { repo, env } = setup(o);
  return loadConfig({ repo, env });
};

function problems(o: Parameters<typeof setup>[0]): ConfigProblem[] {
  try {
    load(o);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected the configuration to be rejected");
}

const TRUSTED_ENDPOINT = { id: "hosted", baseURL: "https://api.example.com/v1", model: "gpt-4.1-mini", apiKeyEnv: "K" };

describe("what a repository may set", () => {
  it("cannot name a key variable, even on loopback", () => {
    const p = problems({
      project: `tiers:\n  mine:\n    endpoints:\n      - { id: x, baseURL: "http://127.0.0.1:9/v1", model: m, apiKeyEnv: AWS_SECRET_ACCESS_KEY }\n`,
    });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ path: "tiers.mine.endpoints.0.apiKeyEnv", line: 4 });
    expect(p[0]!.message).toContain("cannot name a key variable");
  });

  it("may add an endpoint without a key on loopback, not elsewhere unless the user allows the host", () => {
    expect(
      load({ project: `tiers:\n  local:\n    endpoints: [{ id: l, baseURL: "http://127.0.0.1:8080/v1", model: m }]\n` })
        .config.tiers.local!.endpoints,
    ).toHaveLength(1);
    const off = `tiers:\n  mine:\n    endpoints: [{ id: x, baseURL: "https://llm.internal/v1", model: m }]\n`;
    expect(problems({ project: off })[0]!.message).toContain("only be on loopback or a host in endpoints.allowedHosts");
    expect(
      load({ project: off, user: { endpoints: { allowedHosts: ["llm.internal"] } } }).config.tiers.mine,
    ).toBeDefined();
  });

  it("refers to a trusted endpoint by id and gets its definition, key variable and URL included", () => {
    const { config } = load({
      user: { tiers: { standard: { endpoints: [TRUSTED_ENDPOINT] } } },
      project: `tiers:\n  cheap:\n    kind: hosted\n    endpoints: [{ id: hosted }]\nlanes:\n  mine:\n    tiers: [cheap]\n`,
    });
    expect(config.tiers.cheap!.endpoints[0]).toMatchObject({ baseURL: TRUSTED_ENDPOINT.baseURL, apiKeyEnv: "K" });
  });

  it("cannot replace the endpoints of a tier the user configured", () => {
    const p = problems({
      user: { tiers: { standard: { endpoints: [TRUSTED_ENDPOINT] } } },
      project: `tiers:\n  standard:\n    endpoints: [{ id: hosted, baseURL: "http://127.0.0.1:9/v1", model: m }]\n`,
    });
    expect(p[0]!.message).toContain("cannot change tier standard's endpoints");
  });

  it("plain http is refused off loopback in any layer", () => {
    const p = problems({
      user: { tiers: { standard: { endpoints: [{ ...TRUSTED_ENDPOINT, baseURL: "http://10.0.0.5/v1" }] } } },
    });
    expect(p[0]!.message).toContain("plain http only on loopback");
  });

  it("cannot set hosts, images, prices, identity or the policy block", () => {
    const p = problems({
      project:
        `hosts:\n  local: { url: "tcp://127.0.0.1:2375" }\n` +
        `sandbox:\n  profiles:\n    default: { image: "evil:latest" }\n` +
        `prices:\n  gpt-5: { inputPerMTok: 0 }\n` +
        `identity: { user: other@x }\n` +
        `policy: { lanes: open }\n`,
    });
    expect(p.map((x) => x.path).sort()).toEqual([
      "hosts",
      "identity",
      "policy",
      "prices",
      "sandbox.profiles.default.image",
    ]);
    expect(p.find((x) => x.path === "hosts")!.line).toBe(1);
  });

  it("may tighten a built-in lane, never loosen it", () => {
    expect(
      load({ project: `lanes:\n  async: { budget: { capUsd: 0.1 }, approval: { mode: ask } }\n` }).config.lanes.async,
    ).toMatchObject({ budget: { capUsd: 0.1 }, approval: { mode: "ask" } });
    const p = problems({
      project: `lanes:\n  async:\n    approval: { autoApproveUpTo: C4 }\n    budget: { capUsd: 50 }\n`,
    });
    expect(p.map((x) => x.path).sort()).toEqual(["lanes.async.approval.autoApproveUpTo", "lanes.async.budget.capUsd"]);
    expect(p[0]!.message).toMatch(/may only tighten/);
  });

  it("its own new lane is no looser than a lane's defaults", () => {
    const p = problems({
      project: `lanes:\n  free:\n    tiers: [standard]\n    approval: { mode: auto, autoApproveUpTo: C4 }\n    policyEdits: allow\n`,
    });
    expect(p.map((x) => x.path).sort()).toEqual(["lanes.free.approval.autoApproveUpTo", "lanes.free.policyEdits"]);
    // The same lane in the user's own settings is theirs to define.
    const { config } = load({
      user: { lanes: { free: { tiers: ["standard"], approval: { autoApproveUpTo: "C4" }, policyEdits: "allow" } } },
    });
    expect(config.lanes.free!.approval.autoApproveUpTo).toBe("C4");
  });

  it("a repository's budgets are added to the user's, never replace them", () => {
    const { config } = load({
      user: { budgets: [{ scope: "user", period: "day", limit: 5 }] },
      project: `budgets:\n  - { scope: project, period: day, limit: 1 }\n`,
    });
    expect(config.budgets.map((b) => b.scope)).toEqual(["user", "project"]);
  });

  it("a plain tcp Docker host needs TLS unless on loopback, even in user settings", () => {
    const p = problems({ user: { hosts: { far: { url: "tcp://10.1.2.3:2375" } } } });
    expect(p[0]!.message).toContain("needs tls");
  });
});

describe("org policy floors for every lane and profile", () => {
  const POLICY = `policy:\n  everyLane: { approval: { mode: ask }, policyEdits: deny }\n  everyProfile: { runtime: runsc }\n`;

  it("every lane inherits the floor, built-in or user-defined, named by the policy or not", () => {
    const { config } = load({ policy: POLICY, user: { lanes: { mine: { tiers: ["standard"] } } } });
    for (const lane of ["async", "eval", "mine"]) {
      expect(config.lanes[lane]!.approval.mode).toBe("ask");
      expect(config.lanes[lane]!.policyEdits).toBe("deny");
    }
    expect(config.lanes.premium!.approval.mode).toBe("always"); // stricter stays
    for (const p of Object.values(config.sandbox.profiles)) expect(p.runtime).toBe("runsc");
  });

  it("a repository lane or profile that sets something looser is refused, at its own line", () => {
    const p = problems({
      policy: POLICY,
      project:
        `lanes:\n  free:\n    tiers: [standard]\n    approval: { mode: auto }\n` +
        `sandbox:\n  profiles:\n    fast: { runtime: runc }\n`,
    });
    expect(p.map((x) => `${x.path}@${x.line}`).sort()).toEqual([
      "lanes.free.approval.mode@4",
      "sandbox.profiles.fast.runtime@7",
    ]);
    expect(p[0]!.message).toContain("loosens the org policy");
  });

  it("lanes: closed leaves only the policy's lanes", () => {
    const policy = `defaults: { lane: ci }\nlanes:\n  ci: { tiers: [standard], approval: { mode: ask } }\npolicy: { lanes: closed }\n`;
    expect(Object.keys(load({ policy }).config.lanes)).toEqual(["ci"]);
    const p = problems({ policy, project: `lanes:\n  extra: { tiers: [standard] }\n` });
    expect(p[0]!.message).toContain("closes the set of lanes");
  });
});

describe("the table", () => {
  it("covers every configuration key, and docs/trust.md is generated from it", () => {
    const keys = (schema: any, prefix: string): string[] => {
      let s = schema;
      while (["default", "prefault", "optional", "pipe"].includes(s._zod.def.type))
        s = s._zod.def.innerType ?? s._zod.def.in;
      if (s._zod.def.type === "record") return keys(s._zod.def.valueType, `${prefix}.*`);
      if (s._zod.def.type !== "object") return [prefix];
      return Object.entries(s._zod.def.shape).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k));
    };
    const governed = (k: string) => TRUST.some((r) => k === r.key || k.startsWith(`${r.key}.`));
    expect(keys(configSchema, "").filter((k) => !governed(k))).toEqual([]);
    const doc = readFileSync(new URL("../../docs/trust.md", import.meta.url), "utf8");
    expect(doc).toContain(trustTableMarkdown());
  });
});
