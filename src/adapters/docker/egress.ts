/**
 * `network: allowlist`: the sandbox sits on an internal network of its own (no route out, no DNS
 * for outside names) whose only other member is a proxy sidecar (egress-proxy.py) that is also on
 * the bridge. HTTP_PROXY/HTTPS_PROXY point the sandbox's tools at it; it lets through only the
 * allowlisted domains and reports every attempt, which the run records. The sidecar works the
 * same on a remote engine, and ends with its sandbox (or its TTL; the reaper removes leftovers).
 */
import { readFileSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { LanesError } from "../../core/errors.js";
import type { EgressEvent } from "../../core/sandbox.js";
import { onFrames } from "./frames.js";
import { ownFile } from "../own-files.js";

const PROXY_SOURCE = readFileSync(ownFile("adapters/docker/egress-proxy.py"), "utf8");
export const PROXY_LABEL = "dev.lanes.proxy";
const PORT = 3128;

export function proxyName(id: string): string {
  return `lanes-${id}-proxy`;
}

export interface Egress {
  /** Environment for the sandbox: the proxy for every tool that honours the usual variables. */
  env: string[];
  proxy: Docker.Container;
  /** Follow the proxy's reports from now on; returns a stop function. */
  follow(listener: (e: EgressEvent) => void): Promise<() => void>;
}

/** Create the internal network's proxy sidecar, start it, and wait until it listens. */
export async function startEgress(
  docker: Docker,
  o: {
    id: string;
    network: string;
    image: string;
    ttlSeconds: number;
    allow: string[];
    labels: Record<string, string>;
  },
): Promise<Egress> {
  const net = await docker.getNetwork(o.network).inspect();
  const subnet: string | undefined = net.IPAM?.Config?.[0]?.Subnet;
  if (!subnet) throw new LanesError("sandbox", `network ${o.network} has no subnet to serve`);
  const proxy = await docker.createContainer({
    name: proxyName(o.id),
    Image: o.image,
    Cmd: ["timeout", String(o.ttlSeconds), "python3", "-S", "-u", "-c", PROXY_SOURCE],
    User: "1000:1000",
    Env: [`LANES_ALLOW=${o.allow.join(",")}`, `LANES_CLIENTS=${subnet}`],
    // Not dev.lanes.managed (it is not a sandbox); its owner lets the reaper tell a dead one.
    Labels: {
      [PROXY_LABEL]: o.id,
      "dev.lanes.owner": o.labels["dev.lanes.owner"] ?? "",
      "dev.lanes.expires": o.labels["dev.lanes.expires"] ?? "",
    },
    HostConfig: {
      Init: true,
      AutoRemove: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      ReadonlyRootfs: true,
      Memory: 128 * 2 ** 20,
      MemorySwap: 128 * 2 ** 20,
      PidsLimit: 128,
      NetworkMode: o.network,
    },
  });
  try {
    await docker.getNetwork("bridge").connect({ Container: proxy.id });
    const ready = waitReady(proxy);
    await proxy.start();
    await ready;
    const info = await proxy.inspect();
    const ip = info.NetworkSettings.Networks[o.network]?.IPAddress;
    if (!ip) throw new LanesError("sandbox", "the egress proxy has no address on the sandbox's network");
    const url = `http://${ip}:${PORT}`;
    return {
      env: ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"]
        .map((k) => `${k}=${url}`)
        .concat(["NO_PROXY=localhost,127.0.0.1", "no_proxy=localhost,127.0.0.1"]),
      proxy,
      follow: (listener) => followEgress(proxy, listener),
    };
  } catch (err) {
    await proxy.remove({ force: true }).catch(() => {});
    throw err;
  }
}

async function waitReady(proxy: Docker.Container): Promise<void> {
  const stream = (await proxy.attach({ stream: true, stdout: true, stderr: true })) as Duplex;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new LanesError("sandbox", "the egress proxy did not start in 10 s")), 10_000);
    lines(stream, (line) => {
      if (line.includes('"ready"')) {
        clearTimeout(timer);
        stream.destroy();
        resolve();
      }
    });
    stream.on("end", () => reject(new LanesError("sandbox", "the egress proxy ended as it started")));
  });
}

export async function followEgress(proxy: Docker.Container, listener: (e: EgressEvent) => void): Promise<() => void> {
  const stream = (await proxy.attach({ stream: true, stdout: true, stderr: false })) as Duplex;
  lines(stream, (line) => {
    try {
      const e = JSON.parse(line) as EgressEvent & { ready?: boolean };
      // A malformed request has no host: still an attempt, recorded as "(malformed)".
      if (!e.ready && typeof e.allowed === "boolean") listener({ ...e, host: e.host || "(malformed)" });
    } catch {
      /* not a report */
    }
  });
  stream.on("error", () => {});
  return () => stream.destroy();
}

function lines(stream: Duplex, onLine: (l: string) => void): void {
  const decoder = new StringDecoder("utf8");
  let buffered = "";
  onFrames(stream, (type, payload) => {
    if (type !== 1) return;
    buffered += decoder.write(payload);
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      onLine(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
}
