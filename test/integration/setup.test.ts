/**
 * A real repository with npm dependencies (test/fixtures/deps-repo): the lane's setup installs
 * them through the allowlist proxy from the registry this host uses, the check (`npm test`, which
 * needs them) passes in the sandbox; the second run starts from the cached layer with no network.
 */
import { spawnSync } from "node:child_process";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lanes, ROOT, tempHome } from "../helpers/cli.js";
import { requireImage } from "../helpers/docker.js";
import { events } from "../helpers/run.js";

beforeAll(() => requireImage());
const MARKER = `setup-${process.pid}-${Date.now().toString(36)}`; // a fresh cache key for this test run
const images: string[] = [];
afterAll(() => {
  for (const i of images) spawnSync("docker", ["rmi", "-f", i]);
});

function depsRepo(marker = `${MARKER}-run`) {
  const home = tempHome("lanes-setup-");
  const repo = join(home.dir, "repo");
  cpSync(join(ROOT, "test/fixtures/deps-repo"), repo, { recursive: true });
  const yaml =
    "tiers:\n  standard:\n    endpoints: [{ id: hosted, baseURL: 'http://127.0.0.1:1/v1', model: gpt-4.1-mini }]\n" +
    "lanes:\n  t:\n    tiers: [standard]\n    budget: { capUsd: 0.25 }\n    check: npm test\n" +
    "    limits: { steps: 5, wallTime: 5m, commandTimeout: 2m }\n" +
    `    setup: { commands: ["npm ci --no-audit --no-fund", "echo ${marker}"], key: [package-lock.json] }\n`;
  spawnSync("sh", ["-c", `cat > lanes.yaml <<'EOF'\n${yaml}EOF`], { cwd: repo });
  spawnSync("sh", ["-c", "git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm i"], {
    cwd: repo,
  });
  const script = join(home.dir, "finish.yaml");
  spawnSync("sh", [
    "-c",
    `printf 'model: gpt-4.1-mini\\nturns:\\n  - tools: [{ finish: { summary: ok } }]\\n' > ${script}`,
  ]);
  return { ...home, repo, script, env: { ...home.env, LANES_USER: "tester", CI: "true" } as NodeJS.ProcessEnv };
}

describe("a lane's setup and its dependency cache", () => {
  it("installs through the allowlist the first time, then starts from the cache with no network", async () => {
    const p = depsRepo();
    const run = () =>
      lanes(["run", "do nothing", "--lane", "t", "--endpoint", `replay:${p.script}`, "--json", "--yes"], {
        cwd: p.repo,
        env: p.env,
        timeoutMs: 300_000,
      });
    const plan1 = JSON.parse((await lanes(["plan", "x", "--lane", "t", "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(plan1.sandbox.setup).toMatchObject({ cached: false });
    expect(plan1.sandbox.relaxations).toContainEqual(
      expect.objectContaining({ field: "network", value: "allowlist (during the setup only)" }),
    );

    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    const ev1 = events(first.stdout);
    const setup1 = ev1.find((e) => e.type === "setup")!;
    expect(setup1).toMatchObject({ cached: false, exitCode: 0 });
    const cached = ev1.find((e) => e.type === "setup_cached")!;
    expect(cached.image).toBe(`lanes-deps:${plan1.sandbox.setup.key}`);
    images.push(cached.image);
    expect(ev1.filter((e) => e.type === "egress" && e.allowed).length).toBeGreaterThan(0);
    expect(ev1.at(-1)).toMatchObject({ type: "run_end", check: "passed" });

    const plan2 = JSON.parse((await lanes(["plan", "x", "--lane", "t", "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(plan2.sandbox.setup).toMatchObject({ cached: true, key: plan1.sandbox.setup.key });
    expect(plan2.sandbox.relaxations).toEqual([]);
    const second = await run();
    expect(second.code, second.stderr).toBe(0);
    const ev2 = events(second.stdout);
    const setup2 = ev2.find((e) => e.type === "setup")!;
    expect(setup2).toMatchObject({ cached: true, exitCode: 0 });
    expect(ev2.some((e) => e.type === "egress")).toBe(false); // no network at all
    expect(ev2.at(-1)).toMatchObject({ type: "run_end", check: "passed" });
    expect(setup2.ms).toBeLessThan(setup1.ms);
  }, 600_000);

  it("images build --deps caches the setup ahead (approved like any relaxation), and sandbox gc ages it out", async () => {
    const p = depsRepo(`${MARKER}-ahead`);
    const build = (extra: string[] = []) =>
      lanes(["images", "build", "--deps", "--lane", "t", "--json", ...extra], {
        cwd: p.repo,
        env: p.env,
        timeoutMs: 300_000,
      });
    const refused = await build();
    expect(refused.code).toBe(3); // CI without --yes: the setup's egress is not approved
    const first = await build(["--yes"]);
    expect(first.code, first.stderr).toBe(0);
    const made = JSON.parse(first.stdout);
    expect(made).toMatchObject({ ok: true, cached: false, image: expect.stringMatching(/^lanes-deps:/) });
    images.push(made.image);
    expect(JSON.parse((await build()).stdout)).toMatchObject({ cached: true, image: made.image });
    const audit = JSON.parse((await lanes(["audit", "ls", "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(audit.some((a: { action: string }) => a.action === "egress")).toBe(true);
    const gc = await lanes(["sandbox", "gc", "--deps-older-than", "0s", "--json"], { cwd: p.repo, env: p.env });
    expect(gc.code, gc.stderr).toBe(0);
    expect(JSON.parse(gc.stdout).hosts[0].result.images).toContain(made.image);
    expect(spawnSync("docker", ["image", "inspect", made.image]).status).not.toBe(0);
  }, 600_000);
});
