/** Where lanes keeps things on disk. Pure path arithmetic over the environment; no I/O. */
import { homedir } from "node:os";
import { join } from "node:path";

type Env = Record<string, string | undefined>;

/** User settings directory (the `conf` store lives here): LANES_CONFIG_DIR, else XDG config. */
export function userConfigDir(env: Env = process.env): string {
  return env.LANES_CONFIG_DIR || join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "lanes");
}

export function userConfigFile(env: Env = process.env): string {
  return join(userConfigDir(env), "config.json");
}

/** Data directory (ledger, audit trail, runs): LANES_HOME, else the XDG data directory. */
export function dataDir(env: Env = process.env): string {
  return env.LANES_HOME || join(env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "lanes");
}

export const PROJECT_FILE = "lanes.yaml";

/** Build caches kept outside any clone (vendored Node, llama-server): LANES_CACHE, else by user. */
export function cacheDir(env: Env = process.env): string {
  return env.LANES_CACHE ?? (process.getuid?.() === 0 ? "/var/cache/lanes" : join(homedir(), ".cache", "lanes"));
}
