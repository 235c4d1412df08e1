/** `lanes images build|push`: sandbox images without a registry. */
import { LanesError } from "../../core/errors.js";
import { PACKAGE_SANDBOX_DIR, repoImageTag, sandboxContext } from "../../adapters/docker/images.js";
import { adapters } from "../compose.js";
import type { CommandContext } from "../context.js";
import { loadFor } from "../load-config.js";
import { openAudit, openLedger } from "../compose.js";
import { gateRelaxedSandbox } from "../relaxed-sandbox.js";
import { identityOf } from "../../app/identity.js";
import { runSetup, setupProfile } from "../../app/setup-step.js";
import { eventLine } from "../../report/run-text.js";
import { agentByName, agentImage } from "../../adapters/agents/adapters.js";
import { stageAgent } from "../../adapters/agents/install.js";

export async function build(
  ctx: CommandContext<{ host?: string; profile?: string; base?: string; tag?: string; deps?: boolean; agent?: string }>,
): Promise<void> {
  if (ctx.opts.deps) return deps(ctx);
  if (ctx.opts.agent) return agentLayer(ctx, ctx.opts.agent);
  const { config, root } = await loadFor(ctx);
  const profileName = ctx.opts.profile ?? config.lanes[ctx.mode.lane ?? config.defaults.lane]?.sandbox ?? "default";
  const profile = config.sandbox.profiles[profileName];
  if (!profile) throw new LanesError("usage", `unknown sandbox profile "${profileName}"`);
  const hostName = ctx.opts.host ?? profile.host;
  const context = sandboxContext(root);
  // A repository's own Dockerfile gets its own tag (per repository and content), never the shared one.
  const own = context !== PACKAGE_SANDBOX_DIR;
  const tag = ctx.opts.tag ?? (own ? repoImageTag(root, context) : profile.image);
  ctx.out.info(`building ${tag} on ${hostName} from ${context}`);
  const started = performance.now();
  await adapters.images(config).build(hostName, {
    context,
    tag,
    base: ctx.opts.base,
    onLine: ctx.mode.kind === "json" ? undefined : (l) => ctx.out.info(`  ${l}`),
  });
  ctx.out.result(
    { ok: true, image: tag, host: hostName, context, seconds: +((performance.now() - started) / 1000).toFixed(1) },
    (r) =>
      `built ${r.image} on ${r.host} in ${r.seconds} s` +
      (own && !ctx.opts.tag
        ? `\nthis repository's own image: to run on it, name it in your user settings:` +
          `\n  lanes config set sandbox.profiles.${profileName}.image ${tag}`
        : ""),
  );
}

/**
 * `lanes images build --agent NAME`: the agent's npm package (fetched here, once per version)
 * as a layer on the profile's image, on the profile's host (or --host); runs with --agent NAME use it.
 */
async function agentLayer(ctx: CommandContext<{ host?: string; profile?: string; base?: string }>, name: string) {
  const { config } = await loadFor(ctx);
  const agent = agentByName(name);
  const profileName = ctx.opts.profile ?? config.lanes[ctx.mode.lane ?? config.defaults.lane]?.sandbox ?? "default";
  const profile = config.sandbox.profiles[profileName];
  if (!profile) throw new LanesError("usage", `unknown sandbox profile "${profileName}"`);
  const hostName = ctx.opts.host ?? profile.host;
  const base = ctx.opts.base ?? profile.image;
  const tag = agentImage(agent, base);
  const onLine = ctx.mode.kind === "json" ? undefined : (l: string) => ctx.out.info(`  ${l}`);
  const started = performance.now();
  const context = await stageAgent(agent, onLine);
  ctx.out.info(`building ${tag} on ${hostName}: ${agent.pkg!.spec} on ${base}`);
  await adapters.images(config).build(hostName, { context, tag, base, onLine });
  ctx.out.result(
    {
      ok: true,
      image: tag,
      agent: agent.name,
      package: agent.pkg!.spec,
      base,
      host: hostName,
      seconds: +((performance.now() - started) / 1000).toFixed(1),
    },
    (r) => `built ${r.image} (${r.package}) on ${r.host} in ${r.seconds} s`,
  );
}

export async function push(ctx: CommandContext<{ host: string }>): Promise<void> {
  const [image] = ctx.args as [string];
  const { config } = await loadFor(ctx);
  if (ctx.opts.host === "local")
    throw new LanesError("usage", "push copies from the local engine to another host; pick a remote --host");
  const started = performance.now();
  let last = 0;
  const bytes = await adapters.images(config).push("local", ctx.opts.host, image, (b) => {
    if (ctx.mode.kind !== "json" && b - last > 64 * 2 ** 20) {
      last = b;
      ctx.out.info(`  ${(b / 2 ** 20).toFixed(0)} MiB sent`);
    }
  });
  const seconds = (performance.now() - started) / 1000;
  ctx.out.result(
    { ok: true, image, host: ctx.opts.host, bytes, seconds: +seconds.toFixed(1) },
    (r) => `pushed ${r.image} to ${r.host}: ${(r.bytes / 2 ** 20).toFixed(0)} MiB in ${r.seconds} s`,
  );
}

/**
 * `lanes images build --deps`: the lane's setup run once in a sandbox of its own (no agent, no
 * model), its dependencies cached for every later run — e.g. in CI before a batch. The setup's
 * egress is a relaxation like any other: shown, decided and audited; every attempt is audited.
 */
async function deps(ctx: CommandContext<{ host?: string }>): Promise<void> {
  const loaded = await loadFor(ctx);
  const { config, root } = loaded;
  const laneName = ctx.mode.lane ?? config.defaults.lane;
  const lane = config.lanes[laneName];
  if (!lane) throw new LanesError("usage", `unknown lane "${laneName}"`);
  if (!lane.setup)
    throw new LanesError("usage", `lane ${laneName} has no setup to cache`, {
      hint: "add setup: { commands: [...], key: [lockfile] } to the lane in lanes.yaml",
    });
  const profile = config.sandbox.profiles[lane.sandbox]!;
  const host = await adapters.hosts(config).open(ctx.opts.host ?? profile.host);
  const prepared = await setupProfile(host, lane.setup, root, profile);
  const started = performance.now();
  if (!prepared.cached) {
    const extra =
      profile.network === "none"
        ? [{ field: "network" as const, value: "allowlist (during the setup only)", baseline: "none" }]
        : [];
    await gateRelaxedSandbox(ctx, loaded, lane.sandbox, extra);
    const ledger = await openLedger();
    const audit = openAudit(ledger, (await identityOf(config, root)).user);
    const sb = await host.acquire({ profileName: lane.sandbox, profile: prepared.profile, repo: root });
    try {
      sb.onEgress?.((e) =>
        audit.append({ action: "egress", inputs: { host: e.host, port: e.port }, outcome: { ...e } }),
      );
      await runSetup(sb, lane.setup, prepared, profile.network, (e) => {
        if (ctx.mode.kind !== "json") ctx.out.info(eventLine(e) ?? "");
      });
    } finally {
      await sb.release();
      await host.settle();
      ledger.close();
    }
  }
  ctx.out.result(
    {
      ok: true,
      image: prepared.tag,
      cached: prepared.cached,
      seconds: +((performance.now() - started) / 1000).toFixed(1),
    },
    (r) => (r.cached ? `${r.image} is cached already` : `cached ${r.image} in ${r.seconds} s`),
  );
}
