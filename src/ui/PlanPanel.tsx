/** The plan: lane, tier, endpoint, cost badge, quota bars and the decision with its reasons. */
import { Box, Text } from "ink";
import { describeRelaxation } from "../core/relaxations.js";
import { sandboxLine, workspaceLines } from "../report/plan-text.js";
import type { Plan } from "../app/plan-task.js";
import { CostBadge } from "./CostBadge.js";
import { QuotaBar } from "./QuotaBar.js";

const VERDICT_COLOR = { allow: "green", ask: "yellow", delay: "yellow", deny: "red" } as const;
const MARK = { advisory: "✓", soft: "?", hard: "✗" } as const;

export function PlanPanel({ plan }: { plan: Plan }) {
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text>
        <Text bold>lane</Text> {plan.lane} · <Text bold>tier</Text> {plan.tier} · <Text bold>endpoint</Text>{" "}
        {plan.endpoint.id} <Text dimColor>({plan.endpoint.model})</Text>
        {plan.agent ? (
          <Text>
            {" "}
            · <Text bold>agent</Text> {plan.agent} <Text dimColor>(behind the gateway)</Text>
          </Text>
        ) : null}
      </Text>
      <Text>
        <Text bold>cost </Text>
        <CostBadge cost={plan.cost} />
        <Text dimColor>
          {" "}
          · prompt {plan.tokens.prompt.toLocaleString("en-US")} tokens ({plan.tokens.exact ? "exact" : "approximate"})
        </Text>
      </Text>
      <Text>
        <Text bold>{sandboxLine(plan).split(" ")[0]}</Text> {sandboxLine(plan).split(" ").slice(1).join(" ")}
      </Text>
      {workspaceLines(plan).map((l) => (
        <Text key={l} color="yellow">
          {"  "}
          {l}
        </Text>
      ))}
      {plan.sandbox.relaxations.map((r) => (
        <Text key={r.field}>
          {"  "}
          <Text color="yellow">relaxed</Text> {describeRelaxation(r)}
        </Text>
      ))}
      {plan.tokenCap !== undefined ? (
        <Text>tokens unpriced: metered against a cap of {plan.tokenCap} tokens</Text>
      ) : null}
      {plan.quota.length ? (
        plan.quota.map((q) => <QuotaBar key={q.bucket} q={q} />)
      ) : (
        <Text dimColor>no quota buckets configured</Text>
      )}
      <Text>
        <Text bold>decision </Text>
        <Text color={VERDICT_COLOR[plan.decision.verdict]} bold>
          {plan.decision.verdict.toUpperCase()}
        </Text>
        {plan.decision.retryAt ? <Text dimColor> (retry at {plan.decision.retryAt})</Text> : null}
      </Text>
      {plan.decision.reasons.map((r, i) => (
        <Text key={i}>
          {"  "}
          {MARK[r.level]} <Text dimColor>{r.rule}</Text> {r.message}
        </Text>
      ))}
    </Box>
  );
}
