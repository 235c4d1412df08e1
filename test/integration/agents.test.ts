/**
 * External agents in a lane, behind the model gateway: the real Codex CLI from the npm registry
 * (installed into an image layer by `lanes images build --agent codex`) and a small script
 * agent, in hardened `network: none` sandboxes, against a replay endpoint over real HTTP.
 */
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { lanes, ROOT, writeSettings } from "../helpers/cli.js";
import { requireImage } from "../helpers/docker.js";
import { demoProject, events, serveReplay, stopReplays } from "../helpers/run.js";
import { CERTS, REMOTE_URL, requireRemote } from "../helpers/remote.js";

const KEY = "sk-test-gateway-key-never-in-sandbox-31337";
const CODEX_SCRIPT = `model: gpt-4.1-mini
turns:
  - say: "Running the tests first."
    tools:
      - exec_command: { cmd: "node --test 2>&1 | tail -n 15" }
  - tools:
      - exec_command: { cmd: "sed -i 's/return a - b;/return a + b;/' src/add.js && node --test 2>&1 | tail -n 5" }
  - say: "add() subtracted; it now adds, and the tests pass."
`;

const CLAUDE_SCRIPT =
  "model: gpt-4.1-mini\nturns:\n" +
  "  - say: Fixing add().\n    tools:\n" +
  `      - Bash: { command: "sed -i 's/return a - b;/return a + b;/' src/add.js && node --test 2>&1 | tail -n 5", description: fix }\n` +
  '  - say: "add() subtracted; it now adds."\n';

beforeAll(async () => {
  requireImage();
  // The agent's npm package, fetched from the registry once per version (cached outside the clone).
  const p = demoProject("{}\n");
  for (const [agent, image] of [
    ["codex", "lanes-agent-codex:0.171.0-lanes-sandbox-latest"],
    ["claude", "lanes-agent-claude:2.1.332-lanes-sandbox-latest"],
  ] as const) {
    const r = await lanes(["images", "build", "--agent", agent, "--json"], {
      cwd: p.repo,
      env: p.env,
      timeoutMs: 300_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ image });
  }
}, 650_000);
afterEach(stopReplays);

/** A demo repository whose lane's hosted tier is a replay server in its own process (priced like gpt-4.1-mini). */
async function hosted(script: string, capUsd = 0.25, extra = "", api = "chat") {
  const p = demoProject("{}\n", script);
  const url = await serveReplay(p.env, p.script);
  const yaml =
    `tiers:\n  standard:\n    endpoints: [{ id: hosted, baseURL: "${url}", model: gpt-4.1-mini, apiKeyEnv: LANES_TEST_KEY, api: ${api} }]\n` +
    `lanes:\n  t:\n    tiers: [standard]\n    budget: { capUsd: ${capUsd} }\n    approval: { mode: auto, autoApproveUpTo: C2 }\n` +
    `    limits: { steps: 12, wallTime: 3m, commandTimeout: 30s }\n    check: node --test\n${extra}`;
  writeSettings(p.settings, yaml); // the user's own: a keyed endpoint is never the repository's
  p.git("add", "-A");
  p.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "config");
  const env = { ...p.env, LANES_TEST_KEY: KEY, CI: "true" };
  const requests = async () =>
    (await (await fetch(url.replace(/\/v1$/, "/_replay/requests"))).json()) as Record<string, unknown>[];
  return { p, env, requests };
}

const TASK = "Make the failing test pass";

/** `lanes run --json` in lane t with these agent flags. */
function runWith(h: { p: { repo: string }; env: NodeJS.ProcessEnv }, agent: string[], task = TASK) {
  return lanes(["run", task, "--lane", "t", ...agent, "--json"], { cwd: h.p.repo, env: h.env, timeoutMs: 240_000 });
}

function trajectory(env: NodeJS.ProcessEnv, runId: string) {
  return JSON.parse(readFileSync(join(env.LANES_HOME!, "runs", runId, "trajectory.json"), "utf8"));
}

