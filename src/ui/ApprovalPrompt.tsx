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
  question = "Approve this run?",
}: {
  canApprove: boolean;
  canSwitch: boolean;
  onAnswer: (a: Answer) => void;
  busy?: boolean;
  question?: string;
}) {
  useInput((input) => {
    if (busy) return;
    // Keys typed quickly can arrive in one chunk ("\rt"): each is read on its own, the first answer wins.
    for (const k of input.toLowerCase()) {
      if (k === "y" && canApprove) return onAnswer("approve");
      if (k === "n") return onAnswer("deny");
      if (k === "t" && canSwitch) return onAnswer("switch");
    }
  });
  if (busy) return <Text dimColor>re-planning…</Text>;
  return (
    <Text>
      {canApprove ? (
        <Text>
          {question}{" "}
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
