/** The cost class as a badge, with the p50–p90 range and the cap. */
import { Text } from "ink";
import type { Plan } from "../app/plan-task.js";
import { money } from "../report/plan-text.js";

const COLOR: Record<string, string> = {
  C0: "green",
  C1: "green",
  C2: "yellow",
  C3: "red",
  C4: "red",
  unpriced: "magenta",
};

export function CostBadge({ cost }: { cost: Plan["cost"] }) {
  return (
    <Text>
      <Text inverse color={COLOR[cost.class] ?? "white"}>{` ${cost.class} ${cost.label} `}</Text>
      <Text>
        {" "}
        {money(cost.p50Usd)} – {money(cost.p90Usd)}
      </Text>
      <Text dimColor> (p50–p90) · cap {money(cost.capUsd)}</Text>
    </Text>
  );
}
