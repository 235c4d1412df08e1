/** `lanes endpoints ls|check|calibrate|replay|add`. */
import { LanesError } from "../../core/errors.js";
import { formatPrice } from "../../adapters/models/prices.js";
import { endpointSpecs } from "../../app/endpoints.js";
import { checkEndpoint, type EndpointReport } from "../../app/endpoint-check.js";
import type { CommandContext } from "../context.js";
import { offerEndpoints, offerText } from "../offer-endpoints.js";
import { loadFor } from "../load-config.js";
import { buildEndpoints, openLedger } from "../compose.js";
import { tierKind } from "../../adapters/models/prices.js";

export async function ls(ctx: CommandContext): Promise<void> {
  const specs = endpointSpecs((await loadFor(ctx)).config);
  // A live llama.cpp server says its own window per slot, its slots and the model it serves.
  const { props, slots } = await import("../../adapters/models/llama.js");
  const live = await Promise.all(
    specs.map(async (s) => {
      if (s.tierKind !== "local") return undefined;
      const signal = AbortSignal.timeout(800);
      const [p, sl] = await Promise.all([
        props(s.baseURL, signal).catch(() => undefined),
        slots(s.baseURL, signal).catch(() => undefined),
      ]);
      return p ? { contextWindow: p.contextSize, slots: sl, servedModel: p.model } : undefined;
    }),
  );
  const { records } = await import("../../adapters/models/llama-process.js");
  const managed = records();
  const managedOf = (id: string) => managed.find((m) => m.name === id);
  const rows = specs.map((s, i) => ({
    tier: s.tier,
    endpoint: s.id,
    model: s.model,
    baseURL: s.baseURL,
    price:
      s.price.kind === "priced"
        ? { ...s.price.price, source: s.price.source }
        : { unpriced: true, reason: s.price.reason },
    contextWindow: live[i]?.contextWindow ?? s.contextWindow ?? null,
    apiKeyEnv: s.apiKeyEnv ?? null,
    ...(live[i] ? { live: live[i] } : {}),
    ...(managedOf(s.id) ? { managed: pick(managedOf(s.id)!) } : {}),
  }));
  // Started with `endpoints up` but not (yet) in lanes.yaml: shown, so nothing runs unseen.
  const unconfigured = managed.filter((m) => !specs.some((s) => s.id === m.name)).map(pick);
  const extra = unconfigured.map(
    (m) => `(not in lanes.yaml) ${m.name}: ${m.alive ? "up" : "stopped"} at ${m.url}, pid ${m.pid}, ${m.model}`,
  );
  ctx.out.result(
    ctx.mode.kind === "json" && unconfigured.length
      ? [...rows, ...unconfigured.map((m) => ({ unconfigured: true, ...m }))]
      : rows,
    () =>
      rows.length || extra.length
        ? [
            ...rows.map((r, i) => {
              const s = specs[i]!;
              const l = r.live;
              const slotText = l?.slots ? ` slots ${l.slots.busy}/${l.slots.total} busy` : "";
              const served = l?.servedModel ? ` serving ${l.servedModel.split("/").pop()}` : "";
              const m = r.managed
                ? ` [lanes endpoints up: ${r.managed.alive ? `pid ${r.managed.pid}` : "stopped"}]`
                : "";
              return (
                `${s.tier.padEnd(9)} ${s.id.padEnd(14)} ${s.model.padEnd(16)} ${formatPrice(s.price).padEnd(36)}` +
                ` ctx ${r.contextWindow ?? "?"}${l ? " (live)" : ""}${slotText}${served}  ${s.baseURL}${m}`
              );
            }),
            ...extra,
          ].join("\n")
        : "no endpoints configured: add them to a tier in lanes.yaml (tiers.local.endpoints, …)",
  );
}

export async function check(ctx: CommandContext<{ timeout: string }>): Promise<number> {
  const specs = endpointSpecs((await loadFor(ctx)).config);
  const wanted = ctx.args[0] ? specs.filter((s) => s.id === ctx.args[0] || s.tier === ctx.args[0]) : specs;
  if (ctx.args[0] && !wanted.length)
    throw new LanesError("usage", `no endpoint or tier named "${ctx.args[0]}"`, {
      hint: "`lanes endpoints ls` lists them",
    });
  const reports = await Promise.all(wanted.map((s) => checkEndpoint(s, process.env, Number(ctx.opts.timeout) || 5000)));
  ctx.out.result(
    ctx.mode.kind === "json" ? { ok: reports.every((r) => r.ok), endpoints: reports } : reports,
    () => reports.map((r) => line(ctx, r)).join("\n") || "no endpoints configured",
  );
  const down = reports.find((r) => !r.ok);
  if (down && ctx.mode.kind !== "json")
    ctx.out.info(
      down.status === "key not set"
        ? `endpoint ${down.endpoint}: its API key is not set (${down.hint ?? ""})`
        : `endpoint ${down.endpoint} is down: ${down.url} → ${down.status}`,
    );
  return down ? 6 : 0;
}

