import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { lanes, OS_USER, writeSettings } from "../helpers/cli.js";
import { requireImage } from "../helpers/docker.js";
import { DEMO, demoProject, events, serveReplay, stopReplays } from "../helpers/run.js";
import { closedPort } from "../helpers/endpoints.js";

beforeAll(() => requireImage());
afterEach(stopReplays);

/** A replay endpoint in its own process, as a hosted API would be; resolves with its URL. */
function serve(p: ReturnType<typeof demoProject>, script: string): Promise<string> {
  return serveReplay(p.env, script);
}

function commit(p: ReturnType<typeof demoProject>, yaml: string): void {
  writeSettings(p.settings, yaml);
  p.git("add", "-A");
  p.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "config");
}

/** A replay endpoint in its own process (as a hosted API would be), configured as the lane's tier. */
async function hostedReplay(p: ReturnType<typeof demoProject>, script: string): Promise<string> {
  const url = await serve(p, script);
  writeSettings(
    p.settings,
    `tiers:\n  standard:\n    endpoints: [{ id: hosted, baseURL: "${url}", model: gpt-4.1-mini, apiKeyEnv: LANES_TEST_KEY }]\nlanes:\n  t:\n    tiers: [standard]\n    budget: { capUsd: 0.25 }\n    approval: { mode: ask }\n    limits: { steps: 12, wallTime: 3m, commandTimeout: 30s }\n    check: node --test\n`,
  );
  p.git("add", "-A");
  p.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "config");
  return url;
}

