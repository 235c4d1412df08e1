/** `lanes endpoints up|down`: a local llama.cpp endpoint that lanes starts, records and stops. */
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { basename, resolve } from "node:path";
import { LanesError } from "../../core/errors.js";
import type { CommandContext } from "../context.js";
import { loadFor } from "../load-config.js";
import { approverFor } from "../approvers.js";

interface UpOptions {
  model?: string;
  gpu?: boolean;
  slots: string;
  ctx: string;
  port?: string;
  server?: string;
  timeout: string;
}

export async function up(ctx: CommandContext<UpOptions>): Promise<number> {
  const [name] = ctx.args as [string];
  if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name))
    throw new LanesError("usage", `"${name}" is not an endpoint name (letters, digits, - and _)`);
  if (!ctx.opts.model) throw new LanesError("usage", "--model FILE.gguf is required");
  const model = resolve(ctx.opts.model);
  if (!existsSync(model)) throw new LanesError("usage", `model file not found: ${model}`);
  const slots = positive(ctx.opts.slots, "--slots");
  const perSlot = positive(ctx.opts.ctx, "--ctx");
  const p = await import("../../adapters/models/llama-process.js");
  const running = p.readRecord(name);
  if (running && p.isOurs(running)) {
    if (running.model !== model)
      throw new LanesError("usage", `endpoint ${name} is up with another model (${running.model})`, {
        hint: `lanes endpoints down ${name} first`,
      });
    ctx.out.result({ ...running, already: true }, (r) => `${name} is already up at ${r.url} (pid ${r.pid})`);
    return 0;
  }
  const loaded = await loadFor(ctx).catch(() => undefined);
  const configured = Object.values(loaded?.config.tiers ?? {})
    .flatMap((t) => t.endpoints)
    .find((e) => e.id === name);
  const port = ctx.opts.port ? positive(ctx.opts.port, "--port") : (portOf(configured?.baseURL) ?? (await freePort()));
  const server = p.findServer(ctx.opts.server);
  if (ctx.mode.kind !== "json") ctx.out.info(`starting ${server} with ${basename(model)} on port ${port}…`);
  const record = await p.startServer({
    name,
    model,
    server,
    port,
    slots,
    ctx: perSlot,
    gpu: ctx.opts.gpu === true,
    timeoutMs: positive(ctx.opts.timeout, "--timeout") * 1000,
    onWait: (s) => ctx.mode.kind !== "json" && ctx.out.info(`  loading the model… ${s} s`),
  });
  const added = configured ? false : await offerToConfig(ctx, name, record.url, model, loaded?.projectFile);
  if (configured && configured.model !== basename(model) && configured.model !== model)
    ctx.out.info(`note: lanes.yaml says ${name} serves "${configured.model}"; \`lanes endpoints check\` will fail`);
  ctx.out.result({ ...record, addedToConfig: added }, (r) =>
    [
      `${name} is up at ${r.url} (pid ${r.pid}, ${r.slots} slot(s) × ${r.ctx} tokens, ${r.gpu ? "GPU" : "CPU"})`,
      `  log: ${r.log}; stop it with: lanes endpoints down ${name}`,
    ].join("\n"),
  );
  return 0;
}

export async function down(ctx: CommandContext): Promise<number> {
  const [name] = ctx.args as [string];
  const p = await import("../../adapters/models/llama-process.js");
  const record = p.readRecord(name);
  if (!record)
    throw new LanesError("usage", `no endpoint ${name} was started by lanes`, {
      hint: "`lanes endpoints ls` lists endpoints; `lanes endpoints up NAME --model FILE.gguf` starts one",
    });
  const how = await p.stopServer(record);
  ctx.out.result({ name, pid: record.pid, result: how }, () => `${name}: ${how} (pid ${record.pid})`);
  return 0;
}

/** Add the started endpoint to lanes.yaml's local tier: asked in a terminal, --yes adds. */
async function offerToConfig(
  ctx: CommandContext<UpOptions>,
  id: string,
  baseURL: string,
  model: string,
  file: string | undefined,
): Promise<boolean> {
  if (!file) return false;
  let accept = ctx.mode.yes;
  if (!accept && ctx.mode.kind === "interactive")
    accept = await (await approverFor(ctx.mode)).confirm(`Add ${id} to lanes.yaml (tiers.local)?`);
  if (!accept) {
    ctx.out.info(`not in lanes.yaml: add it with --yes, or under tiers.local.endpoints:`);
    ctx.out.info(`  - { id: ${id}, baseURL: "${baseURL}", model: ${basename(model)}, price: { gpuHourUsd: 0 } }`);
    return false;
  }
  const { addEndpoints } = await import("../../app/detect-endpoints.js");
  const endpoint = { id, baseURL, model: basename(model), price: { gpuHourUsd: 0 } };
  return addEndpoints(file, [{ tier: "local", found: `llama.cpp at ${baseURL}`, endpoint }]).length > 0;
}

function positive(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new LanesError("usage", `${flag} ${v} is not a positive whole number`);
  return n;
}

function portOf(url: string | undefined): number | undefined {
  if (!url) return undefined;
  const u = new URL(url);
  return ["127.0.0.1", "localhost"].includes(u.hostname) && u.port ? Number(u.port) : undefined;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}
