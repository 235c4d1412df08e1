/**
 * Requests and tokens per minute for one endpoint, as two token buckets (per process). A call
 * that has to wait says so first — a visible `delay` with its reason — and then waits.
 */
export class RateLimiter {
  private requests: number;
  private tokens: number;
  private last = Date.now();

  constructor(
    private readonly rpm: number | undefined,
    private readonly tpm: number | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.requests = rpm ?? 0;
    this.tokens = tpm ?? 0;
    this.last = now();
  }

  /** Milliseconds until one request of `tokens` fits, and why. */
  waitFor(tokens: number): { ms: number; reason: string } {
    this.refill();
    let ms = 0;
    let reason = "";
    if (this.rpm !== undefined && this.requests < 1) {
      ms = Math.ceil(((1 - this.requests) * 60_000) / this.rpm);
      reason = `rate limit: ${this.rpm} requests/min`;
    }
    if (this.tpm !== undefined) {
      const need = Math.min(tokens, this.tpm); // a request bigger than a minute's tokens waits for a full bucket
      if (this.tokens < need) {
        const t = Math.ceil(((need - this.tokens) * 60_000) / this.tpm);
        if (t > ms) [ms, reason] = [t, `rate limit: ${this.tpm} tokens/min`];
      }
    }
    return { ms, reason };
  }

  /** Wait (reporting it) until the request fits, then take its share. */
  async take(tokens: number, onDelay: (waitMs: number, reason: string) => void, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const { ms, reason } = this.waitFor(tokens);
      if (ms <= 0) break;
      onDelay(ms, reason);
      await sleep(ms, signal);
    }
    if (this.rpm !== undefined) this.requests -= 1;
    if (this.tpm !== undefined) this.tokens -= Math.min(tokens, this.tpm);
  }

  private refill(): void {
    const t = this.now();
    const dt = t - this.last;
    this.last = t;
    if (this.rpm !== undefined) this.requests = Math.min(this.rpm, this.requests + (dt * this.rpm) / 60_000);
    if (this.tpm !== undefined) this.tokens = Math.min(this.tpm, this.tokens + (dt * this.tpm) / 60_000);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
