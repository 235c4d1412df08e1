/**
 * llama.cpp's llama-server specifics for local tiers: /health (503 = still loading, not down),
 * /props (context size, slots), /slots (all busy = a delay), exact counts through the model's
 * own chat template and tokenizer, and /metrics when the server runs with --metrics.
 */
import type { Message, ToolSpec } from "../../core/models.js";
import type { TokenCount } from "./tokens.js";

/** http://host:port/v1 → http://host:port (the configured port, always). */
export function serverOrigin(baseURL: string): string {
  return baseURL.replace(/\/+$/, "").replace(/\/v1$/, "");
}

export type Health =
  { state: "ok" } | { state: "loading" } | { state: "down"; detail: string } | { state: "error"; status: number };

export async function health(baseURL: string, signal?: AbortSignal): Promise<Health> {
  try {
    const res = await fetch(`${serverOrigin(baseURL)}/health`, { signal: signal ?? null });
    if (res.ok) return { state: "ok" };
    if (res.status === 503) return { state: "loading" };
    return { state: "error", status: res.status };
  } catch (err) {
    return { state: "down", detail: (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message };
  }
}

export interface Props {
  contextSize: number | undefined;
  totalSlots: number | undefined;
  model: string | undefined;
}

export async function props(baseURL: string, signal?: AbortSignal): Promise<Props> {
  const res = await fetch(`${serverOrigin(baseURL)}/props`, { signal: signal ?? null });
  if (!res.ok) throw new Error(`/props answered ${res.status}`);
  const j = (await res.json()) as {
    default_generation_settings?: { n_ctx?: number };
    n_ctx?: number;
    total_slots?: number;
    model_path?: string;
    model_alias?: string;
  };
  return {
    contextSize: j.default_generation_settings?.n_ctx ?? j.n_ctx,
    totalSlots: j.total_slots,
    model: j.model_alias ?? j.model_path,
  };
}

export interface SlotState {
  total: number;
  busy: number;
}

/** Slot usage, or undefined when the server does not expose /slots. */
export async function slots(baseURL: string, signal?: AbortSignal): Promise<SlotState | undefined> {
  const res = await fetch(`${serverOrigin(baseURL)}/slots`, { signal: signal ?? null });
  if (!res.ok) return undefined;
  const list = (await res.json()) as { is_processing?: boolean; state?: number }[];
  return { total: list.length, busy: list.filter((s) => s.is_processing === true || s.state === 1).length };
}

/** Exact prompt tokens: the server applies the model's chat template, then its tokenizer. */
export async function tokenize(
  baseURL: string,
  messages: Message[],
  tools: ToolSpec[] = [],
  signal?: AbortSignal,
): Promise<TokenCount> {
  const origin = serverOrigin(baseURL);
  const oai = messages.map((m) => ({ role: m.role, content: m.content ?? "" }));
  let prompt: string;
  const applied = await fetch(`${origin}/apply-template`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      messages: oai,
      ...(tools.length ? { tools: tools.map((t) => ({ type: "function", function: t })) } : {}),
    }),
    signal: signal ?? null,
  });
  if (applied.ok) prompt = ((await applied.json()) as { prompt: string }).prompt;
  else prompt = oai.map((m) => `${m.role}: ${m.content}`).join("\n");
  const res = await fetch(`${origin}/tokenize`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ content: prompt, add_special: true }),
    signal: signal ?? null,
  });
  if (!res.ok) throw new Error(`/tokenize answered ${res.status}`);
  const { tokens } = (await res.json()) as { tokens: unknown[] };
  return {
    tokens: tokens.length,
    exact: applied.ok,
    method: applied.ok
      ? "llama.cpp /apply-template + /tokenize"
      : "llama.cpp /tokenize (no template: approximate framing)",
  };
}

/** Prometheus text from /metrics (llama-server --metrics), parsed into name → value. */
export async function metrics(baseURL: string, signal?: AbortSignal): Promise<Record<string, number> | undefined> {
  const res = await fetch(`${serverOrigin(baseURL)}/metrics`, { signal: signal ?? null });
  if (!res.ok) return undefined;
  const out: Record<string, number> = {};
  for (const line of (await res.text()).split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)\s+([-\d.eE+]+)$/.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** A `delay` reason when every slot of a local server is busy; undefined when one is free. */
export async function slotsDelay(baseURL: string, signal?: AbortSignal): Promise<string | undefined> {
  const s = await slots(baseURL, signal).catch(() => undefined);
  if (!s || s.total === 0 || s.busy < s.total) return undefined;
  return `all ${s.total} llama.cpp slot(s) at ${serverOrigin(baseURL)} are busy`;
}
