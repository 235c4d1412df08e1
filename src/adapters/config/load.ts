/**
 * Layered configuration: built-in defaults < user settings < project lanes.yaml < LANES_*
 * environment < flags. Each file is parsed with positions kept, the layers are merged key by key,
 * and the result is validated once by the schema; every problem is reported with the file, line
 * and column of the layer that set the offending value. A broken file is an error, never a
 * silent fall-back to defaults.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { ConfigError, type ConfigProblem } from "../../core/errors.js";
import { BUILTIN_CONFIG } from "./defaults.js";
import { toProblems, type Layer } from "./locate.js";
import { PROJECT_FILE, userConfigFile } from "./paths.js";
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
}

export interface LoadedConfig {
  config: Config;
  projectFile: string | undefined;
  userFile: string;
  /** The repository root: where lanes.yaml is, else the git root, else the --repo directory. */
  root: string;
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

  const layers: Layer[] = [{ source: "(built-in defaults)", raw: structuredClone(BUILTIN_CONFIG) as Record<string, unknown> }];
  for (const file of [userFile, projectFile]) {
    if (!file || !existsSync(file)) continue;
    const parsed = readLayer(file, displayPath(file));
    if ("problems" in parsed) problems.push(...parsed.problems);
    else layers.push(parsed);
  }
  layers.push(envLayer("environment", Object.entries(ENV_KEYS).map(([k, path]) => [`${k}`, path, env[k]])));
  layers.push(envLayer("flag", [["--lane", ["defaults", "lane"], opts.flags?.lane], ["--tier", ["defaults", "tier"], opts.flags?.tier]]));
  // Syntax errors stop here: validating a half-read file would only add noise.
  if (problems.length) throw new ConfigError(problems);

  const merged = layers.reduce<Record<string, unknown>>((acc, l) => deepMerge(acc, l.raw), {});
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const all = result.error.issues.flatMap((issue) => toProblems(issue, layers, merged, configSchema));
    throw new ConfigError(sortProblems(all));
  }
  return { config: result.data, projectFile, userFile, root };
}

/** Parse one YAML (or JSON) file, keeping positions. */
export function readLayer(file: string, source: string): Layer | { problems: ConfigProblem[] } {
  const text = readFileSync(file, "utf8");
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    return {
      problems: doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { file: source, line: pos.line, column: pos.col, path: "", message: `invalid YAML: ${e.message.split("\n")[0]}` };
      }),
    };
  }
  const raw = doc.toJS() ?? {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    return { problems: [{ file: source, line: 1, column: 1, path: "", message: `expected a mapping of settings at the top level, got ${Array.isArray(raw) ? "a list" : typeof raw}` }] };
  }
  return { source, raw, doc, lineCounter };
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

/** lanes.yaml in `repo` or the nearest parent up to (and including) the git root. */
export function findProject(repo: string): { projectFile: string | undefined; root: string } {
  let dir = repo;
  for (;;) {
    const candidate = join(dir, PROJECT_FILE);
    if (existsSync(candidate)) return { projectFile: candidate, root: dir };
    if (existsSync(join(dir, ".git")) || dirname(dir) === dir) return { projectFile: undefined, root: existsSync(join(dir, ".git")) ? dir : repo };
    dir = dirname(dir);
  }
}

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && statSync(file).isFile() ? rel : file;
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}
