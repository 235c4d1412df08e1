/** `lanes sandbox up|exec|run|ls|rm|gc`: sandboxes by hand. */
import { parseDuration } from "../../core/sandbox.js";
import { ExitCode, LanesError } from "../../core/errors.js";
import type { Observation } from "../../core/sandbox.js";
import type { Config } from "../../adapters/config/schema.js";
import type { SandboxListing } from "../../adapters/docker/host.js";
import { openHost, ping, reapAll } from "../../adapters/docker/hosts.js";
import type { CommandContext } from "../context.js";
import { loadFor } from "../load-config.js";
import { gateRelaxedSandbox } from "../relaxed-sandbox.js";
import { openAudit, openLedger } from "../compose.js";
import { identityOf } from "../../app/identity.js";

interface PlaceOpts {
  host?: string;
  profile?: string;
  workspace?: boolean;
  timeout?: string;
  diff?: boolean;
}

/** The profile: --profile, else the lane's; the host: --host, else the profile's. */
function place(config: Config, ctx: CommandContext<PlaceOpts>) {
  const laneName = ctx.mode.lane ?? config.defaults.lane;
  const profileName = ctx.opts.profile ?? config.lanes[laneName]?.sandbox ?? "default";
  const profile = config.sandbox.profiles[profileName];
  if (!profile)
    throw new LanesError(
      "usage",
      `unknown sandbox profile "${profileName}" (profiles: ${Object.keys(config.sandbox.profiles).join(", ")})`,
    );
  const hostName = ctx.opts.host ?? profile.host;
  return { profileName, profile: { ...profile, host: hostName }, hostName };
}

export async function up(ctx: CommandContext<PlaceOpts>): Promise<void> {
  const loaded = await loadFor(ctx);
  const { config, root } = loaded;
  const { profileName, profile, hostName } = place(config, ctx);
  await gateRelaxedSandbox(ctx, loaded, profileName);
  await reapAll(config);
  const host = await openHost(config, hostName);
  await ping(config, host);
  const sb = await host.acquire({
    profileName,
    profile,
    repo: ctx.opts.workspace === false ? undefined : root,
    detached: true,
  });
  await sb.ready();
  await host.settle();
  const i = sb.info;
  ctx.out.result(
    {
      id: i.id,
      host: i.host,
      image: i.image,
      profile: i.profile,
      container: i.containerId,
      baseCommit: i.baseCommit,
      expiresAt: new Date(i.expiresAt).toISOString(),
    },
    (r) =>
      [
        `${r.id}  host ${r.host}  image ${r.image}  profile ${r.profile}`,
        `expires ${r.expiresAt}; run commands with: lanes sandbox exec ${r.id} -- CMD`,
      ].join("\n"),
  );
}

async function findSandbox(config: Config, id: string) {
  for (const name of Object.keys(config.hosts)) {
    const host = await openHost(config, name);
    try {
      await ping(config, host, 3000);
    } catch {
      continue;
    }
    const found = await host.find(id);
    if (found) return { host, ...found };
  }
  throw new LanesError("sandbox", `no sandbox ${id} on any configured host`, { hint: "`lanes sandbox ls` lists them" });
}

function commandLine(argv: string[]): string {
  // One argument is a shell command as typed; several are quoted word by word.
  if (argv.length === 1) return argv[0]!;
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}

function passThrough(ctx: CommandContext<unknown>, obs: Observation): number {
  if (ctx.mode.kind === "json") ctx.out.result(obs, () => "");
  else {
    process.stdout.write(obs.stdout);
    process.stderr.write(obs.stderr);
    if (obs.timedOut) ctx.out.warn(`the command was stopped after its time limit`);
  }
  return obs.exitCode;
}

export async function exec(ctx: CommandContext<PlaceOpts>): Promise<number> {
  const [id, ...argv] = ctx.args as [string, ...string[]];
  if (!argv.length) throw new LanesError("usage", "no command given", { hint: `lanes sandbox exec ${id} -- ls -la` });
  const { config, root } = await loadFor(ctx);
  const { host, container, listing } = await findSandbox(config, id);
  // A detached sandbox's egress while this command runs is audited, as a run's is.
  const ledger = await openLedger();
  const audit = openAudit(ledger, (await identityOf(config, root)).user);
  const stop = await host.followEgress(listing.id, (e) =>
    audit.append({ action: "egress", inputs: { host: e.host, port: e.port, sandbox: listing.id }, outcome: { ...e } }),
  );
  try {
    const obs = await host
      .executorFor(container)
      .exec({ command: commandLine(argv), timeoutMs: timeoutOf(ctx), cwd: "/workspace" });
    return passThrough(ctx, obs);
  } finally {
    // The proxy reports an attempt as it ends: give the last one a moment to arrive.
    await new Promise((r) => setTimeout(r, 200));
    stop();
    ledger.close();
  }
}

