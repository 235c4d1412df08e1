/** The adapters a use case is given (wired in src/cli/compose.ts): endpoints and sandbox hosts for a configuration. */
import type { Config } from "../adapters/config/schema.js";
import type { ImageBuilder, ModelEndpoint, SandboxHosts } from "../core/ports.js";
import type { Plan } from "./plan-task.js";

export interface Adapters {
  endpoints(config: Config): Map<string, ModelEndpoint>;
  hosts(config: Config): SandboxHosts;
  images(config: Config): ImageBuilder;
}

/**
 * A person, asked: core/approval.ts decides *whether* to ask; the Approver asks. In a terminal it
 * is the ink prompt (src/ui/ink-approver.ts); without one there is nobody to ask, and the headless
 * approver refuses to (src/cli/approvers.ts).
 */
export interface Approver {
  /** Show the plan and wait for an explicit answer; `replan` offers the lane's next tier (key t). */
  approvePlan(
    plan: Plan,
    replan?: (current: Plan) => Promise<Plan>,
  ): Promise<{ answer: "approve" | "deny"; plan: Plan }>;
  /** A yes/no question about something else (a batch, a relaxed sandbox, policy edits, endpoints). */
  confirm(question: string): Promise<boolean>;
}
