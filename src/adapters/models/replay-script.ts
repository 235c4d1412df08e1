/**
 * The replay script: assistant turns (text and tool calls) served in order, with faults to
 * inject. YAML or JSON, validated like lanes.yaml (file:line:col errors).
 */
import { z } from "zod";
import { ConfigError } from "../../core/errors.js";
import { readLayer } from "../config/load.js";
import { toProblems, type Layer } from "../config/locate.js";

const toolCall = z
  .record(z.string().min(1), z.union([z.record(z.string(), z.unknown()), z.string()]))
  .refine((o) => Object.keys(o).length === 1, "one tool per entry, e.g. { bash: { command: ls } }");

export const turnSchema = z.strictObject({
  /** Assistant text. */
  say: z.string().optional(),
  /** Tool calls: { name: arguments }. A string is sent as the raw arguments (e.g. malformed JSON). */
  tools: z.array(toolCall).optional(),
  /** rate_limit = 429 (+ Retry-After); server_error = 500; cut = the stream breaks half-way. */
  fault: z.enum(["rate_limit", "server_error", "cut"]).optional(),
  /** Seconds, for rate_limit. */
  retryAfter: z.number().nonnegative().optional(),
  /** Delay before the first byte (a slow first token). */
  delayMs: z.number().int().nonnegative().optional(),
  finishReason: z.string().optional(),
  /** Override the usage the server reports. */
  usage: z
    .strictObject({
      prompt_tokens: z.number().int().nonnegative().optional(),
      completion_tokens: z.number().int().nonnegative().optional(),
      cached_tokens: z.number().int().nonnegative().optional(),
    })
    .optional(),
});

export const scriptSchema = z.strictObject({
  model: z.string().default("replay"),
  /** When the turns run out: repeat the last one, or answer 500. */
  repeatLast: z.boolean().default(false),
  /** llama.cpp-style timings in every response. */
  timings: z.boolean().default(false),
  turns: z.array(turnSchema).min(1),
});

export type ReplayTurn = z.output<typeof turnSchema>;
export type ReplayScript = z.output<typeof scriptSchema>;

export function loadScript(file: string): ReplayScript {
  const layer = readLayer(file, file);
  if ("problems" in layer) throw new ConfigError(layer.problems, "fix the replay script");
  if (Array.isArray(layer.raw.trajectory) && typeof layer.raw.runId === "string") return fromTrajectory(layer.raw);
  return parseScript(layer);
}

/** A recorded run (LANES_HOME/runs/ID/trajectory.json) replays its model turns in order. */
export function fromTrajectory(t: Record<string, unknown>): ReplayScript {
  const turns: ReplayTurn[] = [];
  for (const e of t.trajectory as {
    kind: string;
    data: {
      content?: string;
      toolCalls?: { name: string; arguments: string }[];
      usage?: { promptTokens?: number; completionTokens?: number };
    };
  }[]) {
    if (e.kind !== "model") continue;
    const tools = (e.data.toolCalls ?? []).map((c) => {
      let args: Record<string, unknown> | string = c.arguments;
      try {
        args = JSON.parse(c.arguments) as Record<string, unknown>;
      } catch {
        /* keep it raw: it was malformed when recorded too */
      }
      return { [c.name]: args };
    });
    turns.push({
      ...(e.data.content ? { say: e.data.content } : {}),
      ...(tools.length ? { tools } : {}),
      usage: { prompt_tokens: e.data.usage?.promptTokens ?? 0, completion_tokens: e.data.usage?.completionTokens ?? 0 },
    });
  }
  if (!turns.length)
    throw new ConfigError([
      {
        file: String(t.runId),
        line: 0,
        column: 0,
        path: "trajectory",
        message: "the recorded run has no model turns to replay",
      },
    ]);
  const plan = t.plan as { model?: string } | undefined;
  return { model: plan?.model ?? "replay", repeatLast: false, timings: false, turns };
}

export function parseScript(layer: Layer): ReplayScript {
  const r = scriptSchema.safeParse(layer.raw);
  if (!r.success)
    throw new ConfigError(
      r.error.issues.flatMap((i) => toProblems(i, [layer], layer.raw, scriptSchema)),
      "fix the replay script (format: README, Replay endpoint)",
    );
  return r.data;
}
