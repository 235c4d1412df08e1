/**
 * A call's share of a llama.cpp server's GPU. With several slots busy, the server decodes their
 * requests in one batch: each request's own timings overlap the others', so charging each its
 * wall time would count the same GPU-second several times. While a call is in flight lanes polls
 * the server's /slots and integrates 1 / (slots processing) over the call's time; the call is
 * charged its timings × that average. Any process's calls (and anyone else's) count, since
 * they all show in /slots. The sampling interval bounds the error: an occupancy change is seen at
 * most one interval late, so across calls the charged GPU-seconds exceed the busy wall time by at
 * most about an interval per call (50 ms), and a server without /slots is charged in full (never
 * less than it used).
 */
import { slots } from "./llama.js";

export const SHARE_SAMPLE_MS = 50;

export interface ShareWatch {
  /** Stop sampling; the call's average share of the server (1 when nothing could be sampled). Idempotent. */
  stop(): number;
}

export function watchShare(baseURL: string, intervalMs = SHARE_SAMPLE_MS): ShareWatch {
  let weighted = 0;
  let total = 0;
  let last = performance.now();
  // Until the first answer (a busy server may take a while to give one) the share is unknown: the
  // first answer's share is taken back to the start; with no answer at all the call pays in full.
  let share: number | undefined;
  let stopped = false;
  const sample = async () => {
    while (!stopped) {
      const s = await slots(baseURL, AbortSignal.timeout(1000)).catch(() => undefined);
      if (stopped) break;
      const now = performance.now();
      // This call is one of the busy slots (it may not show yet while its request is parsed).
      const seen = s ? 1 / Math.max(1, s.busy) : undefined;
      weighted += (now - last) * (share ?? seen ?? 1);
      total += now - last;
      last = now;
      if (seen !== undefined) share = seen;
      await new Promise((r) => setTimeout(r, intervalMs).unref());
    }
  };
  void sample();
  let result: number | undefined;
  return {
    stop() {
      if (result !== undefined) return result; // stopping again changes nothing
      stopped = true;
      const now = performance.now();
      weighted += (now - last) * (share ?? 1);
      total += now - last;
      return (result = total > 0 ? Math.min(1, weighted / total) : 1);
    },
  };
}
