/**
 * A Docker host as a place to get sandboxes from: cold starts, a warm pool shared by every lanes
 * process on the host (claimed by an atomic container rename), listing, and the reaper.
 */
import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import { LanesError } from "../../core/errors.js";
import { parseDuration, type SandboxInfo, type SandboxProfile as Profile } from "../../core/sandbox.js";
import type { AcquireOptions, SandboxHost } from "../../core/ports.js";
import { containerOptions } from "./container-spec.js";
import { Channel } from "./channel.js";
import { dockerExecutor } from "./exec.js";
import { containerName, LABEL, labelsFor, MANAGED_FILTER, ownerIsDead, ownerOf, selfOwner } from "./labels.js";
import { DockerSandbox, ignoreGone, removeWhenFree, type Executor } from "./sandbox.js";
import { listWorkspace } from "./workspace.js";
import { connectAndCopy, readWorkspace } from "./connect.js";
import { commitBase } from "./base-commit.js";
import type { EgressEvent } from "../../core/sandbox.js";
import { followEgress, PROXY_LABEL, proxyName, startEgress } from "./egress.js";
import { pruneDeps } from "./deps-cache.js";
import { hasImage, resolvesLocalhost } from "./client.js";
import { egressAllowList } from "../egress-defaults.js";

export type { AcquireOptions } from "../../core/ports.js";

export interface SandboxListing {
  id: string;
  host: string;
  name: string;
  owner: string;
  profile: string;
  image: string;
  state: string;
  pool: boolean;
  createdAt: number;
  expiresAt: number;
}

export interface ReapResult {
  containers: string[];
  volumes: string[];
  networks: string[];
  /** Setup caches (lanes-deps:*) removed by `sandbox gc`. */
  images?: string[];
}

const ORPHAN_GRACE_MS = 60_000;

export class DockerHost implements SandboxHost {
  private readonly refills = new Set<Promise<void>>();

  constructor(
    readonly name: string,
    readonly docker: Docker,
  ) {}

  /**
   * A sandbox with the repository copied in. The slow parts overlap: the host lists the files
   * while the container starts; a small repository is copied over the shim's channel once it
   * answers (connect.ts), a big one by Docker's archive upload meanwhile. The base commit (what
   * diffs are taken against) is made right after, in the background — by the shim as it copies,
   * else with git — and every sandbox operation waits for it, so nothing can touch the workspace
   * first (`sandbox.ready()`).
   */
  async acquire(o: AcquireOptions): Promise<DockerSandbox> {
    const owner = o.detached ? "detached" : selfOwner();
    const listed = o.repo ? listWorkspace(o.repo).then((l) => l.files) : Promise.resolve([]);
    const ws = readWorkspace(o.repo, listed, !o.detached);
    const claimed = o.profile.pool > 0 && !o.detached ? await this.claim(o.profileName, owner) : undefined;
    const parts =
      claimed ?? (await this.create(o.profileName, o.profile, owner, o.runId ?? "", false, o.detached === true));
    const proxy = parts.network && o.profile.network === "allowlist" ? proxyOf(this.docker, parts.info.id) : undefined;
    let executor: Executor | undefined;
    let base: Promise<void> | undefined;
    try {
      const copied = await connectAndCopy(parts.container, parts.channel, o.detached === true, ws);
      executor = copied.executor;
      const info: SandboxInfo = { ...parts.info, baseCommit: "", fromPool: claimed !== undefined };
      const git = executor;
      base = (copied.base ?? Promise.resolve(undefined))
        .then((made) => made ?? commitBase(git))
        .then((hash) => {
          info.baseCommit = hash;
        });
      return new DockerSandbox(info, this.docker, parts.container, parts.volume, parts.network, executor, base, proxy);
    } catch (err) {
      executor?.close();
      await this.removeParts(parts).catch(() => {});
      throw err;
    } finally {
      if (o.profile.pool > 0) void this.refill(o.profileName, o.profile, base ?? Promise.resolve());
    }
  }

