/**
 * What can go wrong with one model call, classified: a stream cut mid-way, a protocol error (an
 * answer that is not OpenAI-compatible), a timeout, a connection refused or lost, an abort; and
 * how long to wait before the next attempt.
 */
export class BrokenStream extends Error {
  constructor(
    readonly receivedText: string,
    cause: unknown,
  ) {
    super("the response stream broke before it finished", { cause });
  }
}

/** The endpoint answered, but not in the protocol: a body that is not JSON, events that are not SSE. */
export class ProtocolError extends Error {
  constructor(
    readonly receivedText: string,
    readonly detail: string,
  ) {
    super(`the endpoint's answer is not OpenAI-compatible: ${detail}`);
  }
}

/** A JSON.parse failure, which is what garbage in place of JSON or SSE data ends in. */
export function isParseError(err: unknown): boolean {
  return err instanceof SyntaxError || /JSON|Unexpected token|parse/i.test(String((err as Error)?.message ?? ""));
}

export function retryAfter(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = headers?.get("retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const v = headers?.get("retry-after");
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Exponential with jitter: 0.5-1x of 500 ms x 2^(n-1), at most 8 s. */
export function backoff(attempt: number, random = Math.random): number {
  const base = Math.min(8000, 500 * 2 ** (attempt - 1));
  return Math.round(base * (0.5 + random() / 2));
}

/** Connection failures that prove the request never reached the server (so it cannot be billed). */
export const NEVER_REACHED = new Set(["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);

/** The openai SDK's error classes do not set `name`; their class names tell them apart. */
export function kindOf(err: unknown): string {
  return (err as object | null)?.constructor?.name ?? "";
}
export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true || kindOf(err) === "APIUserAbortError" || (err as Error)?.name === "AbortError";
}
export function isTimeout(err: unknown): boolean {
  return kindOf(err) === "APIConnectionTimeoutError";
}
export function isConnection(err: unknown): boolean {
  return kindOf(err) === "APIConnectionError";
}
export function connectionCode(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: string }).code;
    if (code) return code;
    if ((e as Error).message === "bad port") return "ECONNREFUSED"; // fetch refuses such ports without connecting
    e = (e as { cause?: unknown }).cause;
  }
  return "connection error";
}
