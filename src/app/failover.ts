/**
 * Failover inside a tier: when an endpoint gives up, its fallbacks are tried — but only those
 * whose worst case for this very request is in the same or a cheaper cost class. A pricier or
 * unpriced fallback is refused and the refusal announced; nothing switches model silently.
 */
import { classRank, costClassOf, worstCaseUsd, type CostClassBounds } from "../core/cost.js";
import { LanesError } from "../core/errors.js";
import type { Completion, CompletionRequest } from "../core/models.js";
import type { CallHooks, ModelEndpoint } from "../core/ports.js";

export async function completeWithFailover(
  endpoints: Map<string, ModelEndpoint>,
  primaryId: string,
  req: CompletionRequest,
  bounds: CostClassBounds,
  hooks: CallHooks = {},
): Promise<Completion> {
  const primary = endpoints.get(primaryId);
  if (!primary) throw new LanesError("usage", `unknown endpoint ${primaryId}`);
  try {
    return await primary.complete(req, hooks);
  } catch (err) {
    if (!(err instanceof LanesError) || err.kind !== "endpoint") throw err;
    const prompt = (await primary.countTokens(req)).tokens;
    const classAt = (e: ModelEndpoint) =>
      e.spec.price.kind === "priced"
        ? costClassOf(worstCaseUsd(prompt, req.maxTokens, e.spec.price.price), bounds)
        : undefined;
    const mine = classAt(primary);
    for (const id of primary.spec.fallbacks) {
      const fb = endpoints.get(id);
      if (!fb) continue;
      const theirs = classAt(fb);
      if (mine === undefined || theirs === undefined || classRank(theirs) > classRank(mine)) {
        hooks.emit?.({
          type: "failover_refused",
          from: primaryId,
          to: id,
          reason: theirs === undefined ? `${id} is unpriced` : `${id} is ${theirs}, above ${mine ?? "unpriced"}`,
        });
        continue;
      }
      hooks.emit?.({ type: "failover", from: primaryId, to: id, reason: err.message });
      try {
        return await fb.complete(req, hooks);
      } catch (next) {
        if (!(next instanceof LanesError) || next.kind !== "endpoint") throw next;
      }
    }
    throw err;
  }
}
