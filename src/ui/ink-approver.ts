/** The Approver in a terminal: the plan panel with its prompt, and yes/no questions — explicit keys only. */
import type { Approver } from "../app/ports.js";

export const inkApprover: Approver = {
  async approvePlan(plan, replan) {
    const { askApproval } = await import("./render-plan.js");
    return askApproval(plan, replan);
  },
  async confirm(question) {
    const [{ render }, { createElement }, { ApprovalPrompt }] = await Promise.all([
      import("ink"),
      import("react"),
      import("./ApprovalPrompt.js"),
    ]);
    return new Promise((resolve) => {
      const app = render(
        createElement(ApprovalPrompt, {
          question,
          canApprove: true,
          canSwitch: false,
          onAnswer: (a) => {
            app.unmount();
            resolve(a === "approve");
          },
        }),
      );
    });
  },
};
