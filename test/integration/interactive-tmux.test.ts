/**
 * The interactive prompts inside `lanes run` and `lanes batch`, in a real terminal (tmux): the
 * run's approval, an escalation's approval, and the batch's approval, each answered by a key.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { BIN, lanes, writeSettings, OS_USER } from "../helpers/cli.js";
import { requireImage } from "../helpers/docker.js";
import { DEMO, demoProject, serveReplay, stopReplays } from "../helpers/run.js";

beforeAll(() => requireImage());
afterEach(stopReplays);

function tmux(...args: string[]) {
  return spawnSync("tmux", args, { encoding: "utf8" });
}

async function screenUntil(session: string, text: string | RegExp, ms = 60_000): Promise<string> {
  const end = Date.now() + ms;
  let screen = "";
  while (Date.now() < end) {
    screen = tmux("capture-pane", "-p", "-S", "-200", "-t", session).stdout;
    if (typeof text === "string" ? screen.includes(text) : text.test(screen)) return screen;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`"${String(text)}" never appeared; screen:\n${screen}`);
}

/** Run `args` in a fresh tmux session (a real terminal, CI unset); the command ends by printing EXIT=<code>. */
async function inTerminal(cwd: string, env: NodeJS.ProcessEnv, args: string[], drive: (s: string) => Promise<void>) {
  const session = `lanes-i-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const vars = ["LANES_HOME", "LANES_CONFIG_DIR", "LANES_USER"].map((k) => `${k}='${env[k]}'`).join(" ");
  const quoted = args.map((a) => `'${a}'`).join(" ");
  const cmd = `cd '${cwd}' && env -u CI ${vars} '${process.execPath}' '${BIN}' ${quoted}; echo EXIT=$?; sleep 60`;
  expect(tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", cmd).status).toBe(0);
  try {
    await drive(session);
  } finally {
    tmux("kill-session", "-t", session);
  }
}

const serve = serveReplay;

const LIMITS = "    limits: { steps: 12, wallTime: 3m, commandTimeout: 30s }\n    check: node --test\n";

describe("interactive prompts in a real terminal (tmux)", () => {
  it("lanes run asks before it starts, and runs on y", async () => {
    const p = demoProject("{}\n");
    const url = await serve(p.env, join(DEMO, "fix-add.replay.yaml"));
    writeSettings(
      p.settings,
      `tiers:\n  standard:\n    endpoints: [{ id: hosted, baseURL: "${url}", model: gpt-4.1-mini }]\nlanes:\n  t:\n    tiers: [standard]\n    approval: { mode: ask }\n${LIMITS}`,
    );
    await inTerminal(p.repo, p.env, ["run", "Make the failing test pass", "--lane", "t"], async (s) => {
      const asked = await screenUntil(s, "Approve this run?");
      expect(asked).toContain("approval.ask");
      expect(asked).not.toContain("EXIT=");
      tmux("send-keys", "-t", s, "y");
      expect(await screenUntil(s, /EXIT=\d+/)).toContain("EXIT=0");
    });
    const audit = JSON.parse((await lanes(["audit", "ls", "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(audit.find((a: { action: string }) => a.action === "approve")).toMatchObject({
      outcome: { by: OS_USER, how: "interactive" },
    });
  }, 120_000);

  it("an escalation asks in the terminal, and the escalated attempt runs on y", async () => {
    const p = demoProject("{}\n");
    const giveUp = join(p.dir, "give-up.yaml");
    writeFileSync(giveUp, "model: gpt-4.1-mini\nturns:\n  - tools: [{ finish: { summary: gave up } }]\n");
    const cheap = await serve(p.env, giveUp);
    const good = await serve(p.env, join(DEMO, "fix-add.replay.yaml"));
    writeSettings(
      p.settings,
      `tiers:\n  standard:\n    endpoints: [{ id: cheap, baseURL: "${cheap}", model: gpt-4.1-mini }]\n  premium:\n    endpoints: [{ id: good, baseURL: "${good}", model: gpt-4.1-mini }]\n` +
        `lanes:\n  t:\n    tiers: [standard, premium]\n    escalation: ask\n    approval: { mode: auto, autoApproveUpTo: C4 }\n${LIMITS}`,
    );
    await inTerminal(p.repo, p.env, ["run", "Make the failing test pass", "--lane", "t"], async (s) => {
      const asked = await screenUntil(s, "Approve this run?");
      expect(asked).toContain("tier premium");
      tmux("send-keys", "-t", s, "y");
      expect(await screenUntil(s, /EXIT=\d+/)).toContain("EXIT=0");
    });
  }, 120_000);

  it("lanes batch asks once for the whole batch, and runs on y", async () => {
    const p = demoProject("{}\n");
    const url = await serve(p.env, join(DEMO, "fix-add.replay.yaml"));
    const repos = join(p.dir, "repos");
    mkdirSync(repos);
    for (const name of ["a", "b"]) {
      cpSync(join(DEMO, "repo"), join(repos, name), { recursive: true });
      spawnSync(
        "sh",
        ["-c", "git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm i"],
        {
          cwd: join(repos, name),
        },
      );
    }
    writeFileSync(
      join(p.dir, "lanes.yaml"),
      `tiers:\n  standard:\n    endpoints: [{ id: hosted, baseURL: "${url}", model: gpt-4.1-mini }]\nlanes:\n  b:\n    tiers: [standard]\n    approval: { mode: ask }\n${LIMITS}`,
    );
    writeFileSync(
      join(p.dir, "batch.yaml"),
      'lane: b\nbudget: { capUsd: 2 }\nmatrix:\n  repos: ["repos/*"]\n  task: "Make the failing test pass"\n',
    );
    await inTerminal(p.dir, p.env, ["batch", "batch.yaml"], async (s) => {
      const asked = await screenUntil(s, "Approve this batch?");
      expect(asked).not.toContain("EXIT=");
      tmux("send-keys", "-t", s, "y");
      expect(await screenUntil(s, /EXIT=\d+/, 90_000)).toContain("EXIT=0");
    });
  }, 150_000);

  it("NO_COLOR=1 turns the ink panel's colours off (and they are on without it)", async () => {
    const p = demoProject(
      'tiers:\n  standard:\n    endpoints: [{ id: hosted, baseURL: "http://127.0.0.1:1/v1", model: gpt-4.1-mini }]\n',
    );
    const panel = async (extra: string) => {
      const session = `lanes-c-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
      const vars = ["LANES_HOME", "LANES_CONFIG_DIR", "LANES_USER"].map((k) => `${k}='${p.env[k]}'`).join(" ");
      const cmd = `cd '${p.repo}' && env -u CI -u NO_COLOR -u FORCE_COLOR ${vars} ${extra} '${process.execPath}' '${BIN}' plan 'fix it' --lane eval; echo EXIT=$?; sleep 60`;
      expect(tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", cmd).status).toBe(0);
      try {
        await screenUntil(session, /EXIT=\d+/);
        return tmux("capture-pane", "-e", "-p", "-t", session).stdout;
      } finally {
        tmux("kill-session", "-t", session);
      }
    };
    const colour = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*3[0-7]m`);
    expect(await panel("")).toMatch(colour);
    const plain = await panel("NO_COLOR=1");
    expect(plain).toContain("decision");
    expect(plain).not.toMatch(colour);
  }, 60_000);
});
