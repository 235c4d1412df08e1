/** Endpoints from configuration: every tier's endpoints as callable clients, with their prices. */
import type { Config } from "../adapters/config/schema.js";
import { parseDuration } from "../core/sandbox.js";
import type { EndpointSpec } from "../core/ports.js";
import { contextWindowOf, resolvePrice, tierKind } from "../adapters/models/prices.js";

export function endpointSpecs(config: Config): EndpointSpec[] {
  return Object.entries(config.tiers).flatMap(([tier, t]) =>
    t.endpoints.map((ep) => ({
      id: ep.id,
      tier,
      tierKind: tierKind(config, tier),
      baseURL: ep.baseURL,
      model: ep.model,
      apiKeyEnv: ep.apiKeyEnv,
      price: resolvePrice(config, tier, ep),
      contextWindow: contextWindowOf(ep),
      speeds:
        ep.speeds ??
        (ep.speed && { promptTokensPerSecond: ep.speed.promptTps, completionTokensPerSecond: ep.speed.completionTps }),
      maxOutputTokens: ep.maxOutputTokens,
      timeoutMs: parseDuration(ep.timeout),
      rpm: ep.rpm,
      tpm: ep.tpm,
      fallbacks: ep.fallbacks,
      api: ep.api,
    })),
  );
}
