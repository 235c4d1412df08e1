/** Load the layered configuration for a command, with the global --repo/--lane/--tier flags applied. */
import type { LoadedConfig, LoadOptions } from "../adapters/config/load.js";
import { configCache } from "../adapters/config/load-cache.js";
import { fetchPolicies } from "../adapters/config/policy.js";
import type { CommandContext } from "./context.js";

async function optionsFor(ctx: CommandContext<unknown>): Promise<(repo: string) => LoadOptions> {
  const fetchedPolicies = process.env.LANES_POLICY ? await fetchPolicies(process.env) : undefined;
  return (repo) => ({
    repo,
    flags: { lane: ctx.mode.lane, tier: ctx.mode.tier },
    ...(fetchedPolicies ? { fetchedPolicies } : {}),
  });
}

export async function loadFor(ctx: CommandContext<unknown>): Promise<LoadedConfig> {
  const opts = (await optionsFor(ctx))(ctx.mode.repo);
  const cache = configCache(opts);
  // The YAML parser, zod and the schema are imported only when the inputs changed.
  return cache.loaded ?? cache.remember((await import("../adapters/config/load.js")).loadConfig(opts));
}

/** Loading for any repository under the same policies and flags (a batch loads each task's). */
export async function loaderFor(ctx: CommandContext<unknown>): Promise<(repo: string) => LoadedConfig> {
  const options = await optionsFor(ctx);
  const { loadConfig } = await import("../adapters/config/load.js");
  return (repo) => {
    const cache = configCache(options(repo));
    return cache.loaded ?? cache.remember(loadConfig(options(repo)));
  };
}
