/** `--endpoint NAME|replay:FILE` (run and plan): pick a configured endpoint, or serve a replay script in-process. */
import { LanesError } from "../core/errors.js";
import type { Config } from "../adapters/config/schema.js";
import type { CommandContext } from "./context.js";

/** --endpoint NAME picks a configured endpoint; --endpoint replay:FILE serves a replay script in-process. */
export async function useEndpoint(
  config: Config,
  ctx: CommandContext<{ endpoint?: string | undefined }>,
  root: string,
): Promise<{ close(): Promise<void> } | undefined> {
  const spec = ctx.opts.endpoint;
  if (!spec) return undefined;
  const laneName = ctx.mode.lane ?? config.defaults.lane;
  const tierName = ctx.mode.tier ?? config.lanes[laneName]?.tiers[0] ?? "standard";
  const tier = config.tiers[tierName];
  if (!tier) throw new LanesError("usage", `unknown tier "${tierName}"`);
  if (!spec.startsWith("replay:")) {
    const ep = Object.values(config.tiers)
      .flatMap((t) => t.endpoints)
      .find((e) => e.id === spec);
    if (!ep)
      throw new LanesError("usage", `no endpoint named "${spec}"`, {
        hint: "`lanes endpoints ls` lists them; or use replay:FILE",
      });
    // The endpoint moves to the front of the lane's tier (ids are unique: out of any other tier).
    for (const t of Object.values(config.tiers)) t.endpoints = t.endpoints.filter((e) => e.id !== spec);
    tier.endpoints = [ep, ...tier.endpoints];
    return undefined;
  }
  const { loadScript } = await import("../adapters/models/replay-script.js");
  const { startReplayServer } = await import("../adapters/models/replay-server.js");
  const { resolve } = await import("node:path");
  const script = loadScript(resolve(process.cwd(), spec.slice("replay:".length)));
  const server = await startReplayServer(script);
  // A replay spends nothing: priced at $0 (tokens and GPU time), whatever the model's list price.
  const free = tier.kind === "local" ? { gpuHourUsd: 0 } : { inputPerMTok: 0, cachedInputPerMTok: 0, outputPerMTok: 0 };
  tier.endpoints = [
    { id: "replay", baseURL: server.url, model: script.model, timeout: "60s", fallbacks: [], price: free },
  ];
  void root;
  return server;
}
