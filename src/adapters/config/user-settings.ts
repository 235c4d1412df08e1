/**
 * Writing user settings (the `conf` store) safely: the change is applied, the whole
 * configuration re-validated, and the old file put back if it no longer validates.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { ConfigError } from "../../core/errors.js";
import { userConfigDir, userConfigFile } from "./paths.js";

export interface SettingsStore {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  delete(key: string): void;
}

export async function updateUserSettings(
  change: (store: SettingsStore) => void,
  validate: () => unknown,
  why: string,
): Promise<string> {
  const file = userConfigFile();
  const before = existsSync(file) ? readFileSync(file, "utf8") : undefined;
  const { default: Conf } = await import("conf");
  const store = new Conf<Record<string, unknown>>({ projectName: "lanes", projectSuffix: "", cwd: userConfigDir() });
  change(store as unknown as SettingsStore);
  try {
    await validate();
  } catch (err) {
    writeFileSync(file, before ?? "{}\n");
    if (err instanceof ConfigError)
      throw new ConfigError(err.problems, `nothing was changed: ${why} would make the configuration invalid`);
    throw err;
  }
  return file;
}
