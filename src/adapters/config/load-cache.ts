/**
 * The last validated configuration of each repository, reused while every input is unchanged, so
 * that a command does not load the YAML parser and zod (~80 ms of every `lanes plan`) to read the
 * same lanes.yaml again.
 *
 * Only where no org policy is in force: then every input is the user's own (their settings,
 * their checkout's lanes.yaml, their LANES_* variables and flags) and so is LANES_HOME, where the
 * cache lives — an entry they forged could only give them a configuration they could have written
 * into lanes.yaml. Under an org policy (/etc/lanes/policy.yaml or LANES_POLICY) nothing is read
 * from or written to the cache: every load validates and checks the policy's floors.
 *
 * An entry is used only when its key matches: the build (dist/bundle/build-id, so a new lanes
 * never reads an old one's result), the working directory, the resolved repository, both files'
 * paths and bytes, every LANES_* variable and the flags. Anything else is a miss, and a miss is a
 * full load. From the TypeScript sources (no build id) nothing is cached.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { ownFile } from "../own-files.js";
import { findProject } from "./find-project.js";
import type { LoadedConfig, LoadOptions } from "./load.js";
import type { Layer } from "./locate.js";
import { dataDir, userConfigFile } from "./paths.js";
import { SYSTEM_POLICY_FILE } from "./policy.js";

interface Entry {
  key: string;
  loaded: Omit<LoadedConfig, "layers"> & { layers: (Omit<Layer, "origins"> & { origins?: [string, string][] })[] };
}

let buildId: string | null | undefined;

function build(): string | null {
  if (buildId === undefined) {
    try {
      buildId = readFileSync(fileURLToPath(ownFile("bundle/build-id")), "utf8").trim() || null;
    } catch {
      buildId = null;
    }
  }
  return buildId;
}

/** The cache file for a repository, and the key its entry must have; undefined: not cacheable. */
function where(opts: LoadOptions): { file: string; key: string } | undefined {
  const env = opts.env ?? process.env;
  const id = build();
  if (!id || opts.fetchedPolicies || env.LANES_POLICY || existsSync(SYSTEM_POLICY_FILE)) return undefined;
  const repo = resolve(opts.repo);
  const { projectFile } = findProject(repo);
  const userFile = userConfigFile(env);
  const hash = createHash("sha256");
  const part = (s: string) => hash.update(s).update("\0");
  [id, process.cwd(), repo, JSON.stringify(opts.flags ?? {})].forEach(part);
  for (const [k, v] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b)))
    if (k.startsWith("LANES_")) part(`${k}=${v ?? ""}`);
  for (const file of [projectFile, userFile]) {
    part(file ?? "(none)");
    if (file && existsSync(file)) hash.update(readFileSync(file)).update("\0");
  }
  const name = createHash("sha256").update(repo).digest("hex").slice(0, 24);
  return { file: join(dataDir(env), "cache", "config", `${name}.json`), key: hash.digest("hex") };
}

/**
 * The cache for one load: what was loaded last time with these exact inputs (if anything), and
 * how to keep what a full load produces. The key is computed once (it reads both files).
 */
export function configCache(opts: LoadOptions): {
  loaded: LoadedConfig | undefined;
  /** Keeps `loaded` (where allowed) and gives it back. */
  remember: (loaded: LoadedConfig) => LoadedConfig;
} {
  const at = where(opts);
  return {
    loaded: at && read(at),
    remember: (loaded) => {
      if (at) write(at, loaded);
      return loaded;
    },
  };
}

function read(at: { file: string; key: string }): LoadedConfig | undefined {
  let entry: Entry;
  try {
    entry = JSON.parse(readFileSync(at.file, "utf8")) as Entry;
  } catch {
    return undefined;
  }
  if (entry.key !== at.key) return undefined;
  const layers = entry.loaded.layers.map(({ origins, ...l }) => ({
    ...l,
    ...(origins ? { origins: new Map(origins) } : {}),
  }));
  return { ...entry.loaded, layers };
}

/** Keep what a full load produced (when it survives JSON unchanged). */
function write(at: { file: string; key: string }, loaded: LoadedConfig): void {
  const layers = loaded.layers.map(({ origins, ...l }) => ({ ...l, ...(origins ? { origins: [...origins] } : {}) }));
  const entry: Entry = { key: at.key, loaded: { ...loaded, layers } };
  const text = JSON.stringify(entry);
  // A value JSON cannot carry (an undefined key, a Date) would come back different: not kept.
  if (!isDeepStrictEqual(JSON.parse(text), entry)) return;
  try {
    mkdirSync(dirname(at.file), { recursive: true });
    const tmp = `${at.file}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, at.file);
  } catch {
    /* a cache: not writing it only costs a full load next time */
  }
}
