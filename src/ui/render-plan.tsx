/** ink renderers for `lanes plan` (show) and `lanes approve` / `lanes run` (show and ask). */
import { Box, render } from "ink";
import { useState } from "react";
import type { Plan } from "../app/plan-task.js";
import { ApprovalPrompt, type Answer } from "./ApprovalPrompt.js";
import { PlanPanel } from "./PlanPanel.js";

export async function renderPlan(plan: Plan): Promise<void> {
  const app = render(<PlanPanel plan={plan} />);
  app.unmount();
  await app.waitUntilExit();
}

export interface AskResult {
  answer: "approve" | "deny";
  plan: Plan;
}

/** Show the plan and wait for an explicit answer; `replan` gives the plan for the next tier. */
export async function askApproval(
  first: Plan,
  replan: ((current: Plan) => Promise<Plan>) | undefined,
): Promise<AskResult> {
  return new Promise((resolve) => {
    function App() {
      const [plan, setPlan] = useState(first);
      const [busy, setBusy] = useState(false);
      const onAnswer = (a: Answer) => {
        if (a === "switch" && replan) {
          setBusy(true);
          void replan(plan).then((p) => {
            setPlan(p);
            setBusy(false);
          });
          return;
        }
        app.unmount();
        resolve({ answer: a === "approve" ? "approve" : "deny", plan });
      };
      return (
        <Box flexDirection="column">
          <PlanPanel plan={plan} />
          <ApprovalPrompt
            canApprove={plan.decision.verdict !== "deny"}
            canSwitch={replan !== undefined}
            onAnswer={onAnswer}
            busy={busy}
          />
        </Box>
      );
    }
    const app = render(<App />);
  });
}
