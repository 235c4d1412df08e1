/** `lanes images build|push`: sandbox images without a registry. */
import { LanesError } from "../../core/errors.js";
import { sandboxContext } from "../../adapters/docker/images.js";
import { adapters } from "../compose.js";
import type { CommandContext } from "../context.js";
import { loadFor } from "../load-config.js";

export async function build(
  ctx: CommandContext<{ host?: string; profile?: string; base?: string; tag?: string }>,
): Promise<void> {
  const { config, root } = await loadFor(ctx);
  const profileName = ctx.opts.profile ?? config.lanes[ctx.mode.lane ?? config.defaults.lane]?.sandbox ?? "default";
  const profile = config.sandbox.profiles[profileName];
  if (!profile) throw new LanesError("usage", `unknown sandbox profile "${profileName}"`);
  const hostName = ctx.opts.host ?? profile.host;
  const tag = ctx.opts.tag ?? profile.image;
  const context = sandboxContext(root);
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
    (r) => `built ${r.image} on ${r.host} in ${r.seconds} s`,
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
