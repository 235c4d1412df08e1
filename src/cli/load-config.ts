/** Load the layered configuration for a command, with the global --repo/--lane/--tier flags applied. */
import { loadConfig, type LoadedConfig } from "../adapters/config/load.js";
import { fetchPolicies } from "../adapters/config/policy.js";
import type { CommandContext } from "./context.js";

export async function loadFor(ctx: CommandContext<unknown>): Promise<LoadedConfig> {
  return (await loaderFor(ctx))(ctx.mode.repo);
}

/** Loading for any repository under the same policies and flags (a batch loads each task's). */
export async function loaderFor(ctx: CommandContext<unknown>): Promise<(repo: string) => LoadedConfig> {
  const fetchedPolicies = process.env.LANES_POLICY ? await fetchPolicies(process.env) : undefined;
  return (repo) =>
    loadConfig({
      repo,
      flags: { lane: ctx.mode.lane, tier: ctx.mode.tier },
      ...(fetchedPolicies ? { fetchedPolicies } : {}),
    });
}
