/**
 * Task templates ("skills"): versioned instructions with variables, a check and a default lane.
 * A task that names no template needs neither the YAML parser nor zod: those load (with
 * template-file.ts) only when a template is used.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LanesError } from "../core/errors.js";
import type { Setup } from "./setup-step.js";
import { packageFile } from "../adapters/own-files.js";

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
export async function resolveTask(root: string, arg: string | undefined, sets: string[] = []): Promise<Task> {
  const task = await resolveTaskText(root, arg, sets);
  const bytes = Buffer.byteLength(task.text);
  if (bytes > MAX_TASK_BYTES)
    throw new LanesError("usage", `the task is ${Math.round(bytes / 1024)} KB; tasks are limited to 256 KB`, {
      hint: "describe the work and let the agent read the files in the sandbox",
    });
  return task;
}

async function resolveTaskText(root: string, arg: string | undefined, sets: string[]): Promise<Task> {
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
  return (await import("./template-file.js")).templateTask(file, sets);
}
