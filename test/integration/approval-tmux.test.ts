import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, gitRepo, lanes, tempHome, OS_USER } from "../helpers/cli.js";

const YAML = `tiers:
  standard:
    endpoints: [{ id: hosted, baseURL: "http://127.0.0.1:1/v1", model: gpt-4.1-mini }]
  premium:
    endpoints: [{ id: top, baseURL: "http://127.0.0.1:1/v1", model: gpt-5 }]
lanes:
  review: { tiers: [standard, premium], approval: { mode: ask } }
`;

function tmux(...args: string[]) {
  return spawnSync("tmux", args, { encoding: "utf8" });
}

async function screenUntil(session: string, text: string, ms = 15_000): Promise<string> {
  const end = Date.now() + ms;
  let screen = "";
  while (Date.now() < end) {
    screen = tmux("capture-pane", "-p", "-t", session).stdout;
    if (screen.includes(text)) return screen;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`"${text}" never appeared; screen:\n${screen}`);
}

describe("the approval prompt in a real terminal (tmux)", () => {
  it("switches tier on t (new class shown), approves on y, and records who approved", async () => {
    const { dir, env } = tempHome();
    const repo = gitRepo(dir);
    writeFileSync(join(repo, "lanes.yaml"), YAML);
    const file = join(dir, "plan.json");
    const env2: NodeJS.ProcessEnv = { ...env, LANES_USER: "ana" };
    expect((await lanes(["plan", "fix it", "--lane", "review", "--out", file], { cwd: repo, env: env2 })).code).toBe(0);

    const session = `lanes-${process.pid}`;
    const envArgs = Object.entries({
      LANES_HOME: env.LANES_HOME!,
      LANES_CONFIG_DIR: env.LANES_CONFIG_DIR!,
      LANES_USER: "ana",
    })
      .map(([k, v]) => `${k}='${v}'`)
      .join(" ");
    const cmd = `cd '${repo}' && env -u CI ${envArgs} '${process.execPath}' '${BIN}' approve '${file}'; echo EXIT=$?; sleep 30`;
    expect(tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", cmd).status).toBe(0);
    try {
      await screenUntil(session, "Approve this run?");
      expect(tmux("capture-pane", "-p", "-t", session).stdout).toContain("tier standard");
      tmux("send-keys", "-t", session, "Enter"); // not an answer
      tmux("send-keys", "-t", session, "t");
      // Keys are read in order: the switch shows the prompt was still waiting after Enter.
      const switched = await screenUntil(session, "tier premium");
      expect(switched).not.toContain("EXIT=");
      expect(switched).toMatch(/C\d \$+/);
      tmux("send-keys", "-t", session, "y");
      await screenUntil(session, "EXIT=0");
    } finally {
      tmux("kill-session", "-t", session);
    }
    const saved = JSON.parse(readFileSync(file, "utf8"));
    expect(saved.tier).toBe("premium");
    expect(saved.approval).toMatchObject({ by: OS_USER, how: "interactive" });
    const audit = JSON.parse((await lanes(["audit", "ls", "--json"], { cwd: repo, env: env2 })).stdout);
    expect(audit.at(-1)).toMatchObject({ action: "approve", outcome: { by: OS_USER, how: "interactive" } });
  }, 60_000);
});