  hasImage(image: string): Promise<boolean> {
    return hasImage(this.docker, image);
  }

  async imageId(image: string): Promise<string | undefined> {
    try {
      return ((await this.docker.getImage(image).inspect()) as { Id?: string }).Id;
    } catch {
      return undefined;
    }
  }

  /** Remove setup caches built more than `olderThanMs` ago (deps-cache.ts). */
  pruneDeps(olderThanMs: number): Promise<string[]> {
    return pruneDeps(this.docker, olderThanMs);
  }

  /** An executor for a sandbox some other process started (`lanes sandbox exec` on a detached one). */
  executorFor(container: Docker.Container): Executor {
    return dockerExecutor(container);
  }

  /** Wait for background pool refills, so a short-lived command does not exit half-way through one. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.refills]);
  }

  /** Start pool members until `profile.pool` unclaimed ones exist. */
  refill(profileName: string, profile: Profile, after?: Promise<unknown>): Promise<void> {
    const job = (async () => {
      // After an acquire, start only once its sandbox is ready (the base commit made), so the new
      // member does not compete with it for the engine and the CPUs.
      if (after) await after.catch(() => {});
      const have = (await this.poolMembers(profileName)).length;
      for (let i = have; i < profile.pool; i++) await this.create(profileName, profile, "pool", "", true, false);
    })().catch(() => {}); // a failed refill only means the next acquire is cold
    this.refills.add(job);
    void job.finally(() => this.refills.delete(job));
    return job;
  }