/** One command in a fresh sandbox holding a copy of the repository, then the sandbox is gone. */
export async function run(ctx: CommandContext<PlaceOpts>): Promise<number> {
  const argv = ctx.args;
  if (!argv.length) throw new LanesError("usage", "no command given", { hint: "lanes sandbox run -- npm test" });
  const loaded = await loadFor(ctx);
  const { config, root } = loaded;
  const { profileName, profile, hostName } = place(config, ctx);
  await gateRelaxedSandbox(ctx, loaded, profileName);
  await reapAll(config);
  const host = await openHost(config, hostName);
  await ping(config, host);
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const sb = await host.acquire({ profileName, profile, repo: ctx.opts.workspace === false ? undefined : root });
  const ledger = await openLedger();
  const audit = openAudit(ledger, (await identityOf(config, root)).user);
  sb.onEgress?.((e) =>
    audit.append({ action: "egress", inputs: { host: e.host, port: e.port, sandbox: sb.info.id }, outcome: { ...e } }),
  );
  try {
    if (ac.signal.aborted) return ExitCode.interrupted;
    if (ctx.mode.kind !== "json")
      ctx.out.info(`sandbox ${sb.info.id} on ${sb.info.host} (${sb.info.fromPool ? "warm" : "cold"})`);
    const obs = await sb.exec({ command: commandLine(argv), timeoutMs: timeoutOf(ctx) }, ac.signal);
    if (ac.signal.aborted) return ExitCode.interrupted;
    const diff = ctx.opts.diff ? await sb.diff() : undefined;
    // With --json the diff is a field of the one result; in text it follows the output.
    if (ctx.mode.kind === "json") {
      ctx.out.result({ ...obs, ...(diff !== undefined ? { diff } : {}) }, () => "");
      return obs.exitCode;
    }
    const code = passThrough(ctx, obs);
    if (diff !== undefined) process.stdout.write(diff);
    return code;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await sb.release();
    await host.settle();
    ledger.close();
  }
}

function timeoutOf(ctx: CommandContext<PlaceOpts>): number {
  const text = ctx.opts.timeout ?? "10m";
  const m = /^(\d+)(ms|s|m|h)?$/.exec(text);
  if (!m || Number(m[1]) <= 0)
    throw new LanesError("usage", `--timeout ${text} is not a duration`, {
      hint: "e.g. --timeout 30s or --timeout 10m",
    });
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h"];
}

export async function ls(ctx: CommandContext): Promise<number> {
  const { config } = await loadFor(ctx);
  await reapAll(config);
  const all: SandboxListing[] = [];
  const unreachable: string[] = [];
  for (const name of Object.keys(config.hosts)) {
    try {
      const host = await openHost(config, name);
      await ping(config, host, 3000);
      all.push(...(await host.list()));
    } catch (err) {
      unreachable.push(name);
      if (ctx.mode.kind !== "json") ctx.out.warn((err as Error).message);
    }
  }
  ctx.out.result(ctx.mode.kind === "json" ? { sandboxes: all, unreachable } : all, () =>
    all.length
      ? all
          .map(
            (s) =>
              `${s.id}  ${s.host.padEnd(8)} ${s.state.padEnd(8)} ${s.pool ? "warm pool" : s.owner.padEnd(20)}` +
              `  ${s.profile.padEnd(8)} ${s.image}  expires ${new Date(s.expiresAt).toISOString()}`,
          )
          .join("\n")
      : unreachable.length
        ? `no host answered (${unreachable.join(", ")}): nothing can be listed`
        : "no lanes sandboxes",
  );
  // "No sandboxes" is only true of hosts that answered: with none answering, that is an error.
  return unreachable.length && unreachable.length === Object.keys(config.hosts).length ? ExitCode.sandbox : ExitCode.ok;
}

export async function rm(ctx: CommandContext): Promise<void> {
  const { config } = await loadFor(ctx);
  const removed: string[] = [];
  for (const id of ctx.args) {
    const { host, listing } = await findSandbox(config, id);
    await host.remove(listing);
    removed.push(id);
  }
  ctx.out.result({ removed }, (r) => r.removed.map((id) => `removed ${id}`).join("\n"));
}

export async function gc(ctx: CommandContext<{ all?: boolean; depsOlderThan?: string }>): Promise<void> {
  const { config } = await loadFor(ctx);
  const all = ctx.opts.all === true;
  let depsOlderThanMs = 0;
  try {
    if (!all) depsOlderThanMs = parseDuration(ctx.opts.depsOlderThan ?? "30d");
  } catch {
    throw new LanesError("usage", `--deps-older-than ${ctx.opts.depsOlderThan}: not a duration such as 7d or 12h`);
  }
  const results = await reapAll(config, { all, depsOlderThanMs });
  ctx.out.result({ hosts: results }, (r) =>
    r.hosts
      .map((h) =>
        h.result
          ? `${h.host}: removed ${h.result.containers.length} containers, ${h.result.volumes.length} volumes,` +
            ` ${h.result.networks.length} networks, ${h.result.images?.length ?? 0} setup caches`
          : `${h.host}: skipped (${h.error})`,
      )
      .join("\n"),
  );
}
