/**
 * Layered configuration: built-in defaults < org policy < user settings < project lanes.yaml <
 * LANES_* environment < flags. The org policy's values are floors the layers above may only
 * tighten (floors.ts), and its budgets are always kept. Each file is parsed with positions kept, the layers are merged key by key,
 * and the result is validated once by the schema; every problem is reported with the file, line
 * and column of the layer that set the offending value. A broken file is an error, never a
 * silent fall-back to defaults.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { relative, resolve } from "node:path";
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { ConfigError, type ConfigProblem } from "../../core/errors.js";
import { BUILTIN_CONFIG } from "./defaults.js";
import { describe, everyFloorViolations, violations } from "./floors.js";
import { closeLanes, repoProblems, resolveEndpointRefs, withDefaults } from "./repo-layer.js";
import {
  depthIn,
  valueAt,
  locate,
  step,
  toProblems,
  type Layer,
  type LineCol,
  type PathKey,
  type Positions,
} from "./locate.js";
import { readPolicies } from "./policy.js";
import { findProject } from "./find-project.js";
import { userConfigFile } from "./paths.js";
import { configSchema, type Config } from "./schema.js";

export interface ConfigFlags {
  lane?: string | undefined;
  tier?: string | undefined;
}

export interface LoadOptions {
  /** Repository directory (--repo); lanes.yaml is looked up here, then up to the git root. */
  repo: string;
  flags?: ConfigFlags;
  env?: Record<string, string | undefined>;
  /** URL policies fetched beforehand (policy.ts `fetchPolicies`): loading itself is synchronous. */
  fetchedPolicies?: Map<string, string>;
}

export interface PolicyInfo {
  source: string;
  sha256: string;
}

export interface LoadedConfig {
  config: Config;
  projectFile: string | undefined;
  userFile: string;
  /** The repository root: where lanes.yaml is, else the git root, else the --repo directory. */
  root: string;
  /** The org policies in force (empty when none). */
  policies: PolicyInfo[];
  layers: Layer[];
}

/** Environment variables that set configuration, and the path each one sets. */
export const ENV_KEYS: Record<string, string[]> = {
  LANES_LANE: ["defaults", "lane"],
  LANES_TIER: ["defaults", "tier"],
  LANES_USER: ["identity", "user"],
  LANES_TEAM: ["identity", "team"],
  LANES_PROJECT: ["identity", "project"],
};

export function loadConfig(opts: LoadOptions): LoadedConfig {
  const env = opts.env ?? process.env;
  const repo = resolve(opts.repo);
  const { projectFile, root } = findProject(repo);
  const userFile = userConfigFile(env);
  const problems: ConfigProblem[] = [];

  const layers: Layer[] = [
    { source: "(built-in defaults)", raw: structuredClone(BUILTIN_CONFIG) as Record<string, unknown> },
  ];
  const policies = readPolicies(env, opts.fetchedPolicies);
  for (const p of policies) {
    const parsed = parseLayer(p.text, p.source);
    if ("problems" in parsed) problems.push(...parsed.problems);
    else layers.push({ ...parsed, policy: true });
  }
  for (const file of [userFile, projectFile]) {
    if (!file || !existsSync(file)) continue;
    const parsed = readLayer(file, displayPath(file));
    if ("problems" in parsed) problems.push(...parsed.problems);
    else if (file === projectFile && parsed.raw.store !== undefined)
      // The store holds the budgets: a repository choosing it could lift every one of them.
      problems.push({
        file: parsed.source,
        ...locate(parsed, ["store"]),
        path: "store",
        message: "a repository cannot choose the store; set it in the org policy, user settings or LANES_STORE_URL",
      });
    else layers.push(file === projectFile ? { ...parsed, repo: true } : parsed);
  }
  layers.push(
    envLayer(
      "environment",
      Object.entries(ENV_KEYS).map(([k, path]) => [`${k}`, path, env[k]]),
    ),
  );
  layers.push(
    envLayer("flag", [
      ["--lane", ["defaults", "lane"], opts.flags?.lane],
      ["--tier", ["defaults", "tier"], opts.flags?.tier],
    ]),
  );
  // Syntax errors stop here: validating a half-read file would only add noise.
  if (problems.length) throw new ConfigError(problems);

  const repoLayer = layers.find((l) => l.repo);
  const trusted = layers.filter((l) => !l.repo).reduce<Record<string, unknown>>((acc, l) => deepMerge(acc, l.raw), {});
  const repoAsWritten = repoLayer?.raw;
  if (repoLayer) repoLayer.raw = resolveEndpointRefs(repoLayer.raw, trusted);
  closeLanes(layers);
  const merged = layers.reduce<Record<string, unknown>>((acc, l) => deepMerge(acc, l.raw), {});
  keepAllBudgets(merged, layers);
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const all = result.error.issues.flatMap((issue) => toProblems(issue, layers, merged, configSchema));
    throw new ConfigError(sortProblems(all));
  }
  const floors = floorProblems(layers, result.data as unknown as Record<string, unknown>);
  const untrusted = repoLayer ? repoProblems({ ...repoLayer, raw: repoAsWritten! }, withDefaults(trusted)) : [];
  if (floors.length || untrusted.length)
    throw new ConfigError(
      sortProblems([...floors, ...untrusted]),
      untrusted.length
        ? "a repository may only select and tighten (docs/trust.md); put what it may not set in your user settings"
        : "a project may only tighten the org policy; `lanes config get KEY --explain` shows the floor",
    );
  // Only the org policy names who is charged; every other layer's identity.user is a claim.
  const policyUser = layers
    .filter((l) => l.policy)
    .map((l) => valueAt(l.raw, ["identity", "user"]))
    .pop();
  if (typeof policyUser === "string") result.data.identity.policyUser = policyUser;
  else delete result.data.identity.policyUser;
  const policyInfo = policies.map((p) => ({ source: p.source, sha256: p.sha256 }));
  return { config: result.data, projectFile, userFile, root, policies: policyInfo, layers };
}

