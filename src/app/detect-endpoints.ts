/**
 * Endpoints in the first minute: what the user already has — a llama.cpp, Ollama, vLLM or LM
 * Studio server on its usual local port (each probed with a short timeout), and API keys or an
 * OpenAI-compatible base URL in the environment — as endpoint entries for lanes.yaml. Keys are
 * never read into the entries: they name the variable (`apiKeyEnv`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseDocument } from "yaml";

type Env = Record<string, string | undefined>;

export interface DetectedEndpoint {
  tier: "local" | "standard" | "premium";
  /** What was found, for the user: "llama.cpp at http://127.0.0.1:8080/v1", "OPENAI_API_KEY". */
  found: string;
  endpoint: {
    id: string;
    baseURL: string;
    model: string;
    apiKeyEnv?: string;
    price?: { inputPerMTok?: number; outputPerMTok?: number; gpuHourUsd?: number };
  };
}

/** The usual local ports of the OpenAI-compatible servers people run. */
export const LOCAL_CANDIDATES: { name: string; id: string; url: string }[] = [
  { name: "llama.cpp", id: "llama", url: "http://127.0.0.1:8080/v1" },
  { name: "Ollama", id: "ollama", url: "http://127.0.0.1:11434/v1" },
  { name: "vLLM", id: "vllm", url: "http://127.0.0.1:8000/v1" },
  { name: "LM Studio", id: "lmstudio", url: "http://127.0.0.1:1234/v1" },
];

export async function detectEndpoints(o: {
  env: Env;
  localUrls?: string[];
  timeoutMs?: number;
}): Promise<DetectedEndpoint[]> {
  const timeoutMs = o.timeoutMs ?? 400;
  const candidates = o.localUrls?.length
    ? o.localUrls.map((url, i) => ({ name: "server", id: i ? `local${i + 1}` : "local", url: url.replace(/\/+$/, "") }))
    : LOCAL_CANDIDATES;
  const probed = await Promise.all(candidates.map((c) => probe(c.url, timeoutMs).then((r) => ({ ...c, ...r }))));
  const found: DetectedEndpoint[] = probed
    .filter((p) => p.model !== undefined)
    .map((p) => ({
      tier: "local",
      found: `${p.llama ? "llama.cpp" : p.name} at ${p.url} serving ${p.model}`,
      // Your own hardware still costs something: set what an hour of this GPU costs you.
      endpoint: { id: p.llama ? "llama" : p.id, baseURL: p.url, model: p.model!, price: { gpuHourUsd: 0 } },
    }));
  if (o.env.OPENAI_API_KEY) {
    const base = o.env.OPENAI_BASE_URL?.replace(/\/+$/, "");
    found.push({
      tier: "standard",
      found: base ? `OPENAI_API_KEY with OPENAI_BASE_URL ${base}` : "OPENAI_API_KEY",
      endpoint: {
        id: base ? "openai-compatible" : "openai",
        baseURL: base ?? "https://api.openai.com/v1",
        model: o.env.OPENAI_MODEL ?? "gpt-4.1-mini",
        apiKeyEnv: "OPENAI_API_KEY",
      },
    });
  }
  if (o.env.ANTHROPIC_API_KEY) {
    found.push({
      tier: "premium",
      found: "ANTHROPIC_API_KEY",
      // Anthropic's OpenAI-compatible API; its list prices per million tokens (check your contract).
      endpoint: {
        id: "anthropic",
        baseURL: "https://api.anthropic.com/v1",
        model: "claude-sonnet-4-5",
        apiKeyEnv: "ANTHROPIC_API_KEY",
        price: { inputPerMTok: 3, outputPerMTok: 15 },
      },
    });
  }
  return found;
}

async function probe(url: string, timeoutMs: number): Promise<{ model?: string; llama?: boolean }> {
  try {
    const res = await fetch(`${url}/models`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return {};
    const body = (await res.json()) as { data?: { id?: unknown }[] };
    const model = body.data?.find((m) => typeof m.id === "string")?.id as string | undefined;
    if (!model) return {};
    // llama.cpp answers /props (the others do not): it gets llama.cpp's slots and exact counts.
    const props = await fetch(`${url.replace(/\/v1$/, "")}/props`, { signal: AbortSignal.timeout(timeoutMs) }).catch(
      () => undefined,
    );
    return { model, llama: props?.ok === true };
  } catch {
    return {};
  }
}

/**
 * Add the endpoints: one with a key variable to the user's settings (`userFile`, JSON), where the
 * key is bound to its URL (a repository's lanes.yaml may not name a key: docs/trust.md); one
 * without a key to lanes.yaml, keeping its comments. An id already in either is left alone.
 */
export function addEndpoints(
  file: string | undefined,
  found: DetectedEndpoint[],
  userFile?: string,
): DetectedEndpoint[] {
  const doc = file && existsSync(file) ? parseDocument(readFileSync(file, "utf8")) : undefined;
  const user = userFile && existsSync(userFile) ? (JSON.parse(readFileSync(userFile, "utf8") || "{}") as Settings) : {};
  const ids = new Set<string>();
  const tiersOf = (v: unknown) => (v as Settings | null)?.tiers ?? {};
  for (const t of [...Object.values(tiersOf(doc?.toJS())), ...Object.values(tiersOf(user))])
    for (const e of t?.endpoints ?? []) ids.add(e.id);
  const added = found.filter((f) => !ids.has(f.endpoint.id) && (f.endpoint.apiKeyEnv ? userFile : doc));
  for (const f of added) {
    if (f.endpoint.apiKeyEnv) {
      const tier = ((user.tiers ??= {})[f.tier] ??= {});
      (tier.endpoints ??= []).push(f.endpoint);
      continue;
    }
    const path = ["tiers", f.tier, "endpoints"];
    if (!doc!.hasIn(path)) doc!.setIn(path, doc!.createNode([]));
    doc!.addIn(path, doc!.createNode(f.endpoint, { flow: true }));
  }
  if (added.some((f) => !f.endpoint.apiKeyEnv)) writeFileSync(file!, String(doc));
  if (added.some((f) => f.endpoint.apiKeyEnv)) {
    mkdirSync(dirname(userFile!), { recursive: true });
    writeFileSync(userFile!, `${JSON.stringify(user, null, 2)}\n`);
  }
  return added;
}

type Settings = { tiers?: Record<string, { endpoints?: { id: string }[] } | null> };
