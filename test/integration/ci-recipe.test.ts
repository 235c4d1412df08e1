/**
 * The GitHub Actions recipe (templates/ci/github-actions.yml), its steps run in order as a runner
 * would (test/helpers/gha.ts): a fresh LANES_HOME per job, CI=true, GITHUB_* set, no terminal.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, lanes, writeSettings } from "../helpers/cli.js";
import { requireImage } from "../helpers/docker.js";
import { runJob } from "../helpers/gha.js";
import { DEMO, demoProject, events, serveReplay, stopReplays } from "../helpers/run.js";

beforeAll(() => requireImage());
afterAll(stopReplays);

const WORKFLOW = join(ROOT, "templates/ci/github-actions.yml");
const KEY = "approvers-key-from-the-secret-store";

async function repository() {
  const p = demoProject("{}\n");
  const url = await serveReplay(p.env, join(DEMO, "fix-add.replay.yaml"));
  writeSettings(
    p.settings,
    `defaults: { lane: ci }\ntiers:\n  standard:\n    endpoints: [{ id: hosted, baseURL: "${url}", model: gpt-4.1-mini, apiKeyEnv: OPENAI_API_KEY }]\n` +
      "lanes:\n  ci:\n    tiers: [standard]\n    approval: { mode: ask }\n    budget: { capUsd: 0.5 }\n" +
      "    limits: { steps: 12, wallTime: 3m, commandTimeout: 30s }\n    check: node --test\n",
  );
  mkdirSync(join(p.repo, ".lanes", "tasks"), { recursive: true });
  writeFileSync(join(p.repo, ".lanes", "tasks", "nightly.md"), "Make the failing test pass\n");
  writeFileSync(
    join(p.repo, ".lanes", "batch.yaml"),
    'lane: ci\nbudget: { capUsd: 1 }\nmatrix:\n  repos: ["."]\n  task: "Make the failing test pass"\n',
  );
  p.git("add", "-A");
  p.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "lanes");
  return p;
}

describe("the GitHub Actions recipe on a simulated runner", () => {
  it("plan job: --check exits 3 for an ask lane, and the plan artifact is still kept", async () => {
    const p = await repository();
    const job = runJob({
      workflow: WORKFLOW,
      job: "plan",
      event: "pull_request",
      cwd: p.repo,
      env: p.env,
      secrets: { OPENAI_API_KEY: "sk-x" },
    });
    expect(job.steps.find((s) => s.name.startsWith("Plan"))).toMatchObject({ ran: true, code: 3 });
    expect(job.failed).toBe(true);
    expect(job.steps.find((s) => s.name === "Keep the plan")).toMatchObject({ ran: true });
    const plan = JSON.parse(readFileSync(join(job.artifacts["lanes-plan"]!, "lanes-plan.json"), "utf8"));
    expect(plan).toMatchObject({ lane: "ci", decision: { verdict: "ask" } });
  });

  it("run job: a plan approved (signed) on a branch and committed runs on a fresh runner; results are kept", async () => {
    const p = await repository();
    // The approver, on their machine: plan, approve with the key, commit the plan file.
    const file = join(p.repo, ".lanes", "approved-plan.json");
    const person = { ...p.env, OPENAI_API_KEY: "sk-x", LANES_APPROVAL_KEY: KEY };
    expect((await lanes(["plan", "@.lanes/tasks/nightly.md", "--out", file], { cwd: p.repo, env: person })).code).toBe(
      0,
    );
    expect((await lanes(["approve", file, "--yes"], { cwd: p.repo, env: person })).code).toBe(0);
    p.git("add", "-A");
    p.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "approved plan");

    const job = runJob({
      workflow: WORKFLOW,
      job: "run",
      event: "workflow_dispatch",
      cwd: p.repo,
      env: p.env,
      secrets: { OPENAI_API_KEY: "sk-x", LANES_APPROVAL_KEY: KEY },
    });
    const runStep = job.steps.find((s) => s.name === "Run the approved plan")!;
    expect(runStep.code, runStep.stderr).toBe(0);
    expect(job.failed).toBe(false);
    const results = join(job.artifacts["lanes-results"]!, "lanes-results");
    const ev = events(readFileSync(join(results, "lanes-run.jsonl"), "utf8"));
    expect(ev.at(-1)).toMatchObject({ type: "run_end", status: "finished", check: "passed" });
    const runId = ev.at(-1)!.runId as string;
    expect(readFileSync(join(results, "runs", runId, "patch.diff"), "utf8")).toContain("+  return a + b;");
    expect(existsSync(join(results, "audit.jsonl"))).toBe(true);
  });

  it("batch job: the report goes to the step summary, stdout carries only JSON events", async () => {
    const p = await repository();
    const job = runJob({
      workflow: WORKFLOW,
      job: "batch",
      event: "schedule",
      cwd: p.repo,
      env: p.env,
      secrets: { OPENAI_API_KEY: "sk-x" },
    });
    const batch = job.steps.find((s) => s.name === "Batch")!;
    expect(batch.code, batch.stderr).toBe(0);
    expect(job.summary).toContain("## lanes batch");
    const out = readFileSync(join(job.artifacts["lanes-results"]!, "lanes-results", "lanes-batch.jsonl"), "utf8");
    const lines = events(out); // throws on a line that is not JSON (an annotation, say)
    expect(lines.at(-1)).toMatchObject({ type: "batch_end" });
    expect(readdirSync(join(job.artifacts["lanes-results"]!, "lanes-results", "batches"))).toHaveLength(1);
  });
});
