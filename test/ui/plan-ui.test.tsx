import { stripVTControlCharacters } from "node:util";
import { render } from "ink-testing-library";
import { describe, expect, it, vi } from "vitest";
import type { Plan } from "../../src/app/plan-task.js";
import { ApprovalPrompt } from "../../src/ui/ApprovalPrompt.js";
import { PlanPanel } from "../../src/ui/PlanPanel.js";
import { QuotaBar } from "../../src/ui/QuotaBar.js";

// The level is the plan's (configured thresholds); these follow the defaults, 80% and 95%.
const quota = (
  used: number,
  level: Plan["quota"][number]["level"] = used >= 95 ? "ask" : used >= 80 ? "warn" : "ok",
): Plan["quota"][number] => ({
  bucket: "team:core:month:2026-11",
  unit: "usd",
  used,
  held: 0,
  projected: 1,
  cap: 2,
  limit: 100,
  kind: "hard",
  level,
  resetsAt: new Date(Date.now() + 3 * 86_400_000).toISOString(),
});
const plan: Plan = {
  version: 2,
  createdAt: "2026-11-22T00:00:00.000Z",
  task: { text: "fix", template: "adhoc" },
  repo: { root: "/r", head: null, tree: "0".repeat(64), exclude: [] },
  sandbox: { host: "local", image: "lanes-sandbox:latest", runtime: "runc", profile: "default", relaxations: [] },
  lane: "async",
  tier: "standard",
  endpoint: { id: "hosted", model: "gpt-4.1-mini", baseURL: "http://x/v1" },
  tokens: { prompt: 1234, exact: true, method: "gpt-tokenizer o200k_base" },
  cost: { p50Usd: 0.012, p90Usd: 0.074, capUsd: 0.5, class: "C1", label: "$", assumptions: [] },
  quota: [quota(50)],
  decision: {
    verdict: "ask",
    reasons: [
      { rule: "approval.always", level: "soft", message: "lane async requires a human approval for every run" },
    ],
  },
  identity: { user: "ana", team: "core", project: "r" },
  inputs: { policyHash: "p", priceVersion: "v", policies: [] },
  planHash: "h",
};

// ink renders colours as ANSI codes: 33 yellow, 31 red, 32 green. The colour asserted is the one
// the bar's own cells (█) and its percentage are drawn in, not any colour somewhere in the frame.
const NAMES: Record<string, string> = { "31": "red", "32": "green", "33": "yellow" };
const colourBefore = (frame: string, what: RegExp) =>
  NAMES[new RegExp(`\u001b\\[(\\d+)m${what.source}`).exec(frame)?.[1] ?? ""] ?? "none";

describe("QuotaBar", () => {
  it.each([
    [50, "green", "50%"],
    [85, "yellow", "85%"],
    [97, "red", "97%"],
  ])("at %s%% is %s", (used, colour, pct) => {
    const { lastFrame } = render(<QuotaBar q={quota(used)} />);
    const frame = lastFrame()!;
    expect(colourBefore(frame, /█/)).toBe(colour);
    expect(colourBefore(frame, / \d+%/)).toBe(colour);
    expect(frame).toContain(pct);
    expect(frame).toContain("resets in 3d");
  });
});

describe("QuotaBar thresholds", () => {
  it("follows the configured thresholds through the plan's level, not built-in 80/95%", () => {
    // With rules.quota.warnAt 0.5, a bucket at 60% is "warn" in the plan: yellow, though under 80%.
    const frame = render(<QuotaBar q={quota(60, "warn")} />).lastFrame()!;
    expect(colourBefore(frame, /█/)).toBe("yellow");
  });
});

describe("PlanPanel", () => {
  it("shows lane, tier, endpoint, the class badge with its range and cap, quota and reasons", () => {
    const frame = stripVTControlCharacters(render(<PlanPanel plan={plan} />).lastFrame()!);
    for (const s of [
      "lane async",
      "tier standard",
      "endpoint hosted",
      " C1 $ ",
      "$0.012 – $0.074",
      "cap $0.500",
      "1,234 tokens (exact)",
      "team:core:month:2026-11",
      "ASK",
      "approval.always",
    ])
      expect(frame).toContain(s);
  });
});

describe("ApprovalPrompt", () => {
  it("answers only an explicit key: Enter does nothing, y approves, n denies, t switches", async () => {
    const onAnswer = vi.fn();
    const { stdin } = render(<ApprovalPrompt canApprove canSwitch onAnswer={onAnswer} />);
    // Keys are handled in order: had Enter or space answered, their answer would come first.
    for (const k of ["\r", " ", "t", "n", "y"]) stdin.write(k);
    await vi.waitFor(() => expect(onAnswer).toHaveBeenCalledTimes(3));
    expect(onAnswer.mock.calls.map((c) => c[0])).toEqual(["switch", "deny", "approve"]);
  });
  it("reads keys that arrive in one chunk one by one (typed fast, or pasted)", async () => {
    const onAnswer = vi.fn();
    const { stdin } = render(<ApprovalPrompt canApprove canSwitch onAnswer={onAnswer} />);
    stdin.write("\rt");
    await vi.waitFor(() => expect(onAnswer).toHaveBeenCalled());
    expect(onAnswer.mock.calls.map((c) => c[0])).toEqual(["switch"]);
  });
  it("cannot approve a denied plan", async () => {
    const onAnswer = vi.fn();
    const { stdin, lastFrame } = render(<ApprovalPrompt canApprove={false} canSwitch={false} onAnswer={onAnswer} />);
    expect(lastFrame()).toContain("cannot be approved");
    stdin.write("y");
    stdin.write("n");
    await vi.waitFor(() => expect(onAnswer).toHaveBeenCalled());
    expect(onAnswer.mock.calls.map((c) => c[0])).toEqual(["deny"]);
  });
});

