/** One sandbox: a hardened container with the workspace volume, driven over the Engine API. */
import type Docker from "dockerode";
import { posix } from "node:path";
import tar from "tar-stream";
import { LanesError } from "../../core/errors.js";
import type { EgressEvent, ExecRequest, Observation, Sandbox, SandboxInfo } from "../../core/sandbox.js";
import { followEgress } from "./egress.js";
import { snapshotDeps } from "./deps-cache.js";
import { WORKSPACE } from "./container-spec.js";
import { packOne } from "./workspace.js";
import { openTunnel, type Tunnel } from "./tunnel.js";

/** How commands reach the container: the shim channel, or Docker exec where there is no shim. */
export interface Executor {
  exec(req: ExecRequest, signal?: AbortSignal): Promise<Observation>;
  close(): void;
}

/** Big enough for any diff or git output we want whole. */
export const WHOLE = 256 * 1024 * 1024;

/** Pathspecs left out of every patch: Python bytecode and dependency folders a command created. */
const BYPRODUCTS = ["**/__pycache__/**", "**/*.pyc", "**/node_modules/**", "**/.pytest_cache/**"]
  .map((p) => `':(exclude,glob)${p}'`)
  .join(" ");

export class DockerSandbox implements Sandbox {
  private released = false;

  constructor(
    readonly info: SandboxInfo,
    private readonly docker: Docker,
    private readonly container: Docker.Container,
    private readonly volume: string,
    private readonly network: string | undefined,
    private readonly executor: Executor,
    /** The base commit being made; every operation waits for it. */
    private readonly base: Promise<void>,
    /** An allowlist sandbox's egress proxy (egress.ts). */
    private readonly proxy?: Docker.Container,
  ) {
    base.catch(() => {}); // reported by the first operation that waits for it
  }

  private stopFollowing: (() => void)[] = [];

  async closeEgress(): Promise<void> {
    this.stopFollowing.forEach((stop) => stop());
    if (this.proxy) await this.proxy.remove({ force: true }).catch(ignoreGone);
  }

  async snapshot(paths: string[], tag: string): Promise<{ bytes: number }> {
    await this.base;
    return snapshotDeps(this.docker, this.container, this.info.image, paths, tag);
  }

  onEgress(listener: (e: EgressEvent) => void): void {
    if (!this.proxy) return;
    void followEgress(this.proxy, listener).then(
      (stop) => (this.released ? stop() : this.stopFollowing.push(stop)),
      () => {},
    );
  }

  /** Resolves once the workspace is copied and committed as the base. */
  ready(): Promise<void> {
    return this.base;
  }

  async exec(req: ExecRequest, signal?: AbortSignal): Promise<Observation> {
    await this.base;
    return this.executor.exec({ cwd: WORKSPACE, ...req }, signal);
  }

  async readFile(path: string): Promise<Buffer> {
    await this.base;
    const abs = this.resolve(path);
    let archive: NodeJS.ReadableStream;
    try {
      archive = await this.container.getArchive({ path: abs });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) throw new LanesError("failed", `no such file: ${path}`);
      throw err;
    }
    return new Promise((resolve, reject) => {
      const extract = tar.extract();
      let found: Buffer | undefined;
      extract.on("entry", (header, stream, next) => {
        const chunks: Buffer[] = [];
        stream.on("data", (c) => chunks.push(c as Buffer));
        stream.on("end", () => {
          if (found === undefined) {
            if (header.type !== "file") return reject(new LanesError("failed", `${path} is not a regular file`));
            found = Buffer.concat(chunks);
          }
          next();
        });
        stream.resume();
      });
      extract.on("finish", () => (found ? resolve(found) : reject(new LanesError("failed", `no such file: ${path}`))));
      extract.on("error", reject);
      archive.pipe(extract);
    });
  }

  async writeFile(path: string, content: string | Buffer, mode = 0o644): Promise<void> {
    await this.base;
    const rel = posix.relative(WORKSPACE, this.resolve(path));
    await this.container.putArchive(packOne(rel, Buffer.from(content), mode) as unknown as NodeJS.ReadableStream, {
      path: WORKSPACE,
    });
  }

  async tunnel(port: number, target: { host: string; port: number }): Promise<Tunnel> {
    await this.base;
    return openTunnel(this.container, port, target);
  }

  async diff(): Promise<string> {
    const r = await this.exec({
      // Build byproducts are never part of a patch, even where the repository does not ignore them.
      command:
        `git add -A -- . ${BYPRODUCTS} >/dev/null && ` +
        `git -c core.quotepath=off diff --cached --binary ${this.info.baseCommit}`,
      timeoutMs: 120_000,
      maxOutputBytes: WHOLE,
    });
    if (r.exitCode !== 0)
      throw new LanesError("sandbox", `git diff failed in sandbox ${this.info.id}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.executor.close();
    this.stopFollowing.forEach((stop) => stop());
    await this.container.remove({ force: true, v: true }).catch(ignoreGone);
    if (this.proxy) await this.proxy.remove({ force: true }).catch(ignoreGone);
    await removeWhenFree(() => this.docker.getVolume(this.volume).remove());
    if (this.network) await removeWhenFree(() => this.docker.getNetwork(this.network!).remove());
  }

  /** Only paths inside the workspace: the root filesystem is read-only and /tmp is not shared. */
  private resolve(path: string): string {
    const abs = posix.resolve(WORKSPACE, path);
    if (abs !== WORKSPACE && !abs.startsWith(`${WORKSPACE}/`))
      throw new LanesError("failed", `${path} is outside the workspace (${WORKSPACE})`);
    return abs;
  }
}

/** Removal races (AutoRemove, a concurrent reaper) are fine: gone is gone. */
export function ignoreGone(err: unknown): void {
  const code = (err as { statusCode?: number }).statusCode;
  if (code === 404 || code === 409) return;
  throw err;
}

/** A volume or network stays "in use" (409) for a moment after its container is removed. */
export async function removeWhenFree(remove: () => Promise<unknown>, attempts = 20): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await remove();
      return;
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      if (code === 404) return;
      if (code !== 409 || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
