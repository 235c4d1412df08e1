/**
 * Prices: explicit endpoint price > `prices:` override in lanes.yaml > the pinned price table.
 * Nothing is ever $0 by accident: an unknown hosted model is `unpriced`, and a local tier must
 * name its price (0 is a price; so is a GPU-hour rate).
 */
import { readFileSync } from "node:fs";
import type { Price, PriceResolution } from "../../core/cost.js";
import type { Config, Endpoint } from "../config/schema.js";
import { ownFile } from "../own-files.js";

interface TableEntry extends Price {
  contextWindow?: number;
  maxOutputTokens?: number;
}
export interface PriceTable {
  version: string;
  source: string;
  models: Record<string, TableEntry>;
}

let table: PriceTable | undefined;
export function priceTable(): PriceTable {
  table ??= JSON.parse(readFileSync(ownFile("adapters/models/price-table.json"), "utf8")) as PriceTable;
  return table;
}

type PartialPrice = {
  inputPerMTok?: number | undefined;
  cachedInputPerMTok?: number | undefined;
  outputPerMTok?: number | undefined;
  gpuHourUsd?: number | undefined;
};

function complete(p: PartialPrice): Price | undefined {
  if (p.gpuHourUsd !== undefined)
    return {
      inputPerMTok: p.inputPerMTok ?? 0,
      outputPerMTok: p.outputPerMTok ?? 0,
      gpuHourUsd: p.gpuHourUsd,
      ...(p.cachedInputPerMTok !== undefined ? { cachedInputPerMTok: p.cachedInputPerMTok } : {}),
    };
  if (p.inputPerMTok === undefined || p.outputPerMTok === undefined) return undefined;
  return {
    inputPerMTok: p.inputPerMTok,
    outputPerMTok: p.outputPerMTok,
    ...(p.cachedInputPerMTok !== undefined ? { cachedInputPerMTok: p.cachedInputPerMTok } : {}),
  };
}

export function resolvePrice(config: Config, tierName: string, endpoint: Endpoint): PriceResolution {
  const kind = tierKind(config, tierName);
  if (endpoint.price) {
    const p = complete(endpoint.price);
    if (p) return { kind: "priced", price: p, source: `lanes.yaml (tiers.${tierName}, endpoint ${endpoint.id})` };
    return {
      kind: "unpriced",
      reason: `endpoint ${endpoint.id}: price needs inputPerMTok and outputPerMTok, or gpuHourUsd`,
    };
  }
  const override = config.prices[endpoint.model];
  if (override) {
    const p = complete(override);
    if (p) return { kind: "priced", price: p, source: `lanes.yaml (prices.${endpoint.model})` };
  }
  if (kind === "local")
    return {
      kind: "unpriced",
      reason: `local tier ${tierName}: give endpoint ${endpoint.id} an explicit price (price: { gpuHourUsd: 0 } or your GPU's hourly cost)`,
    };
  const t = priceTable();
  const row = t.models[endpoint.model];
  if (row) return { kind: "priced", price: complete(row)!, source: `price table ${t.version}` };
  return {
    kind: "unpriced",
    reason: `model ${endpoint.model} is not in the price table (${t.version}); add it under prices: in lanes.yaml`,
  };
}

export function tierKind(config: Config, tierName: string): "local" | "hosted" {
  return config.tiers[tierName]?.kind ?? (tierName === "local" ? "local" : "hosted");
}

export function contextWindowOf(endpoint: Endpoint): number | undefined {
  return endpoint.contextWindow ?? priceTable().models[endpoint.model]?.contextWindow;
}

export function formatPrice(r: PriceResolution): string {
  if (r.kind === "unpriced") return "unpriced";
  const p = r.price;
  if (p.gpuHourUsd !== undefined && !p.inputPerMTok && !p.outputPerMTok) return `$${p.gpuHourUsd}/GPU-hour`;
  return `$${p.inputPerMTok}/$${p.outputPerMTok} per 1M in/out${p.cachedInputPerMTok !== undefined ? ` (cached $${p.cachedInputPerMTok})` : ""}`;
}