describe("lanes run --agent codex (the real Codex CLI behind the gateway)", () => {
  it("plans for the agent: its image, its own prompt in the estimate, and the plan names it", async () => {
    const { p, env } = await hosted(CODEX_SCRIPT);
    const r = await lanes(["plan", "Make the failing test pass", "--lane", "t", "--agent", "codex", "--json"], {
      cwd: p.repo,
      env,
    });
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.agent).toBe("codex");
    expect(plan.sandbox.image).toBe("lanes-agent-codex:0.171.0-lanes-sandbox-latest");
    expect(plan.tokens).toMatchObject({ exact: false });
    expect(plan.tokens.method).toContain("codex's own prompt");
    const own = JSON.parse(
      (await lanes(["plan", "Make the failing test pass", "--lane", "t", "--json"], { cwd: p.repo, env })).stdout,
    );
    expect(own.agent).toBeUndefined();
    expect(plan.tokens.prompt - own.tokens.prompt).toBe(5600);
    expect(plan.cost.p50Usd).toBeGreaterThan(own.cost.p50Usd);
  });

  it("doctor checks that a lane's agent is installed on its host, and says how to install it", async () => {
    const lane = (image: string) =>
      `  c: { tiers: [standard], agent: codex }\nsandbox:\n  profiles:\n    default: { image: ${image} }\n`;
    for (const [image, ok] of [
      ["lanes-sandbox:latest", true],
      ["lanes-base:bookworm-3", false],
    ] as const) {
      const { p, env } = await hosted(CODEX_SCRIPT, 0.25, lane(image));
      const r = await lanes(["doctor", "--json"], { cwd: p.repo, env, timeoutMs: 60_000 });
      const check = JSON.parse(r.stdout).checks.find((c: { name: string }) => c.name === "docker host local");
      expect(check.ok, JSON.stringify(check)).toBe(ok);
      if (!ok) {
        expect(check.detail).toContain("agent codex not installed");
        expect(check.hint).toBe("lanes images build --agent codex");
        expect(r.code).toBe(5);
      }
    }
  });

  it("says how to install the agent when its image is not on the host (exit 2), and charges nothing", async () => {
    const { p, env, requests } = await hosted(
      CODEX_SCRIPT,
      0.25,
      "sandbox:\n  profiles:\n    default: { image: lanes-base:bookworm-3 }\n",
    );
    const r = await lanes(["run", TASK, "--lane", "t", "--agent", "codex"], {
      cwd: p.repo,
      env,
      timeoutMs: 120_000,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("lanes images build --agent codex");
    expect(await requests()).toHaveLength(0);
  });

  it("fixes the demo repository in a network-none sandbox: check passes, patch applies, every call charged", async () => {
    const { p, env, requests } = await hosted(CODEX_SCRIPT);
    const r = await runWith({ p, env }, ["--agent", "codex"]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const ev = events(r.stdout);
    const end = ev.at(-1)!;
    expect(end).toMatchObject({ type: "run_end", status: "finished", check: "passed" });
    // Codex spoke the Responses API; the endpoint got Chat Completions, one per model call.
    const calls = ev.filter((e) => e.type === "model_call");
    expect(calls).toHaveLength(3);
    expect(await requests()).toHaveLength(3);
    const traj = trajectory(env, end.runId);
    const model = traj.trajectory.filter((t: { kind: string }) => t.kind === "model");
    expect(model.map((t: { data: { protocol: string } }) => t.data.protocol)).toEqual([
      "responses",
      "responses",
      "responses",
    ]);
    // Charged: the run's cost is the sum of its calls, and more than nothing.
    const sum = calls.reduce((s, c) => s + c.costUsd, 0);
    expect(sum).toBeGreaterThan(0);
    expect(end.cost.actualUsd).toBeCloseTo(sum, 9);
    const shown = await lanes(["runs", "show", end.runId, "--json"], { cwd: p.repo, env });
    expect(JSON.parse(shown.stdout).costUsd).toBeCloseTo(sum, 9);
    // The patch is the agent's fix, and applies to the repository.
    const patch = readFileSync(end.patch, "utf8");
    expect(patch).toContain("+  return a + b;");
    expect(p.git("apply", "--check", end.patch).status).toBe(0);
    // Each call was audited.
    const audit = await lanes(["audit", "ls", "--json"], { cwd: p.repo, env });
    const records = JSON.parse(audit.stdout) as { action: string; runId?: string; inputs?: { via?: string } }[];
    const charges = records.filter((a) => a.action === "charge" && a.runId === end.runId);
    expect(charges).toHaveLength(3);
    expect(charges.every((c) => c.inputs?.via === "gateway")).toBe(true);
    // The run taught the estimator about codex in this lane, and nothing about lanes' own loop.
    const planFor = async (...extra: string[]) =>
      JSON.parse(
        (await lanes(["plan", "Make the failing test pass", "--lane", "t", "--json", ...extra], { cwd: p.repo, env }))
          .stdout,
      ).cost.assumptions.join("; ");
    expect(await planFor("--agent", "codex")).toContain("(1 earlier runs)");
    expect(await planFor()).toContain("(0 earlier runs)");
  }, 300_000);

  it("passes Codex's own Responses requests through to an endpoint that speaks them (api: responses), metered", async () => {
    const { p, env, requests } = await hosted(CODEX_SCRIPT, 0.25, "", "responses");
    const secret = "sk-live-9f8E7d6C5b4A3f2E1d0C9b8A7f6E5d4C";
    const task = `Make the failing test pass (the old key ${secret} is revoked)`;
    const r = await runWith({ p, env }, ["--agent", "codex"], task);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const ev = events(r.stdout);
    const end = ev.at(-1)!;
    expect(end).toMatchObject({ type: "run_end", status: "finished", check: "passed" });
    // The endpoint got Codex's requests in the Responses API, unchanged but for model and limit.
    const sent = await requests();
    expect(sent.map((q) => q.path)).toEqual(["/v1/responses", "/v1/responses", "/v1/responses"]);
    expect(sent[0]).toMatchObject({ model: "gpt-4.1-mini", stream: true, store: false });
    expect(Array.isArray(sent[0]!.input)).toBe(true);
    expect(sent[0]!.max_output_tokens).toBeGreaterThan(0);
    // Redacted on its way to a hosted tier, passed through or not.
    expect(JSON.stringify(sent)).not.toContain(secret);
    expect(JSON.stringify(sent)).toContain("[REDACTED:openai_key]");
    const traj = trajectory(env, end.runId);
    const model = traj.trajectory.filter((t: { kind: string }) => t.kind === "model");
    expect(model.every((t: { data: { passthrough?: boolean } }) => t.data.passthrough === true)).toBe(true);
    const calls = ev.filter((e) => e.type === "model_call");
    expect(calls).toHaveLength(3);
    const sum = calls.reduce((n, c) => n + c.costUsd, 0);
    expect(sum).toBeGreaterThan(0);
    expect(end.cost.actualUsd).toBeCloseTo(sum, 9);
  }, 300_000);

  it("a cap too small for the task: the gateway stops the agent, the run ends budget_exhausted (exit 4) within the cap", async () => {
    const { p, env, requests } = await hosted(CODEX_SCRIPT, 0.003);
    const r = await runWith({ p, env }, ["--agent", "codex"]);
    expect(r.code, r.stderr).toBe(4);
    const end = events(r.stdout).at(-1)!;
    expect(end).toMatchObject({ type: "run_end", status: "budget_exhausted" });
    expect(end.cost.actualUsd).toBeGreaterThan(0);
    expect(end.cost.actualUsd).toBeLessThanOrEqual(0.003);
    expect((await requests()).length).toBeLessThan(3);
  }, 300_000);
});

const SCRIPT_AGENT_TURNS =
  "model: gpt-4.1-mini\nturns:\n" +
  `  - tools: [{ run: { cmd: "sed -i 's/return a - b;/return a + b;/' src/add.js && node --test 2>&1 | tail -n 3" } }]\n` +
  '  - say: "Fixed: add() now adds."\n';

/** The demo repository with the script agent committed in it (the sandbox gets the repository). */
function withScriptAgent(p: { repo: string; git: (...a: string[]) => unknown }) {
  copyFileSync(join(ROOT, "test/fixtures/agents/script_agent.py"), join(p.repo, "script_agent.py"));
  p.git("add", "-A");
  p.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "agent");
}

describe("lanes run --agent claude (Claude Code in print mode, over Anthropic Messages)", () => {
  it("fixes the demo repository: check passes, calls metered through the gateway", async () => {
    const { p, env, requests } = await hosted(CLAUDE_SCRIPT);
    const r = await runWith({ p, env }, ["--agent", "claude"]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const ev = events(r.stdout);
    expect(ev.at(-1)).toMatchObject({ type: "run_end", status: "finished", check: "passed" });
    const traj = trajectory(env, ev.at(-1)!.runId);
    const model = traj.trajectory.filter((t: { kind: string }) => t.kind === "model");
    expect(model.map((t: { data: { protocol: string } }) => t.data.protocol)).toEqual(["messages", "messages"]);
    expect(await requests()).toHaveLength(2);
    expect(ev.at(-1)!.cost.actualUsd).toBeGreaterThan(0);
  }, 300_000);
});

describe("lanes run --agent claude against an endpoint that speaks Anthropic Messages (api: messages)", () => {
  it("passes Claude Code's requests through unchanged, streamed, and charges what the endpoint reported", async () => {
    const { p, env, requests } = await hosted(CLAUDE_SCRIPT, 0.25, "", "messages");
    const r = await runWith({ p, env }, ["--agent", "claude"]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const ev = events(r.stdout);
    expect(ev.at(-1)).toMatchObject({ type: "run_end", status: "finished", check: "passed" });
    const sent = await requests();
    expect(sent.map((q) => q.path)).toEqual(["/v1/messages", "/v1/messages"]);
    expect(Array.isArray(sent[0]!.system) || typeof sent[0]!.system === "string").toBe(true);
    const calls = ev.filter((e) => e.type === "model_call");
    expect(calls.every((c) => c.tokensIn > 0 && c.costUsd > 0)).toBe(true);
  }, 300_000);
});

describe("lanes run --agent-cmd (a team's own agent)", () => {
  it("a standard-library script agent over Chat Completions and Anthropic Messages; the key never enters the sandbox", async () => {
    const { p, env, requests } = await hosted(SCRIPT_AGENT_TURNS);
    withScriptAgent(p);
    const r = await runWith({ p, env }, ["--agent-cmd", "python3 script_agent.py"]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const end = events(r.stdout).at(-1)!;
    expect(end).toMatchObject({ type: "run_end", status: "finished", check: "passed" });
    expect(end.summary ?? trajectory(env, end.runId).summary).toContain("Fixed: add() now adds.");
    const traj = trajectory(env, end.runId);
    const protocols = traj.trajectory
      .filter((t: { kind: string }) => t.kind === "model")
      .map((t: { data: { protocol: string } }) => t.data.protocol);
    expect(protocols).toEqual(["chat/completions", "messages"]);
    expect(await requests()).toHaveLength(2);
    // What the agent could see (its environment, every process's command line and environment):
    // the gateway's URLs and the run token, never the endpoint's key.
    const patch = readFileSync(end.patch, "utf8");
    expect(patch).toContain("+OPENAI_BASE_URL=http://127.0.0.1:4141/v1");
    expect(patch).toMatch(/\+LANES_GATEWAY_TOKEN=[A-Za-z0-9_-]{40,}/);
    expect(patch).toContain("PROC");
    expect(patch).toContain("+FILES WITH THE MARKER\n+END");
    expect(patch).not.toContain(KEY);
    expect(patch).not.toContain("LANES_TEST_KEY");
    expect(r.stdout + r.stderr).not.toContain(KEY);
  }, 300_000);

  it("on a remote TLS engine: the gateway's traffic rides the Engine API stream, the sandbox keeps network none", async () => {
    requireRemote();
    const hostYaml =
      `hosts:\n  remote: { url: "${REMOTE_URL}", tls: { ca: "${CERTS}/ca.pem", cert: "${CERTS}/client.pem", key: "${CERTS}/client-key.pem" } }\n` +
      "sandbox:\n  profiles:\n    default: { host: remote }\n";
    const { p, env, requests } = await hosted(SCRIPT_AGENT_TURNS, 0.25, hostYaml);
    withScriptAgent(p);
    const push = await lanes(["images", "push", "lanes-sandbox:latest", "--host", "remote"], {
      cwd: p.repo,
      env,
      timeoutMs: 240_000,
    });
    expect(push.code, push.stderr).toBe(0);
    const r = await runWith({ p, env }, ["--agent-cmd", "python3 script_agent.py"]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const ev = events(r.stdout);
    expect(ev.find((e) => e.type === "sandbox_ready")).toMatchObject({ host: "remote" });
    expect(ev.at(-1)).toMatchObject({ type: "run_end", status: "finished", check: "passed" });
    expect(await requests()).toHaveLength(2);
    expect(readFileSync(ev.at(-1)!.patch, "utf8")).not.toContain(KEY);
  }, 300_000);
});