function line(ctx: CommandContext<unknown>, r: EndpointReport): string {
  const mark = r.ok ? ctx.out.style("green", "✓") : ctx.out.style("red", "✗");
  const llama = r.llama
    ? `; llama.cpp ${r.llama.health}${r.llama.slots ? `, slots ${r.llama.slots.busy}/${r.llama.slots.total} busy` : ""}`
    : "";
  return (
    `${mark} ${r.tier}/${r.endpoint}  ${r.url} → ${r.status}${r.latencyMs !== undefined ? ` in ${r.latencyMs} ms` : ""};` +
    ` model ${r.model}${r.modelServed === false ? " (not served!)" : ""}; context ${r.contextWindow ?? "?"}${llama}${r.hint ? `\n    → ${r.hint}` : ""}`
  );
}

/** Serve a replay script until interrupted. */
export async function replay(ctx: CommandContext<{ port?: string; host?: string }>): Promise<number> {
  const [file] = ctx.args as [string];
  const [{ loadScript }, { startReplayServer }] = await Promise.all([
    import("../../adapters/models/replay-script.js"),
    import("../../adapters/models/replay-server.js"),
  ]);
  const script = loadScript(file);
  const port = ctx.opts.port ? Number(ctx.opts.port) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new LanesError("usage", `--port ${ctx.opts.port} is not a port number`);
  let server;
  try {
    server = await startReplayServer(script, { port, host: ctx.opts.host ?? "127.0.0.1" });
  } catch (err) {
    throw new LanesError("endpoint", `cannot listen on port ${port}: ${(err as Error).message}`, {
      hint: "pick another --port, or 0 for any free one",
    });
  }
  ctx.out.result({ url: server.url, port: server.port, turns: script.turns.length, model: script.model }, (r) => r.url);
  ctx.out.info(`replaying ${script.turns.length} turns of ${file} as model "${script.model}" (Ctrl-C stops)`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await server.close();
  return 0;
}

/** `lanes endpoints add`: the endpoints you have, added to lanes.yaml (asked in a terminal, --yes accepts). */
export async function add(ctx: CommandContext<{ localUrl?: string }>): Promise<number> {
  const loaded = await loadFor(ctx);
  if (!loaded.projectFile)
    throw new LanesError("usage", "no lanes.yaml in this repository", {
      hint: "`lanes init` writes one (and offers the endpoints it finds)",
    });
  const offer = await offerEndpoints(ctx, loaded.projectFile);
  await loadFor(ctx); // what was added still validates
  const result = {
    file: loaded.projectFile,
    found: offer.found.map((f) => ({ tier: f.tier, ...f.endpoint, found: f.found })),
    added: offer.added.map((f) => f.endpoint.id),
  };
  ctx.out.result(result, () => [`lanes.yaml: ${loaded.projectFile}`, ...offerText(offer)].join("\n"));
  return 0;
}

/**
 * `lanes endpoints calibrate [NAME]`: measure local endpoints and store their speeds. A hosted
 * endpoint is measured only when named (its calls are billed), and labelled as wall-clock.
 */
export async function calibrate(ctx: CommandContext): Promise<number> {
  const { config } = await loadFor(ctx);
  const [name] = ctx.args;
  const all = Object.entries(config.tiers).flatMap(([tier, t]) =>
    t.endpoints.map((e) => ({ tier, e, local: tierKind(config, tier) === "local" })),
  );
  const chosen = all.filter(({ e, local }) => (name ? e.id === name : local));
  if (!chosen.length)
    throw new LanesError("usage", name ? `no endpoint named "${name}"` : "no local endpoints to calibrate", {
      hint: "`lanes endpoints ls` lists them; a hosted endpoint is calibrated when named",
    });
  const { calibrate: measure, calibrateHosted } = await import("../../app/calibrate.js");
  const ledger = await openLedger();
  const endpoints = buildEndpoints(config);
  try {
    const results = [];
    for (const { tier, e, local } of chosen) {
      if (ctx.mode.kind !== "json")
        ctx.out.info(`calibrating ${tier}/${e.id} at ${e.baseURL}${local ? "" : " (hosted: two small billed calls)"}…`);
      const onLine = ctx.mode.kind === "json" ? undefined : (l: string) => ctx.out.info(l);
      results.push(
        local
          ? await measure({ endpoint: e.id, baseURL: e.baseURL, model: e.model, tier, ledger, onLine })
          : await calibrateHosted({ endpoint: endpoints.get(e.id)!, ledger }),
      );
    }
    ctx.out.result({ calibrations: results, at: new Date().toISOString() }, (r) =>
      r.calibrations
        .map((c) =>
          "hosted" in c
            ? `${c.endpoint}: ${c.latencyMs} ms for one token, ${Math.round(c.completionTps)} completion tokens/s` +
              ` with latency ($${c.costUsd.toFixed(6)}); ${c.label}`
            : `${c.endpoint}: ${Math.round(c.promptTps)} prompt and ${Math.round(c.completionTps)} completion tokens/s,` +
              ` ${Math.round(c.cachedShare * 100)}% of a re-sent prompt from cache (${c.seconds} s); plans use it from now on`,
        )
        .join("\n"),
    );
    return 0;
  } finally {
    ledger.close();
  }
}

function pick(m: { name: string; pid: number; alive: boolean; url: string; model: string; log: string }) {
  return { name: m.name, pid: m.pid, alive: m.alive, url: m.url, model: m.model, log: m.log };
}
