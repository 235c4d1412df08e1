/** Which agent runs a task: `--agent-cmd`, else `--agent`, else the lane's `agent`, else lanes' own loop. */
import { LanesError } from "../core/errors.js";
import { agentByName, commandAgent, type ExternalAgent } from "../adapters/agents/adapters.js";

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