/**
 * No layer removes another's budgets: the policy's, the user's and the repository's are all kept
 * (a repository's budgets can only add limits).
 */
function keepAllBudgets(merged: Record<string, unknown>, layers: Layer[]): void {
  merged.budgets = layers.flatMap((l) => (Array.isArray(l.raw.budgets) ? l.raw.budgets : []));
}

function floorProblems(layers: Layer[], config: Record<string, unknown>): ConfigProblem[] {
  return layers.flatMap((policy, i) => {
    if (!policy.policy) return [];
    const above = layers.slice(i + 1);
    // A lane or profile that does not set a key the every-lane/profile floor names inherits the floor.
    const every = everyFloorViolations(policy.raw, config).filter((v) => {
      if (v.message || above.some((l) => depthIn(l.raw, v.path) === v.path.length)) return true;
      setAt(config, v.path, structuredClone(v.floor));
      return false;
    });
    return [...violations(policy.raw, config), ...every].map((v) => {
      const blamed = layerSetting(above, v.path) ?? policy;
      const floorAt = locate(policy, every.includes(v) ? everyFloorPath(v.path) : v.path);
      const message =
        ("message" in v ? String(v.message) : "") ||
        `loosens the org policy: ${describe(v.value)} where ${policy.source}:${floorAt.line} sets ${describe(v.floor)}` +
          ` (a floor: only stricter values are allowed)`;
      return {
        file: blamed.origins?.get(String(v.path[0])) ?? blamed.source,
        ...locate(blamed, v.path),
        path: v.path.join("."),
        message,
      };
    });
  });
}

function setAt(root: Record<string, unknown>, path: PathKey[], value: unknown): void {
  let cur = root;
  for (const k of path.slice(0, -1)) cur = (cur[String(k)] ??= {}) as Record<string, unknown>;
  cur[String(path[path.length - 1])] = value;
}

/** Where the policy's every-lane or every-profile floor for a lane's or profile's `path` is. */
function everyFloorPath(path: PathKey[]): PathKey[] {
  if (path[0] === "lanes") return ["policy", path.length > 2 ? "everyLane" : "lanes", ...path.slice(2)];
  return ["policy", "everyProfile", ...path.slice(3)];
}

/** The highest layer that sets `path` itself (or, failing that, its deepest part). */
function layerSetting(layers: Layer[], path: PathKey[]): Layer | undefined {
  let best: Layer | undefined;
  let bestDepth = 0;
  for (const l of layers) {
    const d = depthIn(l.raw, path);
    if (d > 0 && d >= bestDepth) [best, bestDepth] = [l, d];
  }
  return best;
}

/** Parse one YAML (or JSON) file, keeping positions. */
export function readLayer(file: string, source: string): Layer | { problems: ConfigProblem[] } {
  const size = statSync(file).size;
  if (size > MAX_CONFIG_BYTES) {
    const message = `the file is ${(size / 2 ** 20).toFixed(1)} MB; configuration files are limited to 1 MB`;
    return { problems: [{ file: source, line: 1, column: 1, path: "", message }] };
  }
  return parseLayer(readFileSync(file, "utf8"), source);
}

