/**
 * The one approval gate, as a pure function: from the policy decision, the lane's approval mode,
 * whether a person can be asked, `--yes`, and an approval that was verified (signed or recorded),
 * decide to proceed, to ask a person, or to refuse with a reason and an exit code. `run`,
 * `approve`, `batch` and `sandbox` relaxations all ask it; the caller only renders the answer.
 */
import { ExitCode, type ExitCodeValue } from "./errors.js";
import { exitCodeForDecision } from "./exit-codes.js";
import type { Decision } from "./policy.js";

export interface VerifiedApproval {
  by: string;
  how: string;
  /** How it was verified: an HMAC signature, or an `approve` record in this store's audit trail. */
  verifiedBy: "signature" | "record";
}

export interface ApprovalQuestion {
  decision: Decision;
  mode: "auto" | "ask" | "always";
  /** A person is at a terminal to ask. */
  interactive: boolean;
  yes: boolean;
  approval?: VerifiedApproval | undefined;
  /** Who --yes approves as. */
  user: string;
}

export type ApprovalAnswer =
  | { kind: "proceed"; by: string; how: "policy" | "yes" | "saved" }
  | { kind: "ask" }
  | { kind: "refuse"; exitCode: ExitCodeValue; message: string; hint?: string };

export function resolveApproval(q: ApprovalQuestion): ApprovalAnswer {
  const d = q.decision;
  const rules = (level: string) => d.reasons.filter((r) => r.level === level);
  if (d.verdict === "deny") {
    return {
      kind: "refuse",
      exitCode: exitCodeForDecision(d),
      message: `denied: ${rules("hard")
        .map((r) => r.message)
        .join("; ")}`,
    };
  }
  if (d.verdict === "delay") {
    const why = d.reasons.filter((r) => r.rule.startsWith("lane.") || r.rule.startsWith("endpoint."));
    return {
      kind: "refuse",
      exitCode: ExitCode.quota,
      message: `delayed: ${why.map((r) => r.message).join("; ")}`,
      hint: d.retryAt ? `retry after ${d.retryAt}` : "retry when a run of this lane finishes, or pass --wait DURATION",
    };
  }
  if (d.verdict === "allow") return { kind: "proceed", by: "", how: "policy" };
  // A lane that always asks a person accepts only an approval a person gave at a terminal.
  if (q.approval && (q.mode !== "always" || q.approval.how === "interactive"))
    return { kind: "proceed", by: q.approval.by, how: "saved" };
  if (q.interactive) return { kind: "ask" };
  if (q.yes && q.mode !== "always") return { kind: "proceed", by: q.user, how: "yes" };
  const asked = rules("soft")
    .map((r) => r.rule)
    .join(", ");
  return {
    kind: "refuse",
    exitCode: ExitCode.approval,
    message: q.yes
      ? `--yes cannot approve this run: the lane requires a person (${asked})`
      : `approval needed (${asked}) and there is no terminal to ask in`,
    hint:
      q.mode === "always"
        ? "a person approves a saved plan: lanes plan … --out plan.json, lanes approve plan.json in a terminal, then lanes run --plan plan.json"
        : "pass --yes, or use a saved, approved plan (lanes plan --out / lanes approve / lanes run --plan)",
  };
}
