/** A task template file read, validated and filled in with its variables (see templates.ts). */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { z } from "zod";
import { LanesError } from "../core/errors.js";
import { setupSchema } from "../adapters/config/schema.js";
import type { Task } from "./templates.js";

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

export function templateTask(file: string, sets: string[]): Task {
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
