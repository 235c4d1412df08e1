import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { BIN, lanes, ROOT, tempHome, userSettings } from "../helpers/cli.js";
import { requireImage } from "../helpers/docker.js";
import { CERTS, REMOTE_URL, requireRemote } from "../helpers/remote.js";
import { DEMO } from "../helpers/run.js";

beforeAll(() => requireImage());
const children: ChildProcess[] = [];
afterEach(() => children.splice(0).forEach((c) => c.kill("SIGKILL")));

const SLOW_FIX = join(DEMO, "fix-add.replay.yaml");

async function setup(o: {
  repos: number;
  script?: string;
  lane?: string;
  extra?: string;
  batch: (repos: string[]) => string;
  /** Files written into repository i before its first commit. */
  repoFiles?: (i: number) => Record<string, string>;
}) {
  const home = tempHome("lanes-batch-");
  const env: NodeJS.ProcessEnv = { ...home.env, LANES_USER: "tester" };
  const repos: string[] = [];
  for (let i = 0; i < o.repos; i++) {
    const r = join(home.dir, "repos", `svc${i}`);
    mkdirSync(join(home.dir, "repos"), { recursive: true });
    cpSync(join(DEMO, "repo"), r, { recursive: true });
    for (const [f, text] of Object.entries(o.repoFiles?.(i) ?? {})) writeFileSync(join(r, f), text);
    spawnSync(
      "sh",
      ["-c", "git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm init"],
      { cwd: r },
    );
    repos.push(r);
  }
  const script = o.script ? join(home.dir, "script.yaml") : SLOW_FIX;
  if (o.script) writeFileSync(script, o.script);
  const replay = spawn(process.execPath, [BIN, "endpoints", "replay", script, "--json"], {
    env,
    stdio: ["ignore", "pipe", "ignore"],
  });
  children.push(replay);
  const url: string = await new Promise((resolve) =>
    replay.stdout!.once("data", (d: Buffer) => resolve(JSON.parse(d.toString()).url)),
  );
  // The batch's configuration is the user's own (trusted); each repository's lanes.yaml is not.
  userSettings(
    home,
    `tiers:\n  standard:\n    endpoints: [{ id: hosted, baseURL: "${url}", model: gpt-4.1-mini }]\nlanes:\n  b: { tiers: [standard], budget: { capUsd: 0.25 }, approval: ${o.lane ?? "{ mode: auto, autoApproveUpTo: C2 }"}, check: node --test, concurrency: 8, limits: { steps: 10, wallTime: 3m, commandTimeout: 60s } }\nbudgets:\n  - { scope: team, period: month, limit: 50 }\n${o.extra ?? ""}`,
  );
  spawnSync("git", ["init", "-q"], { cwd: home.dir });
  const file = join(home.dir, "batch.yaml");
  writeFileSync(file, o.batch(repos));
  const requests = async () =>
    (await (await fetch(url.replace(/\/v1$/, "/_replay/requests"))).json()) as { conversation: string | null }[];
  return { ...home, env, repos, file, url, requests };
}

