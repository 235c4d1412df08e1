/** A copy of the demo repository with a lanes.yaml and a replay script, for `lanes run` tests. */
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { ROOT, tempHome } from "./cli.js";

export const DEMO = join(ROOT, "examples/demo");

export function demoProject(lanesYaml: string, script?: string) {
  const home = tempHome("lanes-run-");
  const repo = join(home.dir, "repo");
  cpSync(join(DEMO, "repo"), repo, { recursive: true });
  writeFileSync(join(repo, "lanes.yaml"), lanesYaml);
  const git = (...a: string[]) => spawnSync("git", a, { cwd: repo, encoding: "utf8" });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init");
  let scriptPath = join(DEMO, "fix-add.replay.yaml");
  if (script) {
    scriptPath = join(home.dir, "script.yaml");
    writeFileSync(scriptPath, script);
  }
  return { ...home, repo, script: scriptPath, env: { ...home.env, LANES_USER: "tester" } as NodeJS.ProcessEnv, git };
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