  async list(): Promise<SandboxListing[]> {
    const containers = await this.docker.listContainers({ all: true, filters: MANAGED_FILTER });
    return containers.map((c) => {
      const labels = c.Labels ?? {};
      return {
        id: labels[LABEL.sandbox] ?? c.Id.slice(0, 12),
        host: this.name,
        name: (c.Names?.[0] ?? "").replace(/^\//, ""),
        owner: ownerOf(c.Names?.[0], labels),
        profile: labels[LABEL.profile] ?? "",
        image: c.Image,
        state: c.State,
        pool: (c.Names?.[0] ?? "").endsWith("--pool"),
        createdAt: c.Created * 1000,
        expiresAt: Number(labels[LABEL.expires] ?? 0),
      };
    });
  }

  /** A handle on a running sandbox by id (or container name/id prefix), for exec and rm. */
  async find(id: string): Promise<{ container: Docker.Container; listing: SandboxListing } | undefined> {
    const listing = (await this.list()).find((s) => s.id === id || s.name === id);
    if (!listing) return undefined;
    return { container: this.docker.getContainer(listing.name), listing };
  }

  /**
   * Follow the egress of a sandbox started before this process (`sandbox up`): its proxy's
   * attempts while a command runs, for the audit trail. Nothing to follow without a proxy.
   */
  async followEgress(id: string, listener: (e: EgressEvent) => void): Promise<() => void> {
    const proxy = this.docker.getContainer(proxyName(id));
    if (!(await proxy.inspect().catch(() => undefined))) return () => {};
    return followEgress(proxy, listener);
  }

  async remove(listing: SandboxListing): Promise<void> {
    await this.docker.getContainer(listing.name).remove({ force: true, v: true }).catch(ignoreGone);
    await this.docker.getContainer(proxyName(listing.id)).remove({ force: true }).catch(ignoreGone);
    await removeWhenFree(() => this.docker.getVolume(volumeName(listing.id)).remove());
    await this.docker.getNetwork(networkName(listing.id)).remove().catch(ignoreGone);
  }

  /**
   * Remove what is ours and should not exist any more: expired sandboxes, sandboxes whose owning
   * process on this machine is dead, containers that never started or already stopped, and
   * volumes and networks left without their container. `all` removes every lanes sandbox.
   */
  async reap(opts: { all?: boolean } = {}): Promise<ReapResult> {
    const now = Date.now();
    const result: ReapResult = { containers: [], volumes: [], networks: [] };
    const live = new Set<string>();
    for (const s of await this.list()) {
      const stale = s.state !== "running" && now - s.createdAt > ORPHAN_GRACE_MS;
      if (opts.all || (s.expiresAt > 0 && s.expiresAt < now) || ownerIsDead(s.owner) || stale) {
        await this.docker.getContainer(s.name).remove({ force: true, v: true }).catch(ignoreGone);
        result.containers.push(s.name);
      } else live.add(s.id);
    }
    const orphaned = (labels: Record<string, string>, createdAt: number) => {
      const id = labels[LABEL.sandbox] ?? "";
      if (opts.all) return true;
      if (live.has(id)) return false;
      const owner = labels[LABEL.owner] ?? "";
      return ownerIsDead(owner) || now - createdAt > ORPHAN_GRACE_MS || Number(labels[LABEL.expires] ?? Infinity) < now;
    };
    // Egress proxies whose sandbox is gone (their own TTL would end them too). A proxy starts
    // before its sandbox's container exists: only one whose owner died, or older than the grace.
    for (const c of await this.docker.listContainers({ all: true, filters: { label: [PROXY_LABEL] } })) {
      const id = c.Labels?.[PROXY_LABEL] ?? "";
      const orphan = ownerIsDead(c.Labels?.[LABEL.owner] ?? "") || now - c.Created * 1000 > ORPHAN_GRACE_MS;
      if (opts.all || (!live.has(id) && orphan)) {
        await this.docker.getContainer(c.Id).remove({ force: true }).catch(ignoreGone);
        result.containers.push((c.Names?.[0] ?? c.Id).replace(/^\//, ""));
      }
    }
    const { Volumes } = await this.docker.listVolumes({ filters: MANAGED_FILTER });
    for (const v of Volumes ?? []) {
      const created = Date.parse((v as { CreatedAt?: string }).CreatedAt ?? "") || 0;
      if (orphaned(v.Labels ?? {}, created)) {
        await removeWhenFree(() => this.docker.getVolume(v.Name).remove(), 5).catch(() => {});
        result.volumes.push(v.Name);
      }
    }
    for (const n of await this.docker.listNetworks({ filters: MANAGED_FILTER })) {
      if (orphaned(n.Labels ?? {}, Date.parse(n.Created) || 0)) {
        await this.docker
          .getNetwork(n.Id)
          .remove()
          .catch(() => {});
        result.networks.push(n.Name);
      }
    }
    return result;
  }

  private async poolMembers(profileName: string): Promise<Docker.ContainerInfo[]> {
    const all = await this.docker.listContainers({
      filters: {
        label: [`${LABEL.managed}=true`, `${LABEL.profile}=${profileName}`, `${LABEL.pool}=true`],
        status: ["running"],
      },
    });
    const now = Date.now();
    return all.filter(
      (c) => (c.Names?.[0] ?? "").endsWith("--pool") && Number(c.Labels?.[LABEL.expires] ?? 0) > now + 60_000,
    );
  }

  /** Take a warm pool member by renaming it to us; a rename that loses a race just tries the next. */
  private async claim(profileName: string, owner: string) {
    for (const c of await this.poolMembers(profileName)) {
      const id = c.Labels?.[LABEL.sandbox];
      if (!id) continue;
      const container = this.docker.getContainer(c.Id);
      try {
        await container.rename({ name: containerName(id, owner) });
      } catch {
        continue;
      }
      const labels = c.Labels ?? {};
      const info = this.info(
        id,
        labels[LABEL.profile] ?? profileName,
        c.Image,
        c.Id,
        c.Created * 1000,
        Number(labels[LABEL.expires]),
      );
      return {
        container,
        volume: volumeName(id),
        network: c.HostConfig?.NetworkMode === networkName(id) ? networkName(id) : undefined,
        proxy: c.HostConfig?.NetworkMode === networkName(id) ? this.docker.getContainer(proxyName(id)) : undefined,
        channel: undefined,
        info,
      };
    }
    return undefined;
  }

  private async create(
    profileName: string,
    profile: Profile,
    owner: string,
    runId: string,
    pool: boolean,
    detached: boolean,
  ) {
    const id = randomBytes(5).toString("hex");
    const createdAt = Date.now();
    const expiresAt = createdAt + parseDuration(profile.ttl);
    const labels = labelsFor({ sandboxId: id, runId, owner, profile: profileName, expiresAt, pool });
    const volume = volumeName(id); // created with its labels by createContainer (see container-spec)
    let network: string | undefined;
    let container: Docker.Container | undefined;
    let channel: Channel | undefined;
    let proxy: Docker.Container | undefined;
    try {
      let env: string[] = [];
      if (profile.network !== "none") {
        network = networkName(id);
        // allowlist: an internal network (no route out) shared only with the egress proxy.
        const internal = profile.network === "allowlist";
        await this.docker.createNetwork({
          Name: network,
          Driver: "bridge",
          Internal: internal,
          Labels: labels,
          CheckDuplicate: true,
        });
        if (internal) {
          const egress = await startEgress(this.docker, {
            id,
            network,
            image: profile.image,
            ttlSeconds: Math.ceil(parseDuration(profile.ttl) / 1000),
            allow: await egressAllowList(profile),
            labels,
          });
          proxy = egress.proxy;
          env = egress.env;
        }
      }
      // No network: runc makes the namespace (loopback only) without Docker's setup, where the
      // image resolves localhost by itself.
      const bare = !network && profile.runtime === "runc" && (await resolvesLocalhost(this.docker, profile.image));
      container = await this.docker.createContainer(
        containerOptions({ name: containerName(id, owner), profile, labels, volume, network, detached, env, bare }),
      );
      // Hold stdin before PID 1 starts, so there is no moment in which our death would leak it.
      if (!detached && !pool) channel = await Channel.attach(container);
      await container.start();
    } catch (err) {
      channel?.close();
      await this.removeParts({ container, volume, network, proxy }).catch(() => {});
      throw this.explainCreate(err, profile);
    }
    return {
      container,
      volume,
      network,
      proxy,
      channel,
      info: this.info(id, profileName, profile.image, container.id, createdAt, expiresAt),
    };
  }

  private info(
    id: string,
    profile: string,
    image: string,
    containerId: string,
    createdAt: number,
    expiresAt: number,
  ): Omit<SandboxInfo, "baseCommit" | "fromPool"> {
    return { id, host: this.name, profile, image, containerId, createdAt, expiresAt };
  }

  private async removeParts(p: {
    container?: Docker.Container | undefined;
    volume: string;
    network?: string | undefined;
    proxy?: Docker.Container | undefined;
  }): Promise<void> {
    if (p.container) await p.container.remove({ force: true, v: true }).catch(ignoreGone);
    if (p.proxy) await p.proxy.remove({ force: true }).catch(ignoreGone);
    await removeWhenFree(() => this.docker.getVolume(p.volume).remove());
    if (p.network) await this.docker.getNetwork(p.network).remove().catch(ignoreGone);
  }

  private explainCreate(err: unknown, profile: Profile): Error {
    const e = err as { statusCode?: number; message?: string };
    if (e.statusCode === 404 && /image/i.test(e.message ?? "")) {
      return new LanesError("sandbox", `image ${profile.image} is not on host ${this.name}`, {
        hint:
          this.name === "local"
            ? "build it: lanes images build (or scripts/build-image.sh)"
            : `build it there: lanes images build --host ${this.name}, or copy it: lanes images push ${profile.image} --host ${this.name}`,
        cause: err,
      });
    }
    if (err instanceof LanesError) return err;
    return new LanesError("sandbox", `could not start a sandbox on host ${this.name}: ${e.message ?? String(err)}`, {
      cause: err,
    });
  }
}

/** The egress proxy of an allowlist sandbox, for following its reports and removing it. */
function proxyOf(docker: Docker, id: string): Docker.Container {
  return docker.getContainer(proxyName(id));
}

export function volumeName(id: string): string {
  return `lanes-ws-${id}`;
}

export function networkName(id: string): string {
  return `lanes-net-${id}`;
}
