/**
 * The one event stream: runs, batches and waits emit these, and every view renders them — the
 * ink views, the plain printer, and `--json` (one event per line, nothing else on stdout).
 */
import type { EgressEvent } from "./sandbox.js";
import type { Decision, Reason } from "./policy.js";
import type { EndpointEvent, Usage } from "./models.js";

export type RunStatus =
  | "finished"
  | "budget_exhausted"
  | "step_limit"
  | "time_limit"
  | "loop_detected"
  | "interrupted"
  | "model_error"
  /** An external agent exited unsuccessfully (its output tail is in the summary). */
  | "agent_failed";

export type RunEvent =
  | {
      type: "run_start";
      runId: string;
      lane: string;
      tier: string;
      endpoint: string;
      class: string;
      p50Usd: number | null;
      p90Usd: number | null;
      capUsd: number;
    }
  | { type: "decision"; stage: "plan" | "escalation"; tier: string; decision: Decision; approvedBy?: string }
  | { type: "sandbox_ready"; id: string; host: string; fromPool: boolean; ms: number }
  | {
      type: "model_call";
      step: number;
      tokensIn: number;
      tokensOut: number;
      costUsd: number;
      spentUsd: number;
      capUsd: number;
      ms: number;
      maxTokens: number;
    }
  | { type: "tool_start"; step: number; tool: string; summary: string }
  | {
      type: "tool_end";
      step: number;
      tool: string;
      exitCode?: number;
      ms: number;
      truncatedBytes?: number;
      error?: string;
    }
  | { type: "warning"; message: string }
  | ({ type: "egress" } & EgressEvent)
  /** A lane's setup ran (or its cache was restored) before the agent started. */
  | { type: "setup"; cached: boolean; commands: string[]; exitCode: number; ms: number; outputTail?: string }
  | { type: "setup_cached"; image: string; bytes: number; ms: number }
  | { type: "endpoint"; event: EndpointEvent }
  | { type: "agent_end"; status: RunStatus; steps: number; summary: string }
  | {
      type: "check";
      command: string;
      exitCode: number;
      passed: boolean;
      ms: number;
      /** The end of what a failed check printed (stdout, then stderr). */
      outputTail?: string;
    }
  | { type: "escalation"; from: string; to: string; reason: string }
  | {
      type: "run_end";
      runId: string;
      status: string;
      check: "passed" | "failed" | "unchecked";
      /** The end of what a failed check printed. */
      checkOutput?: string;
      patch: string | null;
      /** Files of the patch that edit policy (lanes.yaml, .lanes/, CI configuration). */
      policyEdits: string[];
      /** What happened to the patch under --apply/--branch: applied, or not and why. */
      applied?: Applied[];
      /** `actualUsd` is null for an unpriced run, which reports its tokens instead. */
      cost: { actualUsd: number | null; p90Usd: number | null; capUsd: number; tokens: number; overageUsd: number };
      steps: number;
      durationMs: number;
      usage: Usage;
    };

export type TaskStatus = "pending" | "running" | "succeeded" | "failed" | "denied" | "not_started" | "interrupted";

/** A batch task changed state. */
/** What happened to a patch under --apply/--branch: applied, or not and why. */
export interface Applied {
  ok: boolean;
  how: "apply" | "branch";
  reason?: string;
  policy?: boolean;
}

export interface TaskEvent {
  type: "task";
  batchId: string;
  idx: number;
  repo: string;
  status: TaskStatus;
  host?: string;
  runId?: string;
  steps?: number;
  check?: string;
  costUsd?: number;
  durationMs?: number;
  detail?: string;
  applied?: Applied[];
}

/** A run event of one batch task, tagged with the task. */
export interface TaskRunEvent {
  type: "task_event";
  batchId: string;
  idx: number;
  event: RunEvent;
}

/** `lanes run --wait`: still delayed, re-planning. */
export interface WaitingEvent {
  type: "waiting";
  reasons: Reason[];
  secondsLeft: number;
}

/** A batch's plan (before it runs) and its report (after): the objects `--json` documents. */
export type BatchPlanEvent = { type: "batch_plan" } & Record<string, unknown>;
export type BatchEndEvent = { type: "batch_end" } & Record<string, unknown>;

export type LanesEvent = RunEvent | TaskEvent | TaskRunEvent | WaitingEvent | BatchPlanEvent | BatchEndEvent;
