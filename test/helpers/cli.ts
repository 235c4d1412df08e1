/** Spawn the built `lanes` binary with an isolated user-settings and data directory. */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const BIN = join(ROOT, "bin", "lanes.js");

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** The spawned process's pid: sandboxes it creates carry `dev.lanes.owner=HOST:PID`. */
  pid?: number;
}

export interface Sandbox {
  dir: string;
  env: NodeJS.ProcessEnv;
}

/** A temporary directory with its own LANES_CONFIG_DIR and LANES_HOME, not in CI mode by default. */
export function tempHome(prefix = "lanes-test-"): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LANES_CONFIG_DIR: join(dir, "config"),
    LANES_HOME: join(dir, "home"),
    NO_COLOR: "1",
  };
  for (const k of Object.keys(env))
    if (k.startsWith("LANES_") && !["LANES_CONFIG_DIR", "LANES_HOME"].includes(k)) delete env[k];
  delete env.FORCE_COLOR;
  return { dir, env };
}

/** A fresh git repository (one commit) inside `parent`. */
export function gitRepo(
  parent: string,
  name = "repo",
  files: Record<string, string> = { "README.md": "# sample\n" },
): string {
  const repo = join(parent, name);
  mkdirSync(repo, { recursive: true });
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(repo, f, ".."), { recursive: true });
    writeFileSync(join(repo, f), text);
  }
  const git = (...args: string[]) => spawnSync("git", args, { cwd: repo, encoding: "utf8" });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init");
  return repo;
}

export function lanes(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const { FORCE_COLOR: _colour, ...plainEnv } = process.env;
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: opts.env ?? plainEnv,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0, pid: child.pid });
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** A temporary home with a git repository, and optionally a lanes.yaml in it. */
export function project(yaml?: string) {
  const home = tempHome();
  const repo = gitRepo(home.dir);
  if (yaml !== undefined) writeFileSync(join(repo, "lanes.yaml"), yaml);
  return { ...home, repo };
}

/** Write the user's own settings (trusted: docs/trust.md) for a temporary home, from YAML or an object. */
export function userSettings(home: { env: NodeJS.ProcessEnv }, settings: string | object): string {
  const dir = home.env.LANES_CONFIG_DIR!;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "config.json");
  writeSettings(file, settings);
  return file;
}

/** The settings file is JSON (the `conf` store's): YAML written in a test is converted. */
export function writeSettings(file: string, settings: string | object): void {
  writeFileSync(file, JSON.stringify(typeof settings === "string" ? parseYaml(settings) : settings, null, 2));
}

/** The OS account: who runs are charged to and who approves (never LANES_USER or git's email). */
export const OS_USER = userInfo().username;
