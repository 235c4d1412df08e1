/** Which Approver a command gets: the ink one in a terminal, else the headless one, which never asks. */
import { LanesError } from "../core/errors.js";
import type { Approver } from "../app/ports.js";
import type { Mode } from "./mode.js";

/** Without a terminal nobody can answer: core/approval.ts refuses first, so reaching this is a bug. */
export const headlessApprover: Approver = {
  approvePlan: () => Promise.reject(new LanesError("approval", "there is no terminal to ask in")),
  confirm: () => Promise.reject(new LanesError("approval", "there is no terminal to ask in")),
};

export async function approverFor(mode: Mode): Promise<Approver> {
  if (mode.kind !== "interactive") return headlessApprover;
  return (await import("../ui/ink-approver.js")).inkApprover;
}
