/** Offer the endpoints found (app/detect-endpoints.ts) for lanes.yaml: ask in a terminal, --yes accepts. */
import { addEndpoints, detectEndpoints, type DetectedEndpoint } from "../app/detect-endpoints.js";
import { approverFor } from "./approvers.js";
import type { CommandContext } from "./context.js";
import { userConfigFile } from "../adapters/config/paths.js";

export interface Offer {
  found: DetectedEndpoint[];
  added: DetectedEndpoint[];
  /** Why nothing was added although something was found. */
  skipped?: string;
}

export async function offerEndpoints(
  ctx: CommandContext<{ localUrl?: string }>,
  file: string | undefined,
): Promise<Offer> {
  if (ctx.mode.kind !== "json") ctx.out.info("looking for endpoints (local servers on their usual ports, API keys)…");
  const found = await detectEndpoints({
    env: process.env,
    ...(ctx.opts.localUrl ? { localUrls: [ctx.opts.localUrl] } : {}),
  });
  if (!found.length) return { found, added: [] };
  let accept = ctx.mode.yes;
  if (!accept && ctx.mode.kind === "interactive") {
    for (const f of found) ctx.out.info(`  found ${f.found} → tiers.${f.tier}: ${f.endpoint.id} (${f.endpoint.model})`);
    accept = await (
      await approverFor(ctx.mode)
    ).confirm("Add these endpoints (keyed ones to your user settings, local ones to lanes.yaml)?");
  }
  if (!accept) return { found, added: [], skipped: "not accepted: pass --yes (or answer y in a terminal) to add them" };
  return { found, added: addEndpoints(file, found, userConfigFile()) };
}

export function offerText(o: Offer): string[] {
  if (!o.found.length)
    return [
      "no endpoint found (no local server on the usual ports, no OPENAI_API_KEY or ANTHROPIC_API_KEY set):",
      "  add one under tiers.<tier>.endpoints in lanes.yaml, or run `lanes endpoints add` once your server runs",
    ];
  const lines = o.found.map((f) => {
    const added = o.added.includes(f);
    const where = f.endpoint.apiKeyEnv ? " (your user settings: the key stays bound to this URL)" : "";
    return `  ${added ? "added" : "found"} ${f.found} → tiers.${f.tier}: ${f.endpoint.id} (${f.endpoint.model})${where}`;
  });
  return [...lines, ...(o.skipped ? [`  ${o.skipped}`] : [])];
}
