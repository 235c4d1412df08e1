/**
 * Docker hosts as lanes sees them: opening a configured host (dockerode loads only here), the
 * reaper run at the start of every command that uses Docker, and `hosts check`.
 */
import type { Config } from "../config/schema.js";
import { LanesError } from "../../core/errors.js";
import type { ImageBuilder, SandboxHosts } from "../../core/ports.js";
import type { DockerHost, ReapResult } from "./host.js";

export async function openHost(config: Config, name: string): Promise<DockerHost> {
  const host = config.hosts[name];
  if (!host)
    throw new LanesError("usage", `unknown host "${name}" (configured: ${Object.keys(config.hosts).join(", ")})`, {
      hint: "register it with `lanes hosts add NAME --url tcp://ADDR:2376 --tls-ca … --tls-cert … --tls-key …`",
    });
  const [{ dockerFor }, { DockerHost }] = await Promise.all([import("./client.js"), import("./host.js")]);
  return new DockerHost(name, dockerFor(name, host));
}

/** Run `fn` against a host with a deadline, turning connection failures into clear errors. */
export async function withDeadline<T>(
  config: Config,
  name: string,
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    return await Promise.race([
      fn(ac.signal),
      new Promise<never>((_, reject) =>
        ac.signal.addEventListener(
          "abort",
          () => reject(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })),
          { once: true },
        ),
      ),
    ]);
  } catch (err) {
    if (err instanceof LanesError) throw err;
    const { explainDockerError } = await import("./client.js");
    throw explainDockerError(name, config.hosts[name]!, err);
  } finally {
    clearTimeout(timer);
  }
}

export async function ping(config: Config, host: DockerHost, timeoutMs = 5000): Promise<void> {
  const { engine } = await import("./client.js");
  await withDeadline(config, host.name, timeoutMs, (signal) => engine(host.docker).ping({ abortSignal: signal }));
}

/** The reaper on every configured host, concurrently; an unreachable host is skipped. */
export async function reapAll(
  config: Config,
  opts: { all?: boolean; timeoutMs?: number; depsOlderThanMs?: number } = {},
): Promise<{ host: string; result?: ReapResult; error?: string }[]> {
  return Promise.all(
    Object.keys(config.hosts).map(async (name) => {
      try {
        const host = await openHost(config, name);
        await ping(config, host, opts.timeoutMs ?? 3000);
        const result = await host.reap({ all: opts.all === true });
        // `sandbox gc` also ages out setup caches (runs only reap sandboxes).
        if (opts.depsOlderThanMs !== undefined) result.images = await host.pruneDeps(opts.depsOlderThanMs);
        return { host: name, result };
      } catch (err) {
        return { host: name, error: (err as Error).message };
      }
    }),
  );
}

export interface HostReport {
  name: string;
  url: string;
  ok: boolean;
  version?: string;
  apiVersion?: string;
  images: { image: string; present: boolean }[];
  sandboxes: { running: number; pool: number };
  capacity: { sandboxes: number; cpus?: number; memoryBytes?: number };
  security: { userns: boolean; rootless: boolean; gvisor: boolean; runtimes: string[] };
}

export async function checkHost(config: Config, name: string, timeoutMs = 5000): Promise<HostReport> {
  const host = await openHost(config, name);
  const { engine, hostLabel, imageExists } = await import("./client.js");
  const cfg = config.hosts[name]!;
  return withDeadline(config, name, timeoutMs, async (signal) => {
    const api = engine(host.docker);
    await api.ping({ abortSignal: signal });
    const [version, info, list] = await Promise.all([
      api.version({ abortSignal: signal }),
      api.info({ abortSignal: signal }),
      host.list(),
    ]);
    const wanted = [
      ...new Set(
        Object.values(config.sandbox.profiles)
          .filter((p) => p.host === name)
          .map((p) => p.image),
      ),
    ];
    const images = await Promise.all(
      wanted.map(async (image) => ({ image, present: await imageExists(host.docker, image, signal) })),
    );
    const security = info.SecurityOptions ?? [];
    return {
      name,
      url: hostLabel(name, cfg),
      ok: images.every((i) => i.present),
      version: version.Version,
      apiVersion: version.ApiVersion,
      images,
      sandboxes: {
        running: list.filter((s) => s.state === "running" && !s.pool).length,
        pool: list.filter((s) => s.pool && s.state === "running").length,
      },
      capacity: {
        sandboxes: cfg.capacity,
        ...(info.NCPU ? { cpus: info.NCPU } : {}),
        ...(info.MemTotal ? { memoryBytes: info.MemTotal } : {}),
      },
      security: {
        userns: security.some((s) => s.includes("name=userns")),
        rootless: security.some((s) => s.includes("name=rootless")),
        gvisor: Object.keys(info.Runtimes ?? {}).includes("runsc"),
        runtimes: Object.keys(info.Runtimes ?? {}).sort(),
      },
    };
  });
}

/** The SandboxHosts port over the configured Docker hosts: each opened host has answered a ping. */
export function dockerHosts(config: Config): SandboxHosts {
  return {
    async open(name) {
      const host = await openHost(config, name);
      await ping(config, host);
      return host;
    },
  };
}

/** The ImageBuilder port over the configured Docker hosts (images.ts does the work). */
export function dockerImages(config: Config): ImageBuilder {
  const open = async (name: string) => {
    const host = await openHost(config, name);
    await ping(config, host);
    return host;
  };
  return {
    async build(name, o) {
      const { buildImage } = await import("./images.js");
      await buildImage((await open(name)).docker, o);
    },
    async push(from, to, image, onProgress) {
      const { pushImage } = await import("./images.js");
      const [a, b] = await Promise.all([open(from), open(to)]);
      return pushImage(a.docker, b.docker, image, onProgress);
    },
  };
}
