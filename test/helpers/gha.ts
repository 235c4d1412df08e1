/**
 * A small GitHub Actions runner for one job of a workflow file: the steps in order, each `run:`
 * under `bash -eo pipefail` with the runner's environment (CI=true, GITHUB_*, RUNNER_TEMP, no
 * terminal), GITHUB_ENV and GITHUB_STEP_SUMMARY files, `${{ secrets.* }}`, `${{ vars.* }}` and
 * `${{ runner.temp }}` substituted, `if: always()` honoured after a failure, and
 * actions/upload-artifact copying its paths aside. checkout and setup-node are the test's own
 * repository and Node; the "Install lanes" step is the harness putting the built `lanes` on PATH
 * (installing the packed tarball itself is what test/integration/pack.test.ts checks).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { parse } from "yaml";
import { BIN } from "./cli.js";

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}

export interface StepResult {
  name: string;
  ran: boolean;
  code: number | null;
  stderr: string;
}

export interface JobResult {
  steps: StepResult[];
  failed: boolean;
  /** Uploaded artifacts: name → the directory holding what was uploaded. */
  artifacts: Record<string, string>;
  summary: string;
}

export function runJob(o: {
  workflow: string;
  job: string;
  event: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  secrets?: Record<string, string>;
  vars?: Record<string, string>;
}): JobResult {
  const wf = parse(readFileSync(o.workflow, "utf8")) as {
    jobs: Record<string, { if?: string; env?: Record<string, string>; steps: Step[] }>;
  };
  const job = wf.jobs[o.job];
  if (!job) throw new Error(`no job ${o.job}`);
  if (job.if && !job.if.includes(`'${o.event}'`)) throw new Error(`job ${o.job} does not run on ${o.event}`);
  const temp = mkdtempSync(join(tmpdir(), "gha-runner-"));
  const bin = join(temp, "bin");
  mkdirSync(bin);
  const envFile = join(temp, "github-env");
  const summaryFile = join(temp, "step-summary.md");
  writeFileSync(envFile, "");
  writeFileSync(summaryFile, "");
  const sub = (s: string) =>
    s
      .replace(/\$\{\{\s*secrets\.(\w+)\s*\}\}/g, (_, k: string) => o.secrets?.[k] ?? "")
      .replace(/\$\{\{\s*vars\.(\w+)\s*\}\}/g, (_, k: string) => o.vars?.[k] ?? "")
      .replace(/\$\{\{\s*runner\.temp\s*\}\}/g, temp)
      .replace(/\$\{\{\s*github\.workspace\s*\}\}/g, o.cwd);
  let env: NodeJS.ProcessEnv = {
    ...o.env,
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_EVENT_NAME: o.event,
    GITHUB_JOB: o.job,
    GITHUB_REPOSITORY: "acme/service",
    GITHUB_RUN_ID: "4242",
    GITHUB_WORKSPACE: o.cwd,
    GITHUB_ENV: envFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: temp,
    PATH: `${bin}:${o.env.PATH ?? process.env.PATH}`,
    ...Object.fromEntries(Object.entries(job.env ?? {}).map(([k, v]) => [k, sub(String(v))])),
  };
  delete env.TERM;
  const steps: StepResult[] = [];
  const artifacts: Record<string, string> = {};
  let failed = false;
  for (const [i, step] of job.steps.entries()) {
    const name = step.name ?? step.uses ?? `step ${i + 1}`;
    const runs = step.if?.trim() === "always()" || (!failed && (step.if === undefined || step.if === "success()"));
    if (!runs) {
      steps.push({ name, ran: false, code: null, stderr: "" });
      continue;
    }
    let code = 0;
    let stderr = "";
    if (step.uses?.startsWith("actions/upload-artifact")) {
      const dest = join(temp, "artifacts", String(step.with?.name ?? "artifact"));
      mkdirSync(dest, { recursive: true });
      for (const p of String(step.with?.path ?? "")
        .split("\n")
        .filter(Boolean)) {
        const path = sub(p.trim());
        const src = isAbsolute(path) ? path : join(o.cwd, path);
        if (existsSync(src)) cpSync(src, join(dest, path.split("/").pop()!), { recursive: true });
      }
      artifacts[String(step.with?.name)] = dest;
    } else if (step.run && name === "Install lanes") {
      writeFileSync(join(bin, "lanes"), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
      chmodSync(join(bin, "lanes"), 0o755);
    } else if (step.run) {
      const stepEnv = {
        ...env,
        ...Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, sub(String(v))])),
      };
      const r = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", sub(step.run)], {
        cwd: o.cwd,
        env: stepEnv,
        stdio: ["ignore", "pipe", "pipe"],
        encoding: "utf8",
        timeout: 300_000,
      });
      code = r.status ?? 1;
      stderr = r.stderr;
      // GITHUB_ENV: NAME=value lines set the environment of the steps after this one.
      for (const line of readFileSync(envFile, "utf8").split("\n")) {
        const eq = line.indexOf("=");
        if (eq > 0) env = { ...env, [line.slice(0, eq)]: line.slice(eq + 1) };
      }
    }
    steps.push({ name, ran: true, code, stderr });
    if (code !== 0) failed = true;
  }
  return { steps, failed, artifacts, summary: readFileSync(summaryFile, "utf8") };
}