type Json = Record<string, any>;
const jsonLines = (s: string) =>
  s
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe("lanes batch", () => {
  it("runs 12 tasks over 4 repositories with concurrency 3: right results, never more than 3 sandboxes at once", async () => {
    const s = await setup({
      repos: 4,
      batch: (repos) =>
        `lane: b\nbudget: { capUsd: 5 }\nconcurrency: 3\ntasks:\n${[0, 1, 2].flatMap((k) => repos.map((r) => `  - { repo: "${r}", task: "Make the failing test pass (round ${k})" }`)).join("\n")}\n`,
    });
    const child = spawn(process.execPath, [BIN, "batch", s.file, "--json"], {
      cwd: s.dir,
      env: s.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const owner = `label=dev.lanes.owner=${hostname()}:${child.pid}`;
    let max = 0;
    const sampler = setInterval(() => {
      const n = spawnSync("docker", ["ps", "-q", "--filter", owner], { encoding: "utf8" })
        .stdout.trim()
        .split("\n")
        .filter(Boolean).length;
      max = Math.max(max, n);
    }, 100);
    const code = await new Promise((r) => child.on("exit", r));
    clearInterval(sampler);
    expect(code).toBe(0);
    const end = jsonLines(out).find((e) => e.type === "batch_end");
    expect(end.counts).toEqual({ succeeded: 12 });
    expect(end.tasks.every((t: { check: string }) => t.check === "passed")).toBe(true);
    expect(max).toBeLessThanOrEqual(3);
    expect(max).toBeGreaterThanOrEqual(2); // it did run in parallel
    // Each task is its own conversation with the replay endpoint: 5 model calls each.
    const reqs = await s.requests();
    const per = new Map<string, number>();
    for (const r of reqs) per.set(String(r.conversation), (per.get(String(r.conversation)) ?? 0) + 1);
    expect([...per.values()]).toEqual(Array(12).fill(5));
  }, 180_000);

  it("runs each task under its own repository's lanes.yaml check, a per-task check over it, and --branch per repository", async () => {
    const lane = (check: string) =>
      `lanes:\n  b: { tiers: [standard], check: "${check}", limits: { steps: 10, wallTime: 3m, commandTimeout: 60s } }\n`;
    const s = await setup({
      repos: 2,
      repoFiles: (i) => ({ "lanes.yaml": lane(i === 0 ? "node --test" : "test -f NEVER") }),
      batch: (repos) =>
        `lane: b\nbudget: { capUsd: 5 }\nconcurrency: 3\ntasks:\n` +
        `  - { repo: "${repos[0]}", task: "Make the failing test pass" }\n` +
        `  - { repo: "${repos[1]}", task: "Make the failing test pass" }\n` +
        `  - { repo: "${repos[1]}", task: "Make the failing test pass (again)", check: "node --test" }\n`,
    });
    const r = await lanes(["batch", s.file, "--json", "--yes", "--branch", "lanes/fix"], {
      cwd: s.dir,
      env: s.env,
      timeoutMs: 150_000,
    });
    const events = jsonLines(r.stdout);
    const plan = events.find((e) => e.type === "batch_plan");
    expect(plan.tasks.map((t: Json) => [t.check, t.config])).toEqual([
      ["node --test", join(s.repos[0]!, "lanes.yaml")],
      ["test -f NEVER", join(s.repos[1]!, "lanes.yaml")],
      ["node --test", join(s.repos[1]!, "lanes.yaml")],
    ]);
    const end = events.find((e) => e.type === "batch_end");
    expect(end.tasks.map((t: Json) => t.status)).toEqual(["succeeded", "failed", "succeeded"]);
    expect(end.tasks[0].applied).toEqual([{ ok: true, how: "branch" }]);
    expect(end.tasks[1].applied).toEqual([
      { ok: false, how: "branch", reason: expect.stringContaining("the check did not pass") },
    ]);
    expect(end.tasks[2].applied).toEqual([{ ok: true, how: "branch" }]);
    expect(r.code).toBe(1);
    const branches = (repo: string) =>
      spawnSync("git", ["branch", "--format=%(refname:short)"], { cwd: repo, encoding: "utf8" }).stdout.trim();
    expect(branches(s.repos[0]!)).toBe("lanes/fix\nmain");
    // Two tasks in one repository: a branch each, named by task; the failed one made none.
    expect(branches(s.repos[1]!)).toBe("lanes/fix-2\nmain");
    const fixed = spawnSync("git", ["show", "lanes/fix:src/add.js"], { cwd: s.repos[0], encoding: "utf8" }).stdout;
    expect(fixed).toContain("a + b");
    expect(spawnSync("git", ["status", "--porcelain"], { cwd: s.repos[0], encoding: "utf8" }).stdout).toBe("");
  }, 180_000);

  it("--dry-run prints one aggregated plan whose totals equal the sum of the tasks' plans", async () => {
    const s = await setup({
      repos: 3,
      batch: () =>
        `lane: b\nbudget: { capUsd: 2 }\nmatrix:\n  repos: ["repos/*"]\n  task: "Make the failing test pass"\n`,
    });
    const r = await lanes(["batch", s.file, "--dry-run", "--json"], { cwd: s.dir, env: s.env });
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout.split("\n")[0]!);
    expect(plan.tasks).toHaveLength(3);
    const sum = (k: string) => plan.tasks.reduce((n: number, t: Record<string, number>) => n + t[k]!, 0);
    expect(plan.totals.p50Usd).toBeCloseTo(sum("p50Usd"), 12);
    expect(plan.totals.p90Usd).toBeCloseTo(sum("p90Usd"), 12);
    expect(plan.totals.capsUsd).toBeCloseTo(sum("capUsd"), 12);
    expect(plan.quota[0]).toMatchObject({ bucket: expect.stringMatching(/^team:default:month:/), cap: 0.75 });
    expect(plan.decision.verdict).toBe("allow");
  });

  it("stops scheduling when the batch budget cannot cover the next task's cap: the rest are not_started (budget), exit 4", async () => {
    const s = await setup({
      repos: 4,
      batch: () =>
        `lane: b\nbudget: { capUsd: 0.6 }\nconcurrency: 3\nmatrix:\n  repos: ["repos/*"]\n  task: "Make the failing test pass"\n`,
    });
    const r = await lanes(["batch", s.file, "--json"], { cwd: s.dir, env: s.env, timeoutMs: 120_000 });
    expect(r.code).toBe(4);
    const end = jsonLines(r.stdout).find((e) => e.type === "batch_end");
    expect(end.counts.succeeded).toBe(2);
    expect(end.counts.not_started).toBe(2);
    expect(
      end.tasks
        .filter((t: { status: string }) => t.status === "not_started")
        .every((t: { detail: string }) => t.detail === "budget"),
    ).toBe(true);
    expect(end.spentUsd).toBeLessThanOrEqual(0.6);
    const q = JSON.parse((await lanes(["quota", "--json"], { cwd: s.dir, env: s.env })).stdout);
    expect(q.buckets[0].used).toBeCloseTo(end.spentUsd, 9); // the ledger agrees
  }, 120_000);

  it("after SIGKILL mid-batch, --resume runs only what did not finish, never a finished task twice, and keeps the crashed charges", async () => {
    const slow = readFileSync(SLOW_FIX, "utf8").replace(
      "  - tools:\n      - finish:",
      "  - tools:\n      - bash: { command: 'sleep 3' }\n  - tools:\n      - finish:",
    );
    const s = await setup({
      repos: 3,
      script: slow,
      batch: () =>
        `lane: b\nbudget: { capUsd: 5 }\nconcurrency: 1\nmatrix:\n  repos: ["repos/*"]\n  task: "Make the failing test pass"\n`,
    });
    const child = spawn(process.execPath, [BIN, "batch", s.file, "--json"], {
      cwd: s.dir,
      env: s.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    for (
      let i = 0;
      i < 300 && !/"status":"running"[^\n]*\n[\s\S]*"status":"succeeded"[\s\S]*"status":"running"/.test(out);
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    // The second task is mid-run once its own run events show a tool call.
    const midRun = () => {
      const events = jsonLines(out.slice(0, out.lastIndexOf("\n") + 1));
      const done = new Set(events.filter((e) => e.status === "succeeded").map((e) => e.idx));
      return events.some((e) => e.type === "task_event" && e.event.type === "tool_start" && !done.has(e.idx));
    };
    for (let i = 0; i < 300 && !midRun(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(midRun()).toBe(true);
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));
    const batchId = jsonLines(out).find((e) => e.type === "task")!.batchId;
    const firstRun = jsonLines(out).find((e) => e.status === "succeeded")!;
    const r = await lanes(["batch", "--resume", batchId, "--json"], { cwd: s.dir, env: s.env, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const end = jsonLines(r.stdout).find((e) => e.type === "batch_end");
    expect(end.counts).toEqual({ succeeded: 3 });
    const byIdx = Object.fromEntries(end.tasks.map((t: { idx: number }) => [t.idx, t]));
    expect(byIdx[firstRun.idx].attempts).toBe(1); // finished before the crash: not run again
    expect(end.tasks.map((t: { attempts: number }) => t.attempts).sort()).toEqual([1, 1, 2]); // the crashed one ran again
    const reqs = await s.requests();
    expect(reqs.filter((q) => q.conversation === firstRun.runId)).toHaveLength(6);
    const crashed = end.tasks.find((t: { attempts: number }) => t.attempts === 2);
    expect(crashed.costUsd).toBeGreaterThanOrEqual(0.25); // the crashed hold, charged its worst case, plus the rerun
    const q = JSON.parse((await lanes(["quota", "--json"], { cwd: s.dir, env: s.env })).stdout);
    expect(q.buckets[0].used).toBeCloseTo(end.spentUsd, 9);
    expect(q.buckets[0].held).toBeCloseTo(0, 9);
  }, 180_000);

  it("in CI without approval exits 3 before any sandbox starts", async () => {
    const s = await setup({
      repos: 2,
      lane: "{ mode: ask }",
      batch: () =>
        `lane: b\nbudget: { capUsd: 1 }\nmatrix:\n  repos: ["repos/*"]\n  task: "Make the failing test pass"\n`,
    });
    const r = await lanes(["batch", s.file], { cwd: s.dir, env: { ...s.env, CI: "true" } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("batch: approval needed (approval.ask) and there is no terminal to ask in");
    expect((await s.requests()).length).toBe(0);
    const runs = JSON.parse((await lanes(["runs", "ls", "--json"], { cwd: s.dir, env: s.env })).stdout);
    expect(runs).toEqual([]);
  });

  it("writes the Markdown report to GITHUB_STEP_SUMMARY and annotates failed tasks", async () => {
    const broken = "model: gpt-4.1-mini\nturns:\n  - tools: [{ finish: { summary: nothing } }]\n";
    const s = await setup({
      repos: 2,
      script: broken,
      batch: () =>
        `name: nightly\nlane: b\nbudget: { capUsd: 1 }\nmatrix:\n  repos: ["repos/*"]\n  task: "Make the failing test pass"\n`,
    });
    const summary = join(s.dir, "summary.md");
    const r = await lanes(["batch", s.file], {
      cwd: s.dir,
      env: { ...s.env, GITHUB_STEP_SUMMARY: summary, GITHUB_ACTIONS: "true" },
      timeoutMs: 120_000,
    });
    expect(r.code).toBe(1);
    const md = readFileSync(summary, "utf8");
    expect(md).toContain("## lanes batch nightly");
    expect(md).toContain("| # | repository | status | check | cost | patch |");
    expect(md.match(/❌ failed/g)).toHaveLength(2);
    // Annotations go to stderr (the runner reads both); stdout is the report.
    expect(r.stderr.match(/^::error title=lanes batch task \d::.*failed/gm)).toHaveLength(2);
    expect(r.stdout).not.toContain("::error");
    // With --json under GitHub Actions, stdout is only events: each task's run events, tagged.
    const again = await lanes(["batch", s.file, "--json"], {
      cwd: s.dir,
      env: { ...s.env, GITHUB_ACTIONS: "true" },
      timeoutMs: 120_000,
    });
    const events = jsonLines(again.stdout); // throws on any non-JSON line
    const tagged = events.filter((e) => e.type === "task_event");
    expect(new Set(tagged.map((e) => e.idx))).toEqual(new Set([0, 1]));
    expect(tagged.filter((e) => e.event.type === "run_start")).toHaveLength(2);
    expect(tagged.find((e) => e.event.type === "check")?.event).toMatchObject({ passed: false });
  }, 180_000);

  it("--fail-fast stops scheduling after the first failed task: the rest are not_started, exit 1", async () => {
    const broken = "model: gpt-4.1-mini\nturns:\n  - tools: [{ finish: { summary: nothing } }]\n";
    const s = await setup({
      repos: 3,
      script: broken,
      batch: () =>
        `lane: b\nbudget: { capUsd: 1 }\nconcurrency: 1\nmatrix:\n  repos: ["repos/*"]\n  task: "Make the failing test pass"\n`,
    });
    const r = await lanes(["batch", s.file, "--json", "--fail-fast"], { cwd: s.dir, env: s.env, timeoutMs: 120_000 });
    expect(r.code).toBe(1);
    const end = jsonLines(r.stdout).find((e) => e.type === "batch_end");
    expect(end.tasks.map((t: { status: string; detail?: string }) => `${t.status}:${t.detail ?? ""}`)).toEqual([
      expect.stringMatching(/^failed:/),
      "not_started:fail-fast",
      "not_started:fail-fast",
    ]);
    expect((await s.requests()).length).toBe(1); // one model call: only the first task ran
  }, 120_000);

  it("uses the remote TLS engine when the local host is at capacity", async () => {
    requireRemote();
    const s = await setup({
      repos: 2,
      extra: `hosts:\n  local: { capacity: 1 }\n  remote: { url: "${REMOTE_URL}", tls: { ca: "${CERTS}/ca.pem", cert: "${CERTS}/client.pem", key: "${CERTS}/client-key.pem" }, capacity: 2 }\n`,
      batch: () =>
        `lane: b\nbudget: { capUsd: 2 }\nconcurrency: 2\nhosts: [local, remote]\nmatrix:\n  repos: ["repos/*"]\n  task: "Make the failing test pass"\n`,
    });
    const push = await lanes(["images", "push", "lanes-sandbox:latest", "--host", "remote"], {
      cwd: s.dir,
      env: s.env,
      timeoutMs: 120_000,
    });
    expect(push.code, push.stderr).toBe(0);
    const r = await lanes(["batch", s.file, "--json"], { cwd: s.dir, env: s.env, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const end = jsonLines(r.stdout).find((e) => e.type === "batch_end");
    expect(end.tasks.map((t: { host: string }) => t.host).sort()).toEqual(["local", "remote"]);
    expect(end.counts).toEqual({ succeeded: 2 });
  }, 180_000);

  it("runs every task with a team's own agent behind the gateway (agentCmd in the batch file)", async () => {
    const agent = readFileSync(join(ROOT, "test/fixtures/agents/script_agent.py"), "utf8");
    const s = await setup({
      repos: 2,
      repoFiles: () => ({ "script_agent.py": agent }),
      script:
        "model: gpt-4.1-mini\nturns:\n" +
        `  - tools: [{ run: { cmd: "sed -i 's/return a - b;/return a + b;/' src/add.js" } }]\n` +
        '  - say: "Fixed."\n',
      batch: (repos) =>
        `lane: b\nbudget: { capUsd: 1 }\nconcurrency: 2\nagentCmd: python3 script_agent.py\ntasks:\n` +
        repos.map((r) => `  - { repo: "${r}", task: "Make the failing test pass" }`).join("\n") +
        "\n",
    });
    const r = await lanes(["batch", s.file, "--json", "--yes"], { cwd: s.dir, env: s.env, timeoutMs: 240_000 });
    expect(r.code, r.stderr).toBe(0);
    const end = jsonLines(r.stdout).find((e) => e.type === "batch_end");
    expect(end.tasks.map((t: Json) => [t.status, t.check])).toEqual([
      ["succeeded", "passed"],
      ["succeeded", "passed"],
    ]);
    // Two model calls per task (Chat Completions, then Anthropic Messages), each its own conversation.
    const sent = await s.requests();
    expect(sent).toHaveLength(4);
    expect(new Set(sent.map((q) => q.conversation)).size).toBe(2);
  }, 300_000);
});
