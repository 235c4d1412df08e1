/**
 * Turning a zod issue into a located, readable problem: which layer (file) the offending value
 * came from, its line and column, and a message that says what was expected and what was found.
 */
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from "yaml";
import type { z } from "zod";
import type { ConfigProblem } from "../../core/errors.js";
import { closest } from "./suggest.js";

export type PathKey = string | number;

/** One configuration layer: where it came from, its raw value, and (for files) its parsed document. */
export interface Layer {
  /** File path as shown to the user, or e.g. "environment LANES_LANE" / "flag --lane". */
  source: string;
  raw: Record<string, unknown>;
  doc?: Document;
  lineCounter?: LineCounter;
  /** For env/flag layers: the variable or flag that set each top-level path. */
  origins?: Map<string, string>;
  /** An org policy layer: its values are floors. */
  policy?: boolean;
}

/** Position (1-based) of the value at `path`, or of the key naming the deepest part that exists. */
export function locate(layer: Layer, path: PathKey[], preferKey = false): { line: number; column: number } {
  if (!layer.doc || !layer.lineCounter) return { line: 0, column: 0 };
  let node: unknown = layer.doc.contents;
  let offset = (layer.doc.contents as Node | null)?.range?.[0] ?? 0;
  for (const [i, key] of path.entries()) {
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(key));
      if (!pair) break;
      const keyNode = pair.key as Node;
      offset = keyNode.range?.[0] ?? offset;
      if (last && preferKey) break;
      node = pair.value;
      if (!last) continue;
      offset = (pair.value as Node | null)?.range?.[0] ?? offset;
    } else if (isSeq(node) && typeof key === "number") {
      const item = node.items[key] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  const pos = layer.lineCounter.linePos(offset);
  return { line: pos.line, column: pos.col };
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
