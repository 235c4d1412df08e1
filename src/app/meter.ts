/**
 * The meter between the agent loop and the ledger: before every model call it charges the call's
 * worst case against the run's hold, with max_tokens clamped to what the hold can still pay;
 * after the call it settles that charge to what was actually billed.
 */
import { affordableTokens, worstCaseUsd, type Price } from "../core/cost.js";
import type { Meter } from "../core/agent.js";
import type { HoldStorePort } from "../core/ports.js";

export class HoldMeter implements Meter {
  private charged = 0;
  private pending = 0;
  /** Billed beyond what the hold could still take (a miscount); reported, never hidden. */
  overageUsd = 0;

  constructor(
    private readonly ledger: HoldStorePort,
    private readonly holdId: string,
    readonly capUsd: number,
    private readonly price: Price | undefined,
  ) {}

  beforeCall(promptTokens: number, wanted: number): number {
    if (!this.price) return 0; // an unpriced run is metered by TokenMeter, never here
    const left = this.capUsd - this.charged;
    const max = Math.min(wanted, affordableTokens(left, promptTokens, this.price));
    if (max < 1) return 0;
    this.pending = Math.min(left, worstCaseUsd(promptTokens, max, this.price));
    this.ledger.charge(this.holdId, "usd", this.pending, `call worst case (${promptTokens} in, ≤ ${max} out)`);
    this.charged += this.pending;
    return max;
  }

  afterCall(billedUsd: number): void {
    const diff = billedUsd - this.pending;
    this.pending = 0;
    if (diff < 0) {
      this.ledger.refund(this.holdId, "usd", -diff, "call cost less than its worst case");
      this.charged += diff;
    } else if (diff > 0) {
      const extra = Math.min(diff, this.capUsd - this.charged);
      if (extra > 0) this.ledger.charge(this.holdId, "usd", extra, "call cost more than counted");
      this.charged += extra;
      this.overageUsd += diff - extra;
    }
  }

  canAfford(usd: number): boolean {
    return this.charged + usd <= this.capUsd + 1e-12;
  }

  spentUsd(): number {
    return this.charged;
  }
}

/**
 * An unpriced tier (allowed by `allowUnpriced: true`): no dollar figure exists, so the run is
 * metered in tokens against the lane's `budget.capTokens`, charged to the hold worst case first
 * (prompt + max_tokens) and settled to what the call used; a call that failed keeps its worst case.
 */
export class TokenMeter implements Meter {
  readonly capUsd = 0;
  private used = 0;
  private pending = 0;

  constructor(
    private readonly ledger: HoldStorePort,
    private readonly holdId: string,
    readonly capTokens: number,
  ) {}

  beforeCall(promptTokens: number, wanted: number): number {
    const max = Math.min(wanted, this.capTokens - this.used - promptTokens);
    if (max < 1) return 0;
    this.pending = promptTokens + max;
    this.ledger.charge(this.holdId, "tokens", this.pending, `call worst case (${promptTokens} in, ≤ ${max} out)`);
    this.used += this.pending;
    return max;
  }

  afterCall(_billedUsd: number, tokens?: number): void {
    if (tokens !== undefined && tokens < this.pending) {
      this.ledger.refund(this.holdId, "tokens", this.pending - tokens, "call used less than its worst case");
      this.used -= this.pending - tokens;
    }
    this.pending = 0;
  }

  canAfford(): boolean {
    return this.used < this.capTokens;
  }

  spentUsd(): number {
    return 0;
  }

  tokensUsed(): number {
    return this.used;
  }
}
