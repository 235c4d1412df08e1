/**
 * Every exit code lanes uses, and the one place each outcome is mapped to one: a thrown
 * LanesError (by its kind), a policy decision, a finished run, and a batch.
 *
 * 0 ok · 1 the task ran and failed · 2 usage or configuration · 3 approval needed but not given,
 * or denied · 4 budget or quota (exceeded, delayed) · 5 sandbox or Docker · 6 model endpoint ·
 * 130 interrupted.
 */
import type { Decision } from "./policy.js";

export const ExitCode = {
  ok: 0,
  taskFailed: 1,
  usage: 2,
  approval: 3,
  quota: 4,
  sandbox: 5,
  endpoint: 6,
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** `store`: the ledger could not be read or written (busy past its timeout): the run waits (4). */
export type ErrorKind =
  "usage" | "config" | "approval" | "quota" | "store" | "sandbox" | "endpoint" | "interrupted" | "failed";

export const EXIT_CODE_OF_KIND: Record<ErrorKind, ExitCodeValue> = {
  usage: ExitCode.usage,
  config: ExitCode.usage,
  approval: ExitCode.approval,
  quota: ExitCode.quota,
  store: ExitCode.quota,
  sandbox: ExitCode.sandbox,
  endpoint: ExitCode.endpoint,
  interrupted: ExitCode.interrupted,
  failed: ExitCode.taskFailed,
};

/** A verdict: quota denials and delays are 4, every other deny or ask is 3. */
export function exitCodeForDecision(d: Decision): ExitCodeValue {
  if (d.verdict === "allow") return ExitCode.ok;
  if (d.verdict === "delay") return ExitCode.quota;
  const hard = d.reasons.filter((r) => r.level === "hard");
  if (d.verdict === "deny" && hard.length && hard.every((r) => r.rule.startsWith("quota."))) return ExitCode.quota;
  return ExitCode.approval;
}

/** A finished attempt: success, or why it ended. */
export function exitCodeForRun(status: string, check: "passed" | "failed" | "unchecked"): ExitCodeValue {
  if (status === "finished" && check !== "failed") return ExitCode.ok;
  if (status === "interrupted") return ExitCode.interrupted;
  if (status === "budget_exhausted") return ExitCode.quota;
  if (status === "model_error") return ExitCode.endpoint;
  return ExitCode.taskFailed;
}

/** A batch: interrupted, stopped by its budget, or whether every task succeeded. */
export function exitCodeForBatch(o: {
  interrupted: boolean;
  budgetStopped: boolean;
  allSucceeded: boolean;
}): ExitCodeValue {
  if (o.interrupted) return ExitCode.interrupted;
  if (o.budgetStopped) return ExitCode.quota;
  return o.allSucceeded ? ExitCode.ok : ExitCode.taskFailed;
}
