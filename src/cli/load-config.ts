/** Load the layered configuration for a command, with the global --repo/--lane/--tier flags applied. */
import { loadConfig, type LoadedConfig } from "../adapters/config/load.js";
import { fetchPolicies } from "../adapters/config/policy.js";
import type { CommandContext } from "./context.js";

export async function loadFor(ctx: CommandContext<unknown>): Promise<LoadedConfig> {
  const fetchedPolicies = process.env.LANES_POLICY ? await fetchPolicies(process.env) : undefined;
  return loadConfig({
    repo: ctx.mode.repo,
    flags: { lane: ctx.mode.lane, tier: ctx.mode.tier },
    ...(fetchedPolicies ? { fetchedPolicies } : {}),
  });
}