/** Configuration files are small: a bigger one is refused before it is parsed. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

function parseLayer(text: string, source: string): Layer | { problems: ConfigProblem[] } {
  const at = (line: number, column: number, message: string) => ({
    problems: [{ file: source, line, column, path: "", message }],
  });
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES)
    return at(
      1,
      1,
      `the file is ${(Buffer.byteLength(text) / 2 ** 20).toFixed(1)} MB; configuration files are limited to 1 MB`,
    );
  const lineCounter = new LineCounter();
  // Duplicate keys are found below in one pass: yaml's own uniqueKeys check is quadratic in a map's size.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const duplicate = firstDuplicateKey(doc.contents);
  if (duplicate) {
    const pos = lineCounter.linePos(duplicate.offset);
    return at(pos.line, pos.col, `invalid YAML: duplicate key "${duplicate.key}"`);
  }
  if (doc.errors.length) {
    return {
      problems: doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return {
          file: source,
          line: pos.line,
          column: pos.col,
          path: "",
          message: `invalid YAML: ${e.message.split("\n")[0]}`,
        };
      }),
    };
  }
  let raw: unknown;
  try {
    // maxAliasCount bounds an alias bomb (a few lines that expand to billions of nodes).
    raw = doc.toJS({ maxAliasCount: 1000 }) ?? {};
  } catch (err) {
    return at(1, 1, `invalid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return {
      problems: [
        {
          file: source,
          line: 1,
          column: 1,
          path: "",
          message: `expected a mapping of settings at the top level, got ${Array.isArray(raw) ? "a list" : typeof raw}`,
        },
      ],
    };
  }
  return { source, raw: raw as Record<string, unknown>, positions: positionsOf(doc, lineCounter) };
}

const MAX_POSITION_DEPTH = 32;

/** Where every key, value and list item of a document is (see `Positions` in locate.ts). */
function positionsOf(doc: Document, lineCounter: LineCounter): Positions {
  const lc = (offset: number): LineCol => {
    const p = lineCounter.linePos(offset);
    return [p.line, p.col];
  };
  const at: Positions["at"] = {};
  // Only as deep as a configuration goes: each path key repeats its prefix, so positions of a
  // hostile file nested thousands deep would grow with the square of its depth.
  const walk = (node: unknown, prefix: string, depth = 0) => {
    if (depth > MAX_POSITION_DEPTH) return;
    if (isMap(node))
      for (const pair of node.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue;
        const path = step(prefix, String(pair.key.value), false);
        if (path in at) continue; // the first entry with a key is the one found by a lookup
        const key = (pair.key as Node).range?.[0];
        const value = (pair.value as Node | null)?.range?.[0];
        at[path] = {
          map: true,
          ...(key !== undefined ? { key: lc(key) } : {}),
          ...(value !== undefined ? { value: lc(value) } : {}),
        };
        walk(pair.value, path, depth + 1);
      }
    else if (isSeq(node))
      node.items.forEach((item, i) => {
        if (!item) return;
        const path = step(prefix, i, true);
        const value = (item as Node).range?.[0];
        at[path] = { map: false, ...(value !== undefined ? { value: lc(value) } : {}) };
        walk(item, path, depth + 1);
      });
  };
  walk(doc.contents, "");
  return { root: lc((doc.contents as Node | null)?.range?.[0] ?? 0), at };
}

/** The first key that appears twice in one mapping, anywhere in the document (linear time). */
function firstDuplicateKey(root: unknown): { key: string; offset: number } | undefined {
  const stack: unknown[] = [root];
  while (stack.length) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        if (seen.has(key)) return { key, offset: (pair.key as { range?: [number] } | null)?.range?.[0] ?? 0 };
        seen.add(key);
        stack.push(pair.value);
      }
    } else if (isSeq(node)) stack.push(...node.items);
  }
  return undefined;
}

function envLayer(kind: string, entries: [string, string[], string | undefined][]): Layer {
  const raw: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  for (const [name, path, value] of entries) {
    if (value === undefined || value === "") continue;
    let cur = raw;
    for (const key of path.slice(0, -1)) cur = (cur[key] ??= {}) as Record<string, unknown>;
    cur[path[path.length - 1]!] = value;
    origins.set(path[0]!, `${kind} ${name}`);
  }
  return { source: kind, raw, origins };
}

/** Objects merge key by key; arrays and scalars from the later layer replace the earlier. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && statSync(file).isFile() ? rel : file;
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}
