/** `--endpoint NAME|replay:FILE` (run and plan): pick a configured endpoint, or serve a replay script in-process. */
import { LanesError } from "../core/errors.js";
import type { Config } from "../adapters/config/schema.js";

export interface EndpointChoice {
  /** Plan on this tier and endpoint (a named endpoint: the config itself is left as it is). */
  tier?: string;
  endpointId?: string;
  /** A replay script is being served: the run is free and teaches the estimator nothing. */
  replay: boolean;
  close(): Promise<void>;
}

/**
 * --endpoint NAME picks an endpoint of one of the lane's tiers (never one from a tier the lane does
 * not use: that would run hosted work in a local-only lane); the configuration is not changed, so a
 * saved plan made with it stays fresh. --endpoint replay:FILE serves a replay script in-process as
 * the tier's only endpoint, priced at $0.
 */
export async function useEndpoint(
  config: Config,
  spec: string | undefined,
  laneName: string,
  tierName?: string,
): Promise<EndpointChoice> {
  const none: EndpointChoice = { replay: false, close: async () => {} };
  const lane = config.lanes[laneName];
  if (!spec || !lane) return none; // an unknown lane is reported by the plan itself
  if (!spec.startsWith("replay:")) {
    const owner = Object.entries(config.tiers).find(([, t]) => t.endpoints.some((e) => e.id === spec));
    if (!owner)
      throw new LanesError("usage", `no endpoint named "${spec}"`, {
        hint: "`lanes endpoints ls` lists them; or use replay:FILE",
      });
    const allowed = tierName ? [tierName] : lane.tiers;
    if (!allowed.includes(owner[0]))
      throw new LanesError(
        "usage",
        `endpoint "${spec}" is in tier ${owner[0]}, which lane ${laneName} does not use here`,
        {
          hint: `the lane's tiers: ${lane.tiers.join(", ")}; pick one of their endpoints, or another lane`,
        },
      );
    return { ...none, tier: owner[0], endpointId: spec };
  }
  const name = tierName ?? lane.tiers[0]!;
  const tier = config.tiers[name];
  if (!tier) throw new LanesError("usage", `unknown tier "${name}"`);
  const { loadScript } = await import("../adapters/models/replay-script.js");
  const { startReplayServer } = await import("../adapters/models/replay-server.js");
  const { resolve } = await import("node:path");
  const script = loadScript(resolve(process.cwd(), spec.slice("replay:".length)));
  const server = await startReplayServer(script);
  // A replay spends nothing: priced at $0 (tokens and GPU time), whatever the model's list price.
  const free = tier.kind === "local" ? { gpuHourUsd: 0 } : { inputPerMTok: 0, cachedInputPerMTok: 0, outputPerMTok: 0 };
  tier.endpoints = [
    { id: "replay", baseURL: server.url, model: script.model, timeout: "60s", fallbacks: [], price: free, api: "chat" },
  ];
  return { replay: true, close: () => server.close() };
}
