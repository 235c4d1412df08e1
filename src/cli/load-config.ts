/** Load the layered configuration for a command, with the global --repo/--lane/--tier flags applied. */
import { loadConfig, type LoadedConfig } from "../adapters/config/load.js";
import type { CommandContext } from "./context.js";

export function loadFor(ctx: CommandContext<unknown>): LoadedConfig {
  return loadConfig({ repo: ctx.mode.repo, flags: { lane: ctx.mode.lane, tier: ctx.mode.tier } });
}
