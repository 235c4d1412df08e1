/**
 * An external agent (Codex CLI, a team's own program) run in the sandbox, governed: the run's
 * model gateway (gateway-calls.ts) serves it on a loopback port inside the sandbox through a
 * tunnel, with a token that dies with the run; the agent's process gets the gateway's URLs and
 * that token, never the endpoint's key. When the gateway stops the run (the hold cannot pay,
 * or the step limit), the agent is stopped too and the run ends with the gateway's reason.
 */
import { randomBytes } from "node:crypto";
import { LanesError } from "../core/errors.js";
import type { AgentResult } from "../core/agent.js";
import type { RunStatus } from "../core/run-events.js";
import type { Sandbox } from "../core/sandbox.js";
import { startGateway } from "../adapters/gateway/server.js";
import { agentEnv, GATEWAY_PORT, type ExternalAgent } from "../adapters/agents/adapters.js";
import { GatewayCalls, type GatewayDeps } from "./gateway-calls.js";

export interface ExternalRun {
  agent: ExternalAgent;
  sandbox: Sandbox;
  task: string;
  model: string;
  wallTimeMs: number;
  gateway: Omit<GatewayDeps, "signal" | "onStop">;
  signal: AbortSignal;
}

/** How long an agent may go on after the gateway refused it (to print the refusal) before it is stopped. */
const GRACE_MS = 500;

export async function runExternalAgent(o: ExternalRun): Promise<AgentResult> {
  const { emit } = o.gateway;
  if (!o.sandbox.tunnel) throw new LanesError("sandbox", "this sandbox cannot carry the model gateway");
  const ac = new AbortController();
  const forward = () => ac.abort();
  o.signal.addEventListener("abort", forward, { once: true });
  const calls = new GatewayCalls({
    ...o.gateway,
    signal: ac.signal,
    onStop: () => setTimeout(() => ac.abort(), GRACE_MS).unref(),
  });
  const endpoint = o.gateway.endpoints.get(o.gateway.endpointId)!;
  const token = randomBytes(32).toString("base64url");
  const gateway = await startGateway(token, {
    call: (c, protocol, io) => calls.call(c, protocol, io),
    countTokens: async (c) => (await endpoint.countTokens({ messages: c.messages, tools: c.tools })).tokens,
  });
  const started = Date.now();
  let tunnel: { close(): void } | undefined;
  try {
    tunnel = await o.sandbox.tunnel(GATEWAY_PORT, { host: "127.0.0.1", port: gateway.port });
    emit({ type: "tool_start", step: 0, tool: o.agent.name, summary: o.task.slice(0, 120) });
    const r = await o.sandbox.exec(
      {
        command: o.agent.command,
        env: agentEnv(o.agent, token, o.task, o.model),
        timeoutMs: o.wallTimeMs,
        maxOutputBytes: 200_000,
      },
      ac.signal,
    );
    const ms = Date.now() - started;
    emit({ type: "tool_end", step: calls.steps, tool: o.agent.name, exitCode: r.exitCode, ms });
    const status: RunStatus =
      calls.stopped?.status ??
      (o.signal.aborted ? "interrupted" : r.timedOut ? "time_limit" : r.exitCode === 0 ? "finished" : "agent_failed");
    const tail = `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-15).join("\n").slice(-1500);
    const summary =
      calls.stopped?.reason ??
      (status === "finished"
        ? calls.lastText || tail
        : status === "time_limit"
          ? `stopped after ${Math.round(ms / 1000)} s`
          : `${o.agent.name} exited ${r.exitCode}: ${tail}`);
    const trajectory = [
      ...calls.trajectory,
      {
        step: calls.steps,
        at: ms,
        kind: "tool" as const,
        data: {
          tool: o.agent.name,
          command: o.agent.command,
          exitCode: r.exitCode,
          observation: tail,
          stdout: r.stdout.slice(-8000),
          stderr: r.stderr.slice(-8000),
          ms,
        },
      },
    ];
    emit({ type: "agent_end", status, steps: calls.steps, summary });
    return {
      status,
      summary,
      steps: calls.steps,
      usage: calls.usage,
      messages: [],
      trajectory,
      redactions: calls.redactions,
      modelMs: calls.modelMs,
      toolMs: Math.max(0, ms - calls.modelMs),
      timing: calls.timing,
    };
  } finally {
    o.signal.removeEventListener("abort", forward);
    // The token dies with the run, even on a connection the agent keeps open.
    await gateway.close();
    tunnel?.close();
  }
}
