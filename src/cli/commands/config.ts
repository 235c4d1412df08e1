/** `lanes config get|set|path|validate`. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { updateUserSettings } from "../../adapters/config/user-settings.js";
import { parse as parseYaml, parseDocument, stringify } from "yaml";
import { ConfigError, LanesError } from "../../core/errors.js";
import { redact } from "../../adapters/store/redact-url.js";
import { floorOf, originOf, valueAt } from "../../adapters/config/locate.js";
import { closest } from "../../adapters/config/suggest.js";
import { dataDir, userConfigFile } from "../../adapters/config/paths.js";
import type { CommandContext } from "../context.js";
import { loadFor as load } from "../load-config.js";

function splitKey(key: string): (string | number)[] {
  if (!/^[A-Za-z0-9_.-]+$/.test(key) || key.startsWith(".") || key.endsWith(".") || key.includes("..")) {
    throw new LanesError("usage", `"${key}" is not a dotted setting path`, {
      hint: "use e.g. lanes.async.budget.capUsd or defaults.lane",
    });
  }
  return key.split(".").map((k) => (/^\d+$/.test(k) ? Number(k) : k));
}

export async function get(ctx: CommandContext<{ explain?: boolean }>): Promise<void> {
  const loaded = await load(ctx);
  // A store URL may carry a password: never printed.
  const config = loaded.config.store ? { ...loaded.config, store: redact(loaded.config.store) } : loaded.config;
  const key = ctx.args[0];
  const path = key ? splitKey(key) : [];
  const value = valueAt(config, path);
  if (value === undefined) {
    const parent = valueAt(config, path.slice(0, -1));
    const hint =
      parent && typeof parent === "object" ? closest(String(path[path.length - 1]), Object.keys(parent)) : undefined;
    throw new LanesError(
      "usage",
      `no setting at "${key}"${hint ? ` (did you mean "${[...path.slice(0, -1), hint].join(".")}"?)` : ""}`,
      {
        hint: "`lanes config get` prints every setting",
      },
    );
  }
  const show = (v: unknown) => (typeof v === "object" && v !== null ? stringify(v).trimEnd() : String(v));
  if (ctx.opts.explain && key) {
    const from = originOf(loaded, path);
    const floor = floorOf(loaded, path);
    const r = { key, value, from, floor: floor ?? null };
    ctx.out.result(r, () =>
      [
        `${key} = ${show(value)}`,
        `  set by      ${from}`,
        `  org policy  ${floor ? `${show(floor.value)} (${floor.at}); layers above may only tighten it` : "no floor (no org policy sets it)"}`,
      ].join("\n"),
    );
    return;
  }
  ctx.out.result(ctx.mode.kind === "json" ? { key: key ?? "", value } : value, show);
}

export async function set(ctx: CommandContext<{ project?: boolean }>): Promise<void> {
  const [key, text] = ctx.args as [string, string];
  const path = splitKey(key);
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch {
    value = text;
  }
  const loaded = await load(ctx); // refuses to edit on top of a broken file
  let file: string;
  if (ctx.opts.project) {
    if (!loaded.projectFile)
      throw new LanesError("usage", "no lanes.yaml in this repository", {
        hint: "create one with `lanes init`, or drop --project to set it in your user settings",
      });
    file = loaded.projectFile;
    const before = readFileSync(file, "utf8");
    const doc = parseDocument(before);
    doc.setIn(path, value);
    writeFileSync(file, String(doc));
    try {
      await load(ctx);
    } catch (err) {
      writeFileSync(file, before); // never leave a file that no longer validates
      if (err instanceof ConfigError)
        throw new ConfigError(
          err.problems,
          `nothing was changed: ${key} = ${JSON.stringify(value)} would make the configuration invalid`,
        );
      throw err;
    }
  } else {
    file = await updateUserSettings(
      (store) => store.set(path.join("."), value),
      () => load(ctx),
      `${key} = ${JSON.stringify(value)}`,
    );
  }
  const shown = path[0] === "store" && typeof value === "string" ? redact(value) : value;
  ctx.out.result(
    { ok: true, file, key, value: shown },
    (r) => `set ${r.key} = ${JSON.stringify(r.value)} in ${r.file}`,
  );
}

export async function path(ctx: CommandContext): Promise<void> {
  let projectFile: string | undefined;
  try {
    projectFile = (await load(ctx)).projectFile;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    projectFile = err.problems[0]?.file;
  }
  const result = { userConfig: userConfigFile(), projectConfig: projectFile ?? null, dataDir: dataDir() };
  ctx.out.result(result, (r) =>
    [
      `user settings   ${r.userConfig}`,
      `project config  ${r.projectConfig ?? "(none: run `lanes init`)"}`,
      `data directory  ${r.dataDir}`,
    ].join("\n"),
  );
}

export async function validate(ctx: CommandContext): Promise<void> {
  const loaded = await load(ctx);
  const files = [loaded.userFile, loaded.projectFile].filter((f): f is string => f !== undefined && existsSync(f));
  const lanes = Object.keys(loaded.config.lanes);
  const policies = loaded.policies;
  ctx.out.result({ ok: true, files, lanes, policies, errors: [] }, (r) =>
    [
      `${ctx.out.style("green", "✓")} configuration is valid`,
      `  files: ${r.files.length ? r.files.join(", ") : "(built-in defaults only)"}`,
      `  org policy: ${policies.length ? policies.map((p) => `${p.source} (sha256 ${p.sha256.slice(0, 12)})`).join(", ") : "none"}`,
      `  lanes: ${r.lanes.join(", ")}`,
    ].join("\n"),
  );
}
