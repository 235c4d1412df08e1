/** Task templates ("skills"): versioned instructions with variables, a check and a default lane. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { z } from "zod";
import { LanesError } from "../core/errors.js";
import { setupSchema } from "../adapters/config/schema.js";
import type { Setup } from "./setup-step.js";
import { packageFile } from "../adapters/own-files.js";

const templateSchema = z.object({
  name: z.string(),
  version: z.number().int().positive(),
  description: z.string().optional(),
  lane: z.string().optional(),
  variables: z
    .record(z.string(), z.object({ description: z.string().optional(), default: z.string().optional() }))
    .default({}),
  prompt: z.string(),
  check: z.string().optional(),
  /** Installs the repository's dependencies before the agent (over the lane's setup). */
  setup: setupSchema.optional(),
});

export interface Task {
  text: string;
  template: string;
  check?: string | undefined;
  lane?: string | undefined;
  setup?: Setup | undefined;
}

const PACKAGE_TASKS = fileURLToPath(packageFile("templates/tasks/"));

export function findTemplate(root: string, name: string): string | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return undefined;
  for (const dir of [join(root, ".lanes", "tasks"), PACKAGE_TASKS]) {
    const f = join(dir, `${name}.yaml`);
    if (existsSync(f)) return f;
  }
  return undefined;
}

/** A task is instructions, not data: anything longer is refused before it is counted or sent. */
export const MAX_TASK_BYTES = 256 * 1024;

/** TASK is `@file`, a template name (with --set key=value), or the text itself. */
export function resolveTask(root: string, arg: string | undefined, sets: string[] = []): Task {
  const task = resolveTaskText(root, arg, sets);
  const bytes = Buffer.byteLength(task.text);
  if (bytes > MAX_TASK_BYTES)
    throw new LanesError("usage", `the task is ${Math.round(bytes / 1024)} KB; tasks are limited to 256 KB`, {
      hint: "describe the work and let the agent read the files in the sandbox",
    });
  return task;
}

function resolveTaskText(root: string, arg: string | undefined, sets: string[]): Task {
  if (!arg)
    throw new LanesError("usage", "no task given", {
      hint: 'lanes run "fix the failing test" (or @task.md, or a template name)',
    });
  if (arg.startsWith("@")) {
    try {
      return { text: readFileSync(arg.slice(1), "utf8").trim(), template: "adhoc" };
    } catch (err) {
      throw new LanesError("usage", `cannot read task file ${arg.slice(1)}: ${(err as Error).message}`);
    }
  }
  const file = findTemplate(root, arg);
  if (!file) {
    if (sets.length)
      throw new LanesError("usage", `--set needs a task template, and "${arg}" is not one`, {
        hint: "templates live in .lanes/tasks/NAME.yaml",
      });
    return { text: arg, template: "adhoc" };
  }
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, "utf8"));
  } catch (err) {
    const pos = (err as { linePos?: { line: number; col: number }[] }).linePos?.[0];
    const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
    throw new LanesError("usage", `task template ${where}: invalid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const parsed = templateSchema.safeParse(raw);
  if (!parsed.success)
    throw new LanesError(
      "usage",
      `task template ${file} is invalid: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  const t = parsed.data;
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(t.variables)) if (v.default !== undefined) vars[k] = v.default;
  for (const s of sets) {
    const i = s.indexOf("=");
    if (i < 1) throw new LanesError("usage", `--set ${s}: expected key=value`);
    const key = s.slice(0, i);
    if (!(key in t.variables))
      throw new LanesError(
        "usage",
        `template ${t.name} has no variable "${key}" (it has: ${Object.keys(t.variables).join(", ") || "none"})`,
      );
    vars[key] = s.slice(i + 1);
  }
  const fill = (text: string) =>
    text.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k: string) => {
      if (!(k in vars)) throw new LanesError("usage", `template ${t.name} needs --set ${k}=…`);
      return vars[k]!;
    });
  return {
    text: fill(t.prompt).trim(),
    template: `${t.name}@${t.version}`,
    check: t.check ? fill(t.check) : undefined,
    lane: t.lane,
    setup: t.setup,
  };
}
