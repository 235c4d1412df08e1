/**
 * The approval prompt. Only an explicit key answers it: y approves, n denies, t switches to the
 * lane's next tier (the plan is redone and shown with its new class). Enter alone does nothing.
 */
import { Text, useInput } from "ink";

export type Answer = "approve" | "deny" | "switch";

export function ApprovalPrompt({
  canApprove,
  canSwitch,
  onAnswer,
  busy,
}: {
  canApprove: boolean;
  canSwitch: boolean;
  onAnswer: (a: Answer) => void;
  busy?: boolean;
}) {
  useInput((input) => {
    if (busy) return;
    const k = input.toLowerCase();
    if (k === "y" && canApprove) onAnswer("approve");
    else if (k === "n") onAnswer("deny");
    else if (k === "t" && canSwitch) onAnswer("switch");
  });
  if (busy) return <Text dimColor>re-planning…</Text>;
  return (
    <Text>
      {canApprove ? (
        <Text>
          Approve this run?{" "}
          <Text bold color="green">
            [y]
          </Text>{" "}
          approve{"  "}
        </Text>
      ) : (
        <Text color="red">This plan is denied and cannot be approved. </Text>
      )}
      <Text bold color="red">
        [n]
      </Text>{" "}
      deny
      {canSwitch ? (
        <Text>
          {"  "}
          <Text bold color="cyan">
            [t]
          </Text>{" "}
          switch tier
        </Text>
      ) : null}
    </Text>
  );
}
