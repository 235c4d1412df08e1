/** `lanes hosts add|ls|check|rm`: Docker engines sandboxes can run on. Stored in user settings. */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { LanesError } from "../../core/errors.js";
import { updateUserSettings } from "../../adapters/config/user-settings.js";
import { checkHost, type HostReport } from "../../adapters/docker/hosts.js";
import type { CommandContext } from "../context.js";
import { loadFor } from "../load-config.js";

interface AddOpts {
  url: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  capacity?: string;
  check?: boolean;
}

export async function add(ctx: CommandContext<AddOpts>): Promise<void> {
  const [name] = ctx.args as [string];
  const o = ctx.opts;
  const tlsFiles = [o.tlsCa, o.tlsCert, o.tlsKey];
  if (tlsFiles.some(Boolean) && !tlsFiles.every(Boolean))
    throw new LanesError("usage", "--tls-ca, --tls-cert and --tls-key go together (mutual TLS needs all three)");
  for (const f of tlsFiles) if (f && !existsSync(f)) throw new LanesError("usage", `TLS file ${f} does not exist`);
  if (name === "local") throw new LanesError("usage", `"local" is the built-in local engine; pick another name`);
  const host: Record<string, unknown> = { url: o.url };
  if (o.tlsCa) host.tls = { ca: resolve(o.tlsCa), cert: resolve(o.tlsCert!), key: resolve(o.tlsKey!) };
  if (o.capacity) host.capacity = Number(o.capacity);
  const file = await updateUserSettings(
    (s) => s.set(`hosts.${name}`, host),
    () => loadFor(ctx),
    `host ${name}`,
  );
  let report: HostReport | undefined;
  if (o.check !== false) {
    try {
      report = await checkHost((await loadFor(ctx)).config, name);
    } catch (err) {
      // An engine we cannot reach is not registered, so nothing half-works later.
      await updateUserSettings(
        (s) => s.delete(`hosts.${name}`),
        () => loadFor(ctx),
        `removing host ${name}`,
      );
      if (err instanceof LanesError)
        throw new LanesError(err.kind, `${err.message} — host ${name} was not added`, {
          hint: `${err.hint ?? ""}${err.hint ? "; " : ""}or add it anyway with --no-check`,
        });
      throw err;
    }
  }
  ctx.out.result(
    { ok: true, name, file, host, check: report ?? null },
    (r) =>
      `added host ${r.name} (${o.url})${report ? `: Docker ${report.version}, API ${report.apiVersion}` : ""} to ${r.file}`,
  );
}

export async function ls(ctx: CommandContext): Promise<void> {
  const { config } = await loadFor(ctx);
  const hosts = Object.entries(config.hosts).map(([name, h]) => ({
    name,
    url: h.url ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock",
    tls: h.tls !== undefined,
    capacity: h.capacity,
  }));
  ctx.out.result(hosts, (list) =>
    list.map((h) => `${h.name.padEnd(12)} ${h.url}${h.tls ? " (mutual TLS)" : ""}  capacity ${h.capacity}`).join("\n"),
  );
}

export async function check(ctx: CommandContext<{ timeout: string }>): Promise<void> {
  const { config } = await loadFor(ctx);
  const names = ctx.args.length ? ctx.args : Object.keys(config.hosts);
  const reports: HostReport[] = [];
  for (const name of names) reports.push(await checkHost(config, name, Number(ctx.opts.timeout) || 5000));
  ctx.out.result(ctx.mode.kind === "json" && ctx.args.length === 1 ? reports[0] : reports, () =>
    reports
      .map((r) =>
        [
          `${r.ok ? ctx.out.style("green", "✓") : ctx.out.style("yellow", "!")} ${r.name}  ${r.url}  Docker ${r.version} (API ${r.apiVersion})`,
          `  sandboxes: ${r.sandboxes.running} running, ${r.sandboxes.pool} warm; ${capacityText(r.capacity)}`,
          `  images: ${imagesText(r)}`,
          `  isolation: userns ${r.security.userns ? "yes" : "no"}, rootless ${r.security.rootless ? "yes" : "no"},` +
            ` gVisor ${r.security.gvisor ? "yes" : "no"} (runtimes: ${r.security.runtimes.join(", ") || "?"})`,
        ].join("\n"),
      )
      .join("\n"),
  );
}

export async function rm(ctx: CommandContext): Promise<void> {
  const [name] = ctx.args as [string];
  const { config } = await loadFor(ctx);
  if (name === "local") throw new LanesError("usage", `"local" is built in and cannot be removed`);
  if (!(name in config.hosts))
    throw new LanesError("usage", `no host named "${name}"`, { hint: "`lanes hosts ls` lists them" });
  const file = await updateUserSettings(
    (s) => s.delete(`hosts.${name}`),
    () => loadFor(ctx),
    `removing host ${name}`,
  );
  ctx.out.result({ ok: true, name, file }, (r) => `removed host ${r.name}`);
}

function capacityText(c: { sandboxes: number; cpus?: number | undefined; memoryBytes?: number | undefined }): string {
  const cpus = c.cpus ? `, ${c.cpus} CPUs` : "";
  const memory = c.memoryBytes ? `, ${(c.memoryBytes / 2 ** 30).toFixed(1)} GiB` : "";
  return `capacity ${c.sandboxes}${cpus}${memory}`;
}

function imagesText(r: { name: string; images: { image: string; present: boolean }[] }): string {
  const each = r.images.map(
    (i) => `${i.image} ${i.present ? "present" : `MISSING (lanes images build --host ${r.name})`}`,
  );
  return each.join(", ") || "(no profile uses this host)";
}
