/**
 * The batch file: a list of tasks, or a matrix of repositories × one task (or task template),
 * with the lane, tier, check, a budget for the whole batch and concurrency. YAML, validated like
 * lanes.yaml (file:line:col). Paths are relative to the batch file.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { ConfigError, LanesError } from "../core/errors.js";
import { readLayer } from "../adapters/config/load.js";
import { toProblems } from "../adapters/config/locate.js";

const setSchema = z.record(z.string(), z.string()).default({});
const taskSchema = z.strictObject({
  repo: z.string(),
  task: z.string().optional(),
  template: z.string().optional(),
  set: setSchema,
  /** This task's check, over the batch's, the template's and the lane's. */
  check: z.string().optional(),
  /** An endpoint of the lane's tier, by id, instead of the tier's first. */
  endpoint: z.string().optional(),
});

export const batchSchema = z
  .strictObject({
    name: z.string().optional(),
    lane: z.string().optional(),
    tier: z.string().optional(),
    check: z.string().optional(),
    endpoint: z.string().optional(),
    /** Who runs every task: lanes, codex, or (agentCmd) a command behind the gateway. */
    agent: z.string().optional(),
    agentCmd: z.string().optional(),
    budget: z.strictObject({ capUsd: z.number().positive() }),
    concurrency: z.number().int().positive().default(2),
    /** Docker hosts to spread tasks over, each up to its capacity (default: the profile's host). */
    hosts: z.array(z.string()).optional(),
    tasks: z.array(taskSchema).optional(),
    matrix: z
      .strictObject({
        repos: z.array(z.string()).min(1),
        task: z.string().optional(),
        template: z.string().optional(),
        set: setSchema,
      })
      .optional(),
  })
  .superRefine((b, ctx) => {
    if (!b.tasks?.length && !b.matrix)
      ctx.addIssue({
        code: "custom",
        path: ["tasks"],
        message: "give tasks: [...] or a matrix: { repos, task | template }",
      });
    for (const [i, t] of (b.tasks ?? []).entries())
      if (!t.task && !t.template)
        ctx.addIssue({ code: "custom", path: ["tasks", i], message: "each task needs task: TEXT or template: NAME" });
    if (b.matrix && !b.matrix.task && !b.matrix.template)
      ctx.addIssue({ code: "custom", path: ["matrix"], message: "the matrix needs task: TEXT or template: NAME" });
  });

export type BatchFile = z.output<typeof batchSchema>;

export interface BatchItem {
  repo: string;
  /** Text, or a template name (resolved per repository). */
  task: string;
  set: Record<string, string>;
  check?: string | undefined;
  endpoint?: string | undefined;
}

export function loadBatch(file: string): { batch: BatchFile; items: BatchItem[] } {
  if (!existsSync(file)) throw new LanesError("usage", `no batch file ${file}`);
  const layer = readLayer(file, file);
  if ("problems" in layer) throw new ConfigError(layer.problems, "fix the batch file");
  const r = batchSchema.safeParse(layer.raw);
  if (!r.success)
    throw new ConfigError(
      r.error.issues.flatMap((i) => toProblems(i, [layer], layer.raw, batchSchema)),
      "fix the batch file",
    );
  const b = r.data;
  const base = dirname(resolve(file));
  const items: BatchItem[] = [];
  for (const t of b.tasks ?? [])
    items.push({
      repo: checkRepo(resolve(base, t.repo)),
      task: t.template ?? t.task!,
      set: t.set,
      check: t.check,
      endpoint: t.endpoint ?? b.endpoint,
    });
  if (b.matrix) {
    const repos = b.matrix.repos.flatMap((p) => expand(base, p));
    if (!repos.length)
      throw new LanesError("usage", `the matrix's repos (${b.matrix.repos.join(", ")}) match no directory`);
    for (const repo of repos)
      items.push({ repo, task: b.matrix.template ?? b.matrix.task!, set: b.matrix.set, endpoint: b.endpoint });
  }
  return { batch: b, items };
}

/** `dir/*` (a `*` in the last part of the path) or a plain path. */
function expand(base: string, pattern: string): string[] {
  const abs = resolve(base, pattern);
  const last = abs.split("/").pop()!;
  if (!last.includes("*")) return [checkRepo(abs)];
  const dir = dirname(abs);
  const re = new RegExp(`^${last.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
  return readdirSync(dir)
    .filter((n) => re.test(n) && statSync(join(dir, n)).isDirectory())
    .sort()
    .map((n) => join(dir, n));
}

function checkRepo(p: string): string {
  if (!existsSync(p) || !statSync(p).isDirectory())
    throw new LanesError("usage", `batch repository ${p} does not exist`);
  return p;
}