describe("RunView", () => {
  it("shows each step's tool, command and exit code, the cost bar against the cap, and the end", async () => {
    const { RunView } = await import("../../src/ui/RunView.js");
    const events = [
      {
        type: "run_start",
        runId: "r1",
        lane: "demo",
        tier: "standard",
        endpoint: "hosted",
        class: "C1",
        p50Usd: 0.01,
        p90Usd: 0.03,
        capUsd: 0.1,
      },
      { type: "tool_start", step: 1, tool: "bash", summary: "npm test" },
      { type: "tool_end", step: 1, tool: "bash", exitCode: 1, ms: 420 },
      {
        type: "model_call",
        step: 2,
        tokensIn: 10,
        tokensOut: 5,
        costUsd: 0.05,
        spentUsd: 0.085,
        capUsd: 0.1,
        ms: 5,
        maxTokens: 100,
      },
      {
        type: "run_end",
        runId: "r1",
        status: "finished",
        check: "passed",
        patch: "/p.diff",
        cost: { actualUsd: 0.085, p90Usd: 0.03, capUsd: 0.1 },
        steps: 2,
        durationMs: 1000,
        usage: { promptTokens: 1, completionTokens: 1, cachedTokens: 0, estimated: false },
      },
    ] as never[];
    const frame = render(<RunView events={events} elapsedMs={1500} capUsd={0.1} />).lastFrame()!;
    const text = stripVTControlCharacters(frame);
    for (const s of [
      "run r1",
      "step 1 bash npm test → exit 1 420 ms",
      "$0.085 of $0.100 · 1.5 s",
      "finished · check passed",
    ])
      expect(text).toContain(s);
    expect(frame).toContain("\u001b[33m"); // 85% of the cap: yellow
  });
  it("shows the plan's cap from the first frame, before the run has started", async () => {
    const { RunView } = await import("../../src/ui/RunView.js");
    const text = stripVTControlCharacters(render(<RunView events={[]} elapsedMs={0} capUsd={0.25} />).lastFrame()!);
    expect(text).toContain("$0.00 of $0.250");
  });
});

describe("QuotaBar with a long bucket id", () => {
  it("cuts an e-mail identity in the middle to 30 columns instead of wrapping the panel", async () => {
    const { fit } = await import("../../src/ui/QuotaBar.js");
    const id = "user:ana.maria.lastname@example-corporation.com:month:2026-12";
    expect(fit(id, 30)).toHaveLength(30);
    expect(fit(id, 30)).toBe("user:ana.maria.…:month:2026-12");
    const frame = stripVTControlCharacters(render(<QuotaBar q={{ ...quota(10), bucket: id }} />).lastFrame()!);
    expect(frame.startsWith("user:ana.maria.…:month:2026-12 ")).toBe(true);
  });
});

describe("BatchView", () => {
  it("shows a row per task with status, steps, cost and duration, and the progress and budget bars", async () => {
    const { BatchView } = await import("../../src/ui/BatchView.js");
    const rows = [
      {
        idx: 0,
        repo: "/x/repos/svc0",
        last: {
          type: "task" as const,
          batchId: "b",
          idx: 0,
          repo: "/x/repos/svc0",
          status: "succeeded" as const,
          steps: 5,
          costUsd: 0.9,
          durationMs: 2100,
        },
      },
      {
        idx: 1,
        repo: "/x/repos/svc1",
        last: {
          type: "task" as const,
          batchId: "b",
          idx: 1,
          repo: "/x/repos/svc1",
          status: "running" as const,
          host: "remote",
        },
      },
      { idx: 2, repo: "/x/repos/svc2" },
    ];
    const frame = render(<BatchView rows={rows} budgetUsd={1} elapsedMs={3000} />).lastFrame()!;
    const text = stripVTControlCharacters(frame);
    expect(text).toMatch(/0\s+repos\/svc0\s+succeeded\s+5\s+\$0\.900\s+2\.1 s/);
    expect(text).toMatch(/1\s+repos\/svc1\s+running\s+on remote/);
    expect(text).toMatch(/2\s+repos\/svc2\s+pending/);
    expect(text).toContain("1/3 · 3.0 s");
    expect(text).toContain("$0.900 of $1.00");
    expect(frame).toContain("\u001b[33m"); // 90% of the budget: yellow
  });
});
