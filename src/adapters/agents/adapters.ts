/**
 * The agents a lane can run. `lanes` is lanes' own loop (src/core/agent.ts); the others are
 * external programs run in the sandbox against the run's model gateway: each adapter says where
 * its program comes from (an npm package, fetched on this machine and copied into an image
 * layer), how it is started on a task, and what its own prompt costs before the task (for plans).
 */
import { LanesError } from "../../core/errors.js";

/** Where the gateway listens inside the sandbox (its loopback). */
export const GATEWAY_PORT = 4141;
export const AGENT_DIR = "/opt/lanes/agents";

export interface AgentPackage {
  /** npm package spec (a pinned version: the image is named by it). */
  spec: string;
  version: string;
  /** Files of the package's tarball to install (path in the tarball → file name in the agent's directory). */
  files: Record<string, string>;
}

export interface ExternalAgent {
  name: string;
  pkg?: AgentPackage;
  /** The shell command that runs the agent on $LANES_TASK in the workspace. */
  command: string;
  /** Tokens of the agent's own instructions and tool schemas, sent with every call. */
  promptTokens: number;
  /** What the environment must also have (beyond the gateway's URLs and the run token). */
  env?: Record<string, string>;
}

const CODEX_VERSION = "0.171.0";
const CLAUDE_VERSION = "2.1.332";
const CODEX_TRIPLE = "vendor/x86_64-unknown-linux-musl";
const base = `http://127.0.0.1:${GATEWAY_PORT}`;

export const AGENTS: Record<string, ExternalAgent> = {
  codex: {
    name: "codex",
    pkg: {
      // The launcher package (@openai/codex) only finds this platform build and runs it.
      spec: `@openai/codex@${CODEX_VERSION}-linux-x64`,
      version: CODEX_VERSION,
      files: { [`package/${CODEX_TRIPLE}/bin/codex`]: "codex", [`package/${CODEX_TRIPLE}/codex-path/rg`]: "rg" },
    },
    // Non-interactive exec mode; lanes' sandbox is the sandbox (Codex's own needs privileges it
    // does not have there), and its only provider is the gateway, over the Responses API.
    command: [
      `mkdir -p "$CODEX_HOME" && ${AGENT_DIR}/codex/codex exec --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox`,
      `--color never -m "$LANES_MODEL" -c model_provider=lanes`,
      `-c 'model_providers.lanes={name="lanes",base_url="${base}/v1",env_key="LANES_GATEWAY_TOKEN",wire_api="responses"}'`,
      `-- "$LANES_TASK"`,
    ].join(" "),
    promptTokens: 5_600,
    env: { CODEX_HOME: "/home/lanes/.codex", PATH: `${AGENT_DIR}/codex:/usr/local/bin:/usr/bin:/bin` },
  },
  claude: {
    name: "claude",
    pkg: {
      spec: `@anthropic-ai/claude-code-linux-x64@${CLAUDE_VERSION}`,
      version: CLAUDE_VERSION,
      files: { "package/claude": "claude" },
    },
    // Print mode: one task, no prompts; lanes' sandbox is the boundary, so its own permission
    // checks are off, and nothing but the gateway is called (no telemetry, no updates).
    command: `${AGENT_DIR}/claude/claude -p --dangerously-skip-permissions --model "$LANES_MODEL" -- "$LANES_TASK"`,
    promptTokens: 10_900,
    env: {
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_AUTOUPDATER: "1",
      DISABLE_TELEMETRY: "1",
      PATH: `${AGENT_DIR}/claude:/usr/local/bin:/usr/bin:/bin`,
    },
  },
};

/** `--agent-cmd`: any program that honours OPENAI_BASE_URL / ANTHROPIC_BASE_URL and their keys. */
export function commandAgent(command: string): ExternalAgent {
  return { name: "cmd", command, promptTokens: 0 };
}

export function agentByName(name: string): ExternalAgent {
  const a = AGENTS[name];
  if (!a)
    throw new LanesError("usage", `unknown agent "${name}"`, {
      hint: `agents: lanes (the default), ${Object.keys(AGENTS).join(", ")}; or --agent-cmd "…" for your own`,
    });
  return a;
}

/** The image an agent runs in: the profile's image with the agent's package as one more layer. */
export function agentImage(agent: ExternalAgent, baseImage: string): string {
  if (!agent.pkg) return baseImage;
  const from = baseImage.replace(/[^A-Za-z0-9_.-]+/g, "-").slice(0, 80);
  return `lanes-agent-${agent.name}:${agent.pkg.version}-${from}`;
}

/**
 * What the agent's process gets: the gateway's URLs and the run token where each kind of client
 * looks for them. Never the endpoint's key: that stays with the gateway, outside the sandbox.
 */
export function agentEnv(agent: ExternalAgent, token: string, task: string, model: string): Record<string, string> {
  return {
    OPENAI_BASE_URL: `${base}/v1`,
    OPENAI_API_KEY: token,
    ANTHROPIC_BASE_URL: base,
    ANTHROPIC_API_KEY: token,
    LANES_GATEWAY_URL: base,
    LANES_GATEWAY_TOKEN: token,
    LANES_TASK: task,
    LANES_MODEL: model,
    ...agent.env,
  };
}

/** Which agent runs a task: a command (`--agent-cmd`), else a name (`--agent`, the lane's `agent`), else lanes' own loop. */
export function resolveAgent(name: string | undefined, command: string | undefined): ExternalAgent | undefined {
  if (command !== undefined) {
    if (name && name !== "cmd" && name !== "lanes")
      throw new LanesError("usage", `--agent ${name} and --agent-cmd name two different agents; pick one`);
    if (!command.trim()) throw new LanesError("usage", "--agent-cmd needs a command");
    return commandAgent(command);
  }
  if (!name || name === "lanes") return undefined;
  if (name === "cmd") throw new LanesError("usage", "this plan was made for --agent-cmd: give the command again");
  return agentByName(name);
}
