/**
 * The meter between the agent loop and the ledger: before every model call it charges the call's
 * worst case against the run's hold, with max_tokens clamped to what the hold can still pay;
 * after the call it settles that charge to what was actually billed.
 */
import { affordableTokens, worstCaseUsd, type Price } from "../core/models.js";
import type { Meter } from "../core/agent.js";
import type { Ledger } from "../adapters/store/ledger.js";

export class HoldMeter implements Meter {
  private charged = 0;
  private pending = 0;
  /** Billed beyond what the hold could still take (a miscount); reported, never hidden. */
  overageUsd = 0;

  constructor(
    private readonly ledger: Ledger,
    private readonly holdId: string,
    readonly capUsd: number,
    private readonly price: Price | undefined,
  ) {}

  beforeCall(promptTokens: number, wanted: number): number {
    if (!this.price) return wanted; // an unpriced tier runs only with an explicit approval
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
