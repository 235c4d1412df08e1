/**
 * Which store holds budgets, holds, history and audit: the org policy's `store` (a platform team's
 * choice cannot be escaped), else LANES_STORE_URL, else the user settings' `store`, else the SQLite
 * file in the data directory. A repository's lanes.yaml cannot choose it (load.ts refuses that):
 * pointing the ledger elsewhere would lift every budget.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LanesError } from "../../core/errors.js";
import { dataDir, userConfigFile } from "./paths.js";
import { readPolicies } from "./policy.js";

type Env = Record<string, string | undefined>;

export interface StoreLocation {
  /** A SQLite file path or a postgres:// URL (with its password: never print it). */
  where: string;
  source: string;
}

export async function storeLocation(env: Env = process.env, fetched?: Map<string, string>): Promise<StoreLocation> {
  const policies = readPolicies(env, fetched);
  // The YAML parser only where there is a policy to read (most machines have none).
  const parse = policies.length ? (await import("yaml")).parse : undefined;
  for (const p of policies) {
    const store = (parse!(p.text) as { store?: unknown } | null)?.store;
    if (typeof store === "string") return { where: store, source: `org policy ${p.source}` };
  }
  if (env.LANES_STORE_URL) return { where: env.LANES_STORE_URL, source: "LANES_STORE_URL" };
  const file = userConfigFile(env);
  if (existsSync(file)) {
    let settings: { store?: unknown };
    try {
      settings = JSON.parse(readFileSync(file, "utf8")) as { store?: unknown };
    } catch (err) {
      // Unreadable settings may name a store: never fall back to another one silently.
      throw new LanesError("config", `the user settings ${file} are not valid JSON: ${(err as Error).message}`, {
        hint: "`lanes config validate` shows the problem; fix or remove the file",
      });
    }
    if (typeof settings?.store === "string") return { where: settings.store, source: `user settings ${file}` };
  }
  return { where: join(dataDir(env), "ledger.db"), source: "default (SQLite in the data directory)" };
}
