/** Replay servers and endpoints wired to them, for tests (real HTTP, the real openai client). */
import type { Price } from "../../src/core/cost.js";
import type { EndpointEvent } from "../../src/core/models.js";
import { OpenAIEndpoint, type EndpointSpec } from "../../src/adapters/models/openai-endpoint.js";
import { scriptSchema } from "../../src/adapters/models/replay-script.js";
import { startReplayServer, type ReplayServer } from "../../src/adapters/models/replay-server.js";

const servers: ReplayServer[] = [];

export async function replay(script: Record<string, unknown>): Promise<ReplayServer> {
  const s = await startReplayServer(scriptSchema.parse(script));
  servers.push(s);
  return s;
}

export async function closeAll(): Promise<void> {
  await Promise.all(servers.splice(0).map((s) => s.close()));
}

export const PRICE: Price = { inputPerMTok: 1, outputPerMTok: 4 };

export function endpoint(
  server: { url: string },
  overrides: Partial<EndpointSpec> = {},
  env: Record<string, string> = {},
): OpenAIEndpoint {
  return new OpenAIEndpoint(
    {
      id: "ep",
      tier: "standard",
      tierKind: "hosted",
      baseURL: server.url,
      model: "gpt-4o",
      price: { kind: "priced", price: PRICE, source: "test" },
      timeoutMs: 10_000,
      fallbacks: [],
      ...overrides,
    },
    env,
  );
}

export function recorder() {
  const events: EndpointEvent[] = [];
  const billed: (number | null)[] = [];
  return {
    events,
    billed,
    hooks: { emit: (e: EndpointEvent) => events.push(e), onBilled: (usd: number | null) => billed.push(usd) },
  };
}

export const ASK = { messages: [{ role: "user" as const, content: "Fix the failing test." }], maxTokens: 200 };

/** A loopback port with nothing listening (fetch refuses "bad ports" like 9 without connecting). */
export async function closedPort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