describe("lanes run against a hosted (replay) endpoint", () => {
  it("runs a fresh saved plan that a person approved, with no prompt and no --yes", async () => {
    const p = demoProject("{}\n");
    const env: NodeJS.ProcessEnv = {
      ...p.env,
      LANES_TEST_KEY: "sk-test-never-printed-0000",
      CI: "true",
      LANES_APPROVAL_KEY: "sign-me",
    };
    await hostedReplay(p, join(DEMO, "fix-add.replay.yaml"));
    const file = join(p.dir, "plan.json");
    expect(
      (
        await lanes(["plan", "Make the failing test pass", "--lane", "t", "--out", file, "--check"], {
          cwd: p.repo,
          env,
        })
      ).code,
    ).toBe(3); // ask
    expect((await lanes(["run", "--plan", file], { cwd: p.repo, env })).code).toBe(3); // not approved yet
    expect((await lanes(["approve", file, "--yes"], { cwd: p.repo, env })).code).toBe(0);
    const r = await lanes(["run", "--plan", file, "--json"], { cwd: p.repo, env, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r.stdout);
    expect(ev.find((e) => e.type === "decision")).toMatchObject({ stage: "plan", approvedBy: OS_USER });
    expect(ev.at(-1)).toMatchObject({ type: "run_end", status: "finished", check: "passed" });
    expect(r.stdout + r.stderr).not.toContain("sk-test-never-printed");
    const traj = readFileSync(join(env.LANES_HOME!, "runs", ev.at(-1)!.runId, "trajectory.json"), "utf8");
    expect(traj).not.toContain("sk-test-never-printed");
  });

  it("never sends a secret planted in the repository to the hosted endpoint, and counts the redaction", async () => {
    const p = demoProject("{}\n");
    const secret = "sk-live-9f8E7d6C5b4A3f2E1d0C9b8A7f6E5d4C";
    writeFileSync(join(p.repo, ".env.example"), `OPENAI_API_KEY=${secret}\n`);
    const script = join(p.dir, "leak.yaml");
    writeFileSync(
      script,
      "model: gpt-4.1-mini\nturns:\n  - tools: [{ read_file: { path: .env.example } }]\n  - tools: [{ bash: { command: 'cat .env.example; grep -r sk-live . | head -3' } }]\n  - tools: [{ finish: { summary: looked } }]\n",
    );
    const url = await hostedReplay(p, script);
    const env: NodeJS.ProcessEnv = { ...p.env, LANES_TEST_KEY: "k" };
    const r = await lanes(["run", "look at the env file", "--lane", "t", "--yes", "--json"], {
      cwd: p.repo,
      env,
      timeoutMs: 120_000,
    });
    expect(r.code).toBe(1); // finished, check fails (nothing was fixed)
    const received = JSON.stringify(await (await fetch(url.replace(/\/v1$/, "/_replay/requests"))).json());
    expect(received).toContain("[REDACTED:openai_key]");
    expect(received).not.toContain(secret);
    expect(received).not.toContain(secret.slice(8, 30));
    const end = events(r.stdout).at(-1)!;
    const traj = JSON.parse(readFileSync(join(env.LANES_HOME!, "runs", end.runId, "trajectory.json"), "utf8"));
    expect(traj.redactions).toBeGreaterThanOrEqual(2);
  });

  const LANE =
    "lanes:\n  t:\n    tiers: [standard]\n    budget: { capUsd: 0.25 }\n    limits: { steps: 12, wallTime: 3m, commandTimeout: 30s }\n    check: node --test\n";

  it("fails over to a fallback of the same class when the lane's endpoint is down, and says so", async () => {
    const p = demoProject("{}\n");
    const url = await serve(p, join(DEMO, "fix-add.replay.yaml"));
    const down = `http://127.0.0.1:${await closedPort()}/v1`;
    commit(
      p,
      `tiers:\n  standard:\n    endpoints:\n      - { id: primary, baseURL: "${down}", model: gpt-4.1-mini, fallbacks: [backup] }\n      - { id: backup, baseURL: "${url}", model: gpt-4.1-mini }\n${LANE}`,
    );
    const r = await lanes(["run", "Make the failing test pass", "--lane", "t", "--json"], {
      cwd: p.repo,
      env: { ...p.env, CI: "true" },
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r.stdout);
    expect(ev.find((e) => e.type === "endpoint" && e.event.type === "failover")?.event).toMatchObject({
      from: "primary",
      to: "backup",
    });
    expect(ev.at(-1)).toMatchObject({ type: "run_end", status: "finished", check: "passed" });
  });

  it("--endpoint NAME runs on that endpoint of the tier", async () => {
    const p = demoProject("{}\n");
    const url = await serve(p, join(DEMO, "fix-add.replay.yaml"));
    const down = `http://127.0.0.1:${await closedPort()}/v1`;
    commit(
      p,
      `tiers:\n  standard:\n    endpoints:\n      - { id: first, baseURL: "${down}", model: gpt-4.1-mini }\n      - { id: second, baseURL: "${url}", model: gpt-4.1-mini }\n${LANE}`,
    );
    const env = { ...p.env, CI: "true" };
    const args = ["run", "Make the failing test pass", "--lane", "t", "--json"];
    const first = await lanes(args, { cwd: p.repo, env, timeoutMs: 120_000 });
    expect(first.code).toBe(6); // the tier's first endpoint is down
    const second = await lanes([...args, "--endpoint", "second"], { cwd: p.repo, env, timeoutMs: 120_000 });
    expect(second.code, second.stderr).toBe(0);
    expect(events(second.stdout).find((e) => e.type === "run_start")).toMatchObject({ endpoint: "second" });
  });

  it("with escalation: allow, a failed attempt escalates to the next tier, which passes", async () => {
    const p = demoProject("{}\n");
    const giveUp = join(p.dir, "give-up.yaml");
    writeFileSync(giveUp, "model: gpt-4.1-mini\nturns:\n  - tools: [{ finish: { summary: gave up } }]\n");
    const cheap = await serve(p, giveUp);
    const good = await serve(p, join(DEMO, "fix-add.replay.yaml"));
    commit(
      p,
      `tiers:\n  standard:\n    endpoints: [{ id: cheap, baseURL: "${cheap}", model: gpt-4.1-mini }]\n  premium:\n    endpoints: [{ id: good, baseURL: "${good}", model: gpt-4.1-mini }]\n` +
        "lanes:\n  t:\n    tiers: [standard, premium]\n    escalation: allow\n    budget: { capUsd: 0.25 }\n    approval: { mode: auto, autoApproveUpTo: C4 }\n    limits: { steps: 12, wallTime: 3m, commandTimeout: 30s }\n    check: node --test\n",
    );
    const r = await lanes(["run", "Make the failing test pass", "--lane", "t", "--json"], {
      cwd: p.repo,
      env: { ...p.env, CI: "true" },
      timeoutMs: 180_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r.stdout);
    expect(ev.find((e) => e.type === "escalation")).toMatchObject({ from: "standard", to: "premium" });
    expect(ev.filter((e) => e.type === "check").map((e) => e.passed)).toEqual([false, true]);
    expect(ev.at(-1)).toMatchObject({ type: "run_end", check: "passed" });
  });
});
