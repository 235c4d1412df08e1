/**
 * The agent part of a run: lanes' own loop, or an external agent behind the run's model gateway.
 * Either way every model call goes through the same meter, endpoint failover and redaction.
 */
import { runAgent, type AgentResult, type Meter, type ModelPort } from "../core/agent.js";
import { firstMessages, TOOLS } from "../core/agent-prompt.js";
import { redact } from "../core/redact.js";
import { LanesError } from "../core/errors.js";
import { parseDuration, type Sandbox, type SandboxProfile } from "../core/sandbox.js";
import type { RunEvent } from "../core/run-events.js";
import type { AuditTrail, ModelEndpoint, SandboxHost } from "../core/ports.js";
import type { Config } from "../adapters/config/schema.js";
import { listWorkspaceFiles } from "../adapters/docker/workspace.js";
import { agentImage, type ExternalAgent } from "../adapters/agents/adapters.js";
import { completeWithFailover } from "./failover.js";

export interface Drive {
  config: Config;
  lane: Config["lanes"][string];
  root: string;
  task: string;
  runId: string;
  endpoint: ModelEndpoint;
  endpoints: Map<string, ModelEndpoint>;
  sandbox: Sandbox;
  meter: Meter;
  audit: AuditTrail;
  emit: (e: RunEvent) => void;
  signal: AbortSignal;
  agent?: ExternalAgent | undefined;
}

export async function driveAgent(d: Drive): Promise<AgentResult> {
  const { lane, endpoint, emit } = d;
  const local = endpoint.spec.tierKind === "local";
  const wallTimeMs = parseDuration(lane.limits.wallTime);
  const maxTokensPerCall = endpoint.spec.maxOutputTokens ?? 4096;
  // The gateway (an HTTP server, the protocols) is loaded only for a run that needs it.
  if (d.agent)
    return (await import("./external-agent.js")).runExternalAgent({
      agent: d.agent,
      sandbox: d.sandbox,
      task: d.task,
      model: endpoint.spec.model,
      wallTimeMs,
      signal: d.signal,
      gateway: {
        endpoints: d.endpoints,
        endpointId: endpoint.id,
        costClasses: d.config.costClasses,
        meter: d.meter,
        emit,
        audit: d.audit,
        runId: d.runId,
        redact: local ? undefined : redact,
        limits: { steps: lane.limits.steps, maxTokensPerCall, minTokensPerCall: 16 },
      },
    });
  // The file list only orients the model: without it the run goes on, and says so.
  const files = await listWorkspaceFiles(d.root).catch((err: Error) => {
    emit({ type: "warning", message: `the repository's files could not be listed for the prompt: ${err.message}` });
    return [];
  });
  const model: ModelPort = {
    countPrompt: async (messages) => (await endpoint.countTokens({ messages, tools: TOOLS })).tokens,
    // The lane's endpoint, failing over to its `fallbacks` of the same or a cheaper class.
    complete: (req, hooks) =>
      completeWithFailover(d.endpoints, endpoint.id, { ...req, conversationId: d.runId }, d.config.costClasses, {
        ...hooks,
        stream: true,
      }),
  };
  return runAgent(
    firstMessages(d.task, files),
    { model, sandbox: d.sandbox, meter: d.meter, emit, redact: local ? undefined : redact },
    {
      steps: lane.limits.steps,
      wallTimeMs,
      commandTimeoutMs: parseDuration(lane.limits.commandTimeout),
      maxTokensPerCall,
      minTokensPerCall: 16,
    },
    d.signal,
  );
}

/**
 * The profile an external agent's sandbox is made from: the profile's image with the agent's
 * layer (`lanes images build --agent NAME`), never a warm pool member of the plain image.
 */
export async function agentProfile(
  host: SandboxHost,
  agent: ExternalAgent | undefined,
  profile: SandboxProfile,
): Promise<SandboxProfile> {
  if (!agent?.pkg) return profile;
  const image = agentImage(agent, profile.image);
  if (host.hasImage && !(await host.hasImage(image)))
    throw new LanesError(
      "usage",
      `the ${agent.name} agent is not installed in an image on host ${host.name} (${image})`,
      {
        hint: `lanes images build --agent ${agent.name}${host.name === "local" ? "" : ` --host ${host.name}`}`,
      },
    );
  return { ...profile, image, pool: 0 };
}
