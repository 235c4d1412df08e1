/** `lanes endpoints check`: is each endpoint up, how fast, which model, how big a context. */
import type { EndpointSpec } from "../adapters/models/openai-endpoint.js";
import * as llama from "../adapters/models/llama.js";

export interface EndpointReport {
  endpoint: string;
  tier: string;
  url: string;
  ok: boolean;
  /** HTTP status of GET /models, or the connection error. */
  status: number | string;
  latencyMs?: number;
  model: string;
  modelServed?: boolean;
  contextWindow?: number;
  llama?: { health: string; slots?: { total: number; busy: number }; contextSize?: number };
  hint?: string;
}

export async function checkEndpoint(
  spec: EndpointSpec,
  env: Record<string, string | undefined>,
  timeoutMs: number,
): Promise<EndpointReport> {
  const url = `${spec.baseURL.replace(/\/+$/, "")}/models`;
  const base: EndpointReport = {
    endpoint: spec.id,
    tier: spec.tier,
    url,
    ok: false,
    status: "unknown",
    model: spec.model,
    ...(spec.contextWindow ? { contextWindow: spec.contextWindow } : {}),
  };
  const signal = AbortSignal.timeout(timeoutMs);
  const headers: Record<string, string> = {};
  if (spec.apiKeyEnv) {
    const key = env[spec.apiKeyEnv];
    if (!key)
      return {
        ...base,
        status: "key not set",
        hint: `export ${spec.apiKeyEnv}=… (lanes reads keys only from the environment)`,
      };
    headers.authorization = `Bearer ${key}`;
  }
  const t0 = performance.now();
  let report: EndpointReport;
  try {
    const res = await fetch(url, { headers, signal });
    const latencyMs = Math.round(performance.now() - t0);
    let served: boolean | undefined;
    let ids: string[] = [];
    if (res.ok) {
      const list = (await res.json().catch(() => ({}))) as { data?: { id?: string }[] };
      if (Array.isArray(list.data)) {
        ids = list.data.map((m) => String(m.id));
        // llama.cpp names its model by file path (or --alias): "tiny" matches ".../tiny.gguf".
        const local = (m: string) =>
          m
            .split("/")
            .pop()!
            .replace(/\.gguf$/i, "")
            .toLowerCase();
        served = ids.some((id) => id === spec.model || (spec.tierKind === "local" && local(id) === local(spec.model)));
      }
    }
    report = {
      ...base,
      // A local server serving another model fails; a hosted list may omit models it serves (a hint).
      ok: res.ok && !(spec.tierKind === "local" && served === false),
      status: res.status,
      latencyMs,
      ...(served !== undefined ? { modelServed: served } : {}),
    };
    if (!res.ok)
      report.hint =
        res.status === 401 || res.status === 403
          ? `the key in ${spec.apiKeyEnv ?? "apiKeyEnv"} was rejected`
          : `${url} answered ${res.status}`;
    else if (served === false)
      report.hint = `the server does not list model "${spec.model}" (it serves ${ids.slice(0, 3).join(", ") || "none"})`;
  } catch (err) {
    const code = signal.aborted
      ? `no answer within ${timeoutMs} ms`
      : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
    report = {
      ...base,
      status: code,
      hint:
        spec.tierKind === "local"
          ? `start llama-server on port ${new URL(spec.baseURL).port || 80}`
          : "check baseURL and the network",
    };
  }
  if (spec.tierKind === "local") {
    const h = await llama.health(spec.baseURL, signal).catch(() => ({ state: "down" as const, detail: "" }));
    const info: NonNullable<EndpointReport["llama"]> = { health: h.state };
    if (h.state === "ok" || h.state === "loading") {
      const [props, slots] = await Promise.all([
        llama.props(spec.baseURL, signal).catch(() => undefined),
        llama.slots(spec.baseURL, signal).catch(() => undefined),
      ]);
      if (props?.contextSize) info.contextSize = props.contextSize;
      if (slots) info.slots = slots;
      if (props?.contextSize) report.contextWindow = props.contextSize;
    }
    report.llama = info;
    if (h.state === "loading") report = { ...report, ok: true, hint: "the model is still loading" };
  }
  return report;
}
