/**
 * Turning a zod issue into a located, readable problem: which layer (file) the offending value
 * came from, its line and column, and a message that says what was expected and what was found.
 */
import type { z } from "zod";
import type { ConfigProblem } from "../../core/errors.js";
import { closest } from "./suggest.js";

export type PathKey = string | number;

/** A line and column (1-based). */
export type LineCol = [number, number];

/**
 * Where everything in a file is, computed once when it is parsed (load.ts), so that locating a
 * value needs neither the YAML parser nor its document, and a layer can be kept as JSON.
 * `at` is keyed by the path (see `step`): a mapping entry has its key's position and, where it
 * has one, its value's; a list item has its own.
 */
export interface Positions {
  root: LineCol;
  at: Record<string, { map: boolean; key?: LineCol; value?: LineCol }>;
}

/** One step of a `Positions` key: an entry of a mapping, or an item of a list. */
export const step = (prefix: string, key: PathKey, list: boolean) => `${prefix}\0${list ? "i" : "k"}:${String(key)}`;

/** One configuration layer: where it came from, its raw value, and (for files) where each part is. */
export interface Layer {
  /** File path as shown to the user, or e.g. "environment LANES_LANE" / "flag --lane". */
  source: string;
  raw: Record<string, unknown>;
  positions?: Positions;
  /** For env/flag layers: the variable or flag that set each top-level path. */
  origins?: Map<string, string>;
  /** An org policy layer: its values are floors. */
  policy?: boolean;
  /** The repository's lanes.yaml: untrusted (trust.ts). */
  repo?: boolean;
}

/** Position (1-based) of the value at `path`, or of the key naming the deepest part that exists. */
export function locate(layer: Layer, path: PathKey[], preferKey = false): { line: number; column: number } {
  const pos = layer.positions;
  if (!pos) return { line: 0, column: 0 };
  let at = pos.root;
  let prefix = "";
  for (const [i, key] of path.entries()) {
    const last = i === path.length - 1;
    // A mapping matches any key by its text; a list only by a number (as YAML's own nodes do).
    const asKey = step(prefix, key, false);
    const asItem = typeof key === "number" ? step(prefix, key, true) : undefined;
    const entry = pos.at[asKey] ?? (asItem ? pos.at[asItem] : undefined);
    if (!entry) break;
    prefix = pos.at[asKey] ? asKey : asItem!;
    if (entry.map) {
      at = entry.key ?? at;
      if (last && preferKey) break;
      if (last) at = entry.value ?? at;
    } else at = entry.value ?? at;
  }
  return { line: at[0], column: at[1] };
}

/** Where a value came from, as "file:line" (or the variable or flag), for plans and `config get --explain`. */
export function originOf(loaded: { layers: Layer[] }, path: PathKey[]): string {
  const setting = loaded.layers.filter((l) => depthIn(l.raw, path) === path.length).pop();
  if (!setting) return "schema default";
  if (setting.origins) return setting.origins.get(String(path[0])) ?? setting.source;
  if (!setting.positions) return setting.source;
  return `${setting.source}:${locate(setting, path).line}`;
}

/** The org policy's value at `path` (the floor), with where it is set, if a policy sets it. */
export function floorOf(loaded: { layers: Layer[] }, path: PathKey[]): { value: unknown; at: string } | undefined {
  const policy = loaded.layers.filter((l) => l.policy && depthIn(l.raw, path) === path.length).pop();
  if (!policy) return undefined;
  let v: unknown = policy.raw;
  for (const k of path) v = (v as Record<string, unknown>)[String(k)];
  return { value: v, at: `${policy.source}:${locate(policy, path).line}` };
}

/** How many leading keys of `path` exist in `raw`. */
export function depthIn(raw: unknown, path: PathKey[]): number {
  let cur = raw;
  let depth = 0;
  for (const key of path) {
    if (cur === null || typeof cur !== "object" || !(String(key) in (cur as object))) break;
    cur = (cur as Record<string, unknown>)[String(key)];
    depth++;
  }
  return depth;
}

export function valueAt(raw: unknown, path: PathKey[]): unknown {
  let cur = raw;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[String(key)];
  }
  return cur;
}

export function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** Known keys of the object schema at `path`, for "did you mean". */
export function knownKeysAt(schema: z.ZodType, path: PathKey[]): string[] {
  let s: any = schema;
  const unwrap = () => {
    while (s && ["default", "prefault", "optional", "nullable", "pipe"].includes(s._zod.def.type))
      s = s._zod.def.innerType ?? s._zod.def.in;
  };
  unwrap();
  for (const key of path) {
    const def = s?._zod.def;
    if (!def) return [];
    if (def.type === "object") s = def.shape[String(key)];
    else if (def.type === "record") s = def.valueType;
    else if (def.type === "array") s = def.element;
    else return [];
    unwrap();
  }
  return s?._zod.def.type === "object" ? Object.keys(s._zod.def.shape) : [];
}

/** Map one zod issue to one or more located problems, blaming the highest layer that set the value. */
export function toProblems(
  issue: z.core.$ZodIssue,
  layers: Layer[],
  merged: unknown,
  schema: z.ZodType,
): ConfigProblem[] {
  const path = issue.path.filter((k): k is PathKey => typeof k !== "symbol");
  const where = (p: PathKey[], preferKey = false) => {
    // The layer with the deepest match wins; ties go to the higher-precedence (later) layer.
    let best: Layer | undefined;
    let bestDepth = 0;
    for (const layer of layers) {
      const d = depthIn(layer.raw, p);
      if (d > 0 && d >= bestDepth) [best, bestDepth] = [layer, d];
    }
    const layer = best ?? layers[layers.length - 1]!;
    const origin = layer.origins?.get(String(p[0] ?? ""));
    return { file: origin ?? layer.source, ...locate(layer, p, preferKey) };
  };
  const dotted = (p: PathKey[]) => p.map(String).join(".");

  if (issue.code === "unrecognized_keys") {
    const known = knownKeysAt(schema, path);
    return issue.keys.map((key) => {
      const hint = closest(key, known);
      const message = `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ""}`;
      return { ...where([...path, key], true), path: dotted([...path, key]), message };
    });
  }
  const value = valueAt(merged, path);
  let message: string;
  switch (issue.code) {
    case "invalid_type":
      message =
        value === undefined
          ? `is required (expected ${issue.expected})`
          : `wrong type (expected ${issue.expected}, got ${describeValue(value)})`;
      break;
    case "invalid_value": {
      const options = issue.values.map(String);
      const hint = typeof value === "string" ? closest(value, options) : undefined;
      message = `invalid value (expected ${options.join(" | ")}, got ${describeValue(value)})${hint ? ` — did you mean "${hint}"?` : ""}`;
      break;
    }
    case "too_small":
      message = `too small (expected ${
        issue.origin === "array"
          ? `at least ${String(issue.minimum)} item(s)`
          : `${issue.inclusive ? ">= " : "> "}${String(issue.minimum)}`
      }, got ${describeValue(value)})`;
      break;
    case "too_big":
      message = `too big (expected ${issue.inclusive ? "<= " : "< "}${String(issue.maximum)}, got ${describeValue(value)})`;
      break;
    case "invalid_format":
    case "invalid_key":
      message = `invalid value (expected ${issue.message}, got ${describeValue(value)})`;
      break;
    default:
      message = issue.message;
  }
  return [{ ...where(path), path: dotted(path), message }];
}
