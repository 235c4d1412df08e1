import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, gitRepo, lanes, tempHome, userSettings, type RunResult } from "../helpers/cli.js";
import { closedPort } from "../helpers/endpoints.js";

const SECRET = "sk-test-SECRET-4d1c9e77";
const children: ReturnType<typeof spawn>[] = [];
afterEach(() => children.splice(0).forEach((c) => c.kill("SIGKILL")));

/** Keyed endpoints are the user's own settings (a repository cannot name a key variable). */
function project(yaml: string) {
  const home = tempHome();
  const repo = gitRepo(home.dir);
  writeFileSync(join(repo, "lanes.yaml"), "version: 1\n");
  userSettings(home, yaml);
  return { ...home, repo, env: { ...home.env, LANES_TEST_KEY: SECRET } };
}

/** `lanes endpoints replay FILE` in the background; resolves with its URL. */
function serveReplay(dir: string, script: string, env: NodeJS.ProcessEnv): Promise<string> {
  const file = join(dir, "script.yaml");
  writeFileSync(file, script);
  const child = spawn(process.execPath, [BIN, "endpoints", "replay", file, "--json"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve(JSON.parse(d.toString()).url));
    child.once("exit", (code) => reject(new Error(`replay exited ${code}`)));
  });
}

const tiers = (url: string) => `tiers:
  standard:
    endpoints:
      - { id: hosted, baseURL: "${url}", model: gpt-4.1-mini, apiKeyEnv: LANES_TEST_KEY }
  premium:
    endpoints:
      - { id: mystery, baseURL: "${url}", model: mystery-9, apiKeyEnv: LANES_TEST_KEY }
`;

describe("lanes endpoints", () => {
  it("lists tier, endpoint, model, price and context, with unpriced models marked", async () => {
    const { repo, env } = project(tiers("http://127.0.0.1:1/v1"));
    const r = await lanes(["endpoints", "ls", "--json"], { cwd: repo, env });
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect(rows).toEqual([
      {
        tier: "standard",
        endpoint: "hosted",
        model: "gpt-4.1-mini",
        baseURL: "http://127.0.0.1:1/v1",
        price: {
          inputPerMTok: 0.4,
          cachedInputPerMTok: 0.1,
          outputPerMTok: 1.6,
          source: expect.stringMatching(/^price table /),
        },
        contextWindow: 1047576,
        apiKeyEnv: "LANES_TEST_KEY",
      },
      {
        tier: "premium",
        endpoint: "mystery",
        model: "mystery-9",
        baseURL: "http://127.0.0.1:1/v1",
        price: { unpriced: true, reason: expect.stringContaining("not in the price table") },
        contextWindow: null,
        apiKeyEnv: "LANES_TEST_KEY",
      },
    ]);
    const plain = await lanes(["endpoints", "ls"], { cwd: repo, env });
    expect(plain.stdout).toMatch(/mystery-9\s+unpriced/);
  });

  it("checks a live replay endpoint (served by `lanes endpoints replay`) and exits 0", async () => {
    const { repo, env, dir } = project("{}\n");
    const url = await serveReplay(dir, "model: gpt-4.1-mini\nturns:\n  - say: hi\n", env);
    userSettings({ env }, tiers(url).split("  premium:")[0]!);
    const r = await lanes(["endpoints", "check", "--json"], { cwd: repo, env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).endpoints[0]).toMatchObject({
      endpoint: "hosted",
      ok: true,
      status: 200,
      modelServed: true,
      latencyMs: expect.any(Number),
    });
  });

  it("exits 6 for an endpoint that is down, naming the URL and what it answered", async () => {
    const port = await closedPort();
    const { repo, env } = project(tiers(`http://127.0.0.1:${port}/v1`).split("  premium:")[0]!);
    const r = await lanes(["endpoints", "check"], { cwd: repo, env });
    expect(r.code).toBe(6);
    expect(r.stdout).toContain(`http://127.0.0.1:${port}/v1/models → ECONNREFUSED`);
    expect(r.stderr).toContain("endpoint hosted is down");
  });

  it("never prints the API key, in any command or output mode", async () => {
    const { repo, env, dir } = project("{}\n");
    const url = await serveReplay(dir, "model: gpt-4.1-mini\nturns:\n  - say: hi\n", env);
    userSettings({ env }, tiers(url));
    const outputs = await Promise.all(
      [
        ["endpoints", "ls"],
        ["endpoints", "ls", "--json"],
        ["endpoints", "check"],
        ["endpoints", "check", "--json"],
        ["doctor", "--json"],
        ["config", "get", "--json"],
        ["--debug", "endpoints", "check", "nope"],
      ].map((a) => lanes(a, { cwd: repo, env })),
    );
    for (const o of outputs) expect(o.stdout + o.stderr).not.toContain(SECRET);
    // Each command did its work (a crash with empty output would pass the check above).
    expect(outputs.map((o) => o.code)).toEqual([0, 0, 0, 0, 0, 0, 2]);
    const [ls, lsJson, check, checkJson, doctor, config, debug] = outputs as [
      RunResult,
      RunResult,
      RunResult,
      RunResult,
      RunResult,
      RunResult,
      RunResult,
    ];
    expect(ls.stdout).toMatch(/standard\s+hosted\s+gpt-4\.1-mini[\s\S]*premium\s+mystery\s+mystery-9\s+unpriced/);
    expect(JSON.parse(lsJson.stdout).map((e: { apiKeyEnv: string }) => e.apiKeyEnv)).toEqual([
      "LANES_TEST_KEY",
      "LANES_TEST_KEY",
    ]);
    expect(check.stdout).toContain("standard/hosted");
    expect(check.stdout).toContain('the server does not list model "mystery-9"');
    expect(JSON.parse(checkJson.stdout).endpoints).toHaveLength(2);
    const names = JSON.parse(doctor.stdout).checks.map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(["endpoint standard/hosted", "endpoint premium/mystery"]));
    expect(JSON.parse(config.stdout).value.tiers.standard.endpoints[0].apiKeyEnv).toBe("LANES_TEST_KEY");
    expect(debug.stderr).toContain('no endpoint or tier named "nope"');
    expect(debug.stderr).toContain("LanesError"); // --debug printed the stack, still without the key
  });

  it("rejects a malformed replay script with file:line:col and exit 2", async () => {
    const { dir, env } = project("{}\n");
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "turns:\n  - say: hi\n    fault: explode\n");
    const r = await lanes(["endpoints", "replay", file], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${file}:3:12: turns.0.fault: invalid value (expected rate_limit | server_error | cut, got string "explode")`,
    );
  });
});
