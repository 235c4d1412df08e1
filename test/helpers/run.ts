/** A copy of the demo repository with a lanes.yaml and a replay script, for `lanes run` tests. */
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { BIN, ROOT, tempHome, userSettings } from "./cli.js";

export const DEMO = join(ROOT, "examples/demo");

/**
 * `settings` is the user's own configuration (trusted: their endpoints, lanes and approval rules),
 * written to their settings file; the repository's lanes.yaml is `repoYaml` (untrusted).
 */
export function demoProject(settings: string, script?: string, repoYaml = "version: 1\n") {
  const home = tempHome("lanes-run-");
  const repo = join(home.dir, "repo");
  cpSync(join(DEMO, "repo"), repo, { recursive: true });
  const settingsFile = userSettings(home, settings);
  writeFileSync(join(repo, "lanes.yaml"), repoYaml);
  const git = (...a: string[]) => spawnSync("git", a, { cwd: repo, encoding: "utf8" });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init");
  let scriptPath = join(DEMO, "fix-add.replay.yaml");
  if (script) {
    scriptPath = join(home.dir, "script.yaml");
    writeFileSync(scriptPath, script);
  }
  return {
    ...home,
    repo,
    /** The user's settings file (YAML text): where a test changes the configuration. */
    settings: settingsFile,
    script: scriptPath,
    env: { ...home.env, LANES_USER: "tester" } as NodeJS.ProcessEnv,
    git,
  };
}

export const LANES = (extra = "", tiers = "standard") => `tiers:
  standard:
    endpoints: [{ id: hosted, baseURL: "http://127.0.0.1:1/v1", model: gpt-4.1-mini }]
  premium:
    endpoints: [{ id: top, baseURL: "http://127.0.0.1:1/v1", model: gpt-5 }]
lanes:
  t:
    tiers: [${tiers}]
    budget: { capUsd: 0.25 }
    approval: { mode: auto, autoApproveUpTo: C2 }
    escalation: ask
    limits: { steps: 12, wallTime: 3m, commandTimeout: 30s }
    check: node --test
${extra}`;

/** JSON events from a `lanes run --json` stdout. */
export function events(stdout: string): Record<string, any>[] {
  return stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

const replays: ChildProcess[] = [];

/** `lanes endpoints replay SCRIPT` in its own process, as a hosted API would be; resolves with its URL. */
export function serveReplay(env: NodeJS.ProcessEnv, script: string): Promise<string> {
  const child = spawn(process.execPath, [BIN, "endpoints", "replay", script, "--json"], {
    env,
    stdio: ["ignore", "pipe", "ignore"],
  });
  replays.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once("data", (d: Buffer) => resolve(JSON.parse(d.toString()).url));
    child.once("exit", (code) => reject(new Error(`lanes endpoints replay exited ${code}`)));
  });
}

/** Stop every replay server serveReplay started (an afterEach/afterAll hook). */
export function stopReplays(): void {
  replays.splice(0).forEach((c) => c.kill("SIGKILL"));
}
