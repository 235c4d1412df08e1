/**
 * Each task of a batch runs with its own repository's lanes.yaml where it has one. What comes
 * from the repository: its sandbox profiles, its lane's `check` and `sandbox` profile, its task
 * templates (templates.ts reads them from the repository anyway), and — only when the batch's
 * own configuration does not define the batch's lane — the lane itself and its tiers. What stays
 * the batch's: the lane where the batch defines it (tiers, budget, approval, limits), budgets and
 * quota rules, cost classes, identity and hosts. Org policy floors apply to every file (loading a
 * repository's configuration checks them, exactly as a run there would).
 */
import { LanesError } from "../core/errors.js";
import { findProject } from "../adapters/config/find-project.js";
import { readLayer, type LoadedConfig } from "../adapters/config/load.js";
import type { Config } from "../adapters/config/schema.js";

export interface TaskConfig {
  config: Config;
  /** The repository's lanes.yaml that shaped it, when there is one of its own. */
  source?: string;
}

type Raw = { lanes?: Record<string, { check?: unknown; sandbox?: unknown }>; sandbox?: { profiles?: object } };

export function taskConfigs(base: { config: Config; projectFile: string | undefined }, lane: string) {
  const cache = new Map<string, TaskConfig>();
  return (repo: string, load: (repo: string) => LoadedConfig): TaskConfig => {
    let tc = cache.get(repo);
    if (!tc) {
      tc = forRepo(base, lane, repo, load);
      cache.set(repo, tc);
    }
    return tc;
  };
}

function forRepo(
  base: { config: Config; projectFile: string | undefined },
  lane: string,
  repo: string,
  load: (repo: string) => LoadedConfig,
): TaskConfig {
  const { projectFile } = findProject(repo);
  if (!projectFile || projectFile === base.projectFile) {
    if (!base.config.lanes[lane]) throw unknownLane(lane, repo);
    return { config: base.config };
  }
  const theirs = load(repo).config;
  const layer = readLayer(projectFile, projectFile);
  const raw = ("raw" in layer ? layer.raw : {}) as Raw;
  const ours = base.config.lanes[lane];
  const own = raw.lanes?.[lane];
  const laneDef = ours
    ? {
        ...ours,
        ...(own?.check !== undefined ? { check: theirs.lanes[lane]!.check } : {}),
        ...(own?.sandbox !== undefined ? { sandbox: theirs.lanes[lane]!.sandbox } : {}),
      }
    : theirs.lanes[lane];
  if (!laneDef) throw unknownLane(lane, repo, projectFile);
  // A tier the batch defines with endpoints stays the batch's; otherwise the repository's.
  const tiers = { ...base.config.tiers };
  for (const [name, t] of Object.entries(theirs.tiers))
    if (!tiers[name]?.endpoints.length && (t.endpoints.length || !tiers[name])) tiers[name] = t;
  const profiles = { ...base.config.sandbox.profiles };
  for (const name of Object.keys(raw.sandbox?.profiles ?? {})) profiles[name] = theirs.sandbox.profiles[name]!;
  profiles[laneDef.sandbox] ??= theirs.sandbox.profiles[laneDef.sandbox]!;
  return {
    config: {
      ...base.config,
      tiers,
      lanes: { ...base.config.lanes, [lane]: laneDef },
      sandbox: { ...base.config.sandbox, profiles },
    },
    source: projectFile,
  };
}

function unknownLane(lane: string, repo: string, file?: string): LanesError {
  return new LanesError("usage", `unknown lane "${lane}" for ${repo}`, {
    hint: `define lanes.${lane} in the batch's lanes.yaml${file ? ` or in ${file}` : ` or in ${repo}/lanes.yaml`}`,
  });
}
