/** `lanes init`: write lanes.yaml, a sandbox Dockerfile and a task template from templates/. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LanesError } from "../../core/errors.js";
import { findProject } from "../../adapters/config/find-project.js";
import type { CommandContext } from "../context.js";
import { offerEndpoints, offerText } from "../offer-endpoints.js";
import { packageFile } from "../../adapters/own-files.js";

/** templates/ ships next to dist/ in the package. */
export const TEMPLATES_DIR = fileURLToPath(packageFile("templates/"));

const FILES: [template: string, target: string][] = [
  ["lanes.yaml", "lanes.yaml"],
  ["project-sandbox/Dockerfile", ".lanes/sandbox/Dockerfile"],
  ["tasks/fix-failing-test.yaml", ".lanes/tasks/fix-failing-test.yaml"],
];

export async function init(ctx: CommandContext<{ force?: boolean; localUrl?: string }>): Promise<void> {
  const repo = resolve(ctx.mode.repo);
  if (!existsSync(repo))
    throw new LanesError("usage", `repository directory ${repo} does not exist`, {
      hint: "pass an existing directory with --repo",
    });
  const root = findProject(repo).root;
  const targets = FILES.map(([tpl, target]) => ({ from: join(TEMPLATES_DIR, tpl), to: join(root, target) }));
  const existing = targets.filter((t) => existsSync(t.to)).map((t) => relative(process.cwd(), t.to) || t.to);
  if (existing.length && !ctx.opts.force) {
    throw new LanesError("usage", `refusing to overwrite ${existing.join(", ")}`, {
      hint: "pass --force to overwrite them",
    });
  }
  for (const t of targets) {
    mkdirSync(dirname(t.to), { recursive: true });
    writeFileSync(t.to, readFileSync(t.from));
  }
  const written = targets.map((t) => t.to);
  const offer = await offerEndpoints(ctx, join(root, "lanes.yaml"));
  const endpoints = {
    found: offer.found.map((f) => ({ tier: f.tier, ...f.endpoint, found: f.found })),
    added: offer.added.map((f) => f.endpoint.id),
  };
  ctx.out.result({ ok: true, root, written, overwritten: existing, endpoints }, (r) =>
    [
      `${ctx.out.style("green", "✓")} wrote ${r.written.length} files in ${r.root}:`,
      ...r.written.map((f) => `  ${relative(r.root, f)}`),
      ...offerText(offer),
      "",
      'Next: `lanes images build` (the sandbox image), `lanes doctor`, then `lanes plan "your task"`.',
    ].join("\n"),
  );
}
