/**
 * A dockerode client for a configured host: the local socket (or DOCKER_HOST), tcp with mutual
 * TLS, or ssh. Errors from the engine are turned into messages that say which host and what to do.
 */
import { readFileSync } from "node:fs";
import Docker from "dockerode";
import { LanesError } from "../../core/errors.js";
import type { Host } from "../config/schema.js";

export function dockerFor(name: string, host: Host): Docker {
  if (!host.url) return new Docker();
  const url = new URL(host.url);
  switch (url.protocol) {
    case "unix:":
      return new Docker({ socketPath: url.pathname });
    case "tcp:": {
      const tls = host.tls;
      const read = (f: string) => {
        try {
          return readFileSync(f);
        } catch {
          throw new LanesError("sandbox", `host ${name}: cannot read TLS file ${f}`, {
            hint: `fix hosts.${name}.tls in your settings`,
          });
        }
      };
      return new Docker({
        host: url.hostname,
        port: Number(url.port || (tls ? 2376 : 2375)),
        protocol: tls ? "https" : "http",
        ...(tls ? { ca: read(tls.ca), cert: read(tls.cert), key: read(tls.key) } : {}),
      });
    }
    case "ssh:":
      return new Docker({
        protocol: "ssh",
        host: url.hostname,
        port: Number(url.port || 22),
        username: url.username || undefined,
      });
    default:
      throw new LanesError("usage", `host ${name}: unsupported URL ${host.url}`, {
        hint: "use unix://, tcp:// or ssh://",
      });
  }
}

/** Describe where a host is, for messages. */
export function hostLabel(name: string, host: Host): string {
  return host.url ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
}

/** Turn a connection failure into what happened and what to do next. */
export function explainDockerError(name: string, host: Host, err: unknown): LanesError {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const where = `${name} (${hostLabel(name, host)})`;
  const local = !host.url || host.url.startsWith("unix:");
  const start = local
    ? "start Docker (`sudo dockerd &`, `sudo systemctl start docker` or Docker Desktop), or run scripts/ensure-docker.sh"
    : `check that the engine at ${host.url} is up`;
  const code = e?.code ?? "";
  if (code === "ENOENT")
    return new LanesError("sandbox", `Docker host ${where}: no Docker socket there`, { hint: start, cause: err });
  if (code === "EACCES")
    return new LanesError("sandbox", `Docker host ${where}: permission denied on the socket`, {
      hint: "add your user to the docker group (then log in again) or use rootless Docker",
      cause: err,
    });
  if (code === "ECONNREFUSED")
    return new LanesError("sandbox", `Docker host ${where}: connection refused (nothing listens there)`, {
      hint: start,
      cause: err,
    });
  if (
    code === "ETIMEDOUT" ||
    code === "ABORT_ERR" ||
    e?.name === "AbortError" ||
    code === "EHOSTUNREACH" ||
    code === "ENETUNREACH"
  )
    return new LanesError("sandbox", `Docker host ${where}: timed out, no answer (${code || "timeout"})`, {
      hint: `${start}; check the address, routing and any firewall`,
      cause: err,
    });
  if (/ALERT_BAD_CERTIFICATE|CERTIFICATE_REQUIRED|ALERT_UNKNOWN_CA|ALERT_HANDSHAKE_FAILURE/.test(code))
    return new LanesError("sandbox", `Docker host ${where}: the engine rejected our client certificate (${code})`, {
      hint: `hosts.${name}.tls.cert must be signed by the CA the engine trusts (its --tlscacert)`,
      cause: err,
    });
  if (/UNABLE_TO_VERIFY|SELF_SIGNED|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ALTNAME|UNABLE_TO_GET_ISSUER/.test(code))
    return new LanesError(
      "sandbox",
      `Docker host ${where}: the engine's certificate is not trusted (${code}: ${e.message})`,
      {
        hint: `hosts.${name}.tls.ca must be the CA that signed the engine's certificate, issued for this address`,
        cause: err,
      },
    );
  if ((err as { statusCode?: number }).statusCode === 400 && /HTTPS/i.test(e?.message ?? ""))
    return new LanesError("sandbox", `Docker host ${where}: the engine requires TLS`, {
      hint: `lanes hosts add ${name} --url ${host.url ?? ""} --tls-ca CA --tls-cert CERT --tls-key KEY`,
      cause: err,
    });
  if (/ssl|tls/i.test(code))
    return new LanesError("sandbox", `Docker host ${where}: TLS handshake failed (${code})`, {
      hint: `check hosts.${name}.tls (ca, cert, key)`,
      cause: err,
    });
  return new LanesError("sandbox", `Docker host ${where}: ${e?.message ?? String(err)}`, { hint: start, cause: err });
}

/**
 * dockerode passes `abortSignal` through to docker-modem on these calls, but its type
 * definitions omit the option; this view adds it so every engine call can have a deadline.
 */
export interface SignalOpts {
  abortSignal?: AbortSignal;
}
export interface EngineCalls {
  ping(o: SignalOpts): Promise<unknown>;
  version(o: SignalOpts): Promise<Docker.DockerVersion>;
  info(o: SignalOpts): Promise<{
    SecurityOptions?: string[];
    Runtimes?: Record<string, unknown>;
    ContainersRunning?: number;
    NCPU?: number;
    MemTotal?: number;
  }>;
}
export function engine(docker: Docker): EngineCalls {
  return docker as unknown as EngineCalls;
}

/** Is the image there? Any failure to say so counts as no (the caller then builds or fails). */
export function hasImage(docker: Docker, image: string): Promise<boolean> {
  return imageExists(docker, image).catch(() => false);
}

export async function imageExists(docker: Docker, image: string, signal?: AbortSignal): Promise<boolean> {
  try {
    await (docker.getImage(image) as unknown as { inspect(o: SignalOpts): Promise<unknown> }).inspect({
      abortSignal: signal,
    });
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

/** Images known (per engine) to resolve localhost by themselves; a failed look is not kept. */
const localhostImages = new WeakMap<Docker, Map<string, Promise<boolean>>>();

/**
 * Does the image answer `localhost` without Docker's /etc/hosts? lanes' own images do, and say so
 * with a label (templates/sandbox/Dockerfile); such an image may start without Docker's network
 * setup. Asked once per image and engine in a process.
 */
export function resolvesLocalhost(docker: Docker, image: string): Promise<boolean> {
  let known = localhostImages.get(docker);
  if (!known) localhostImages.set(docker, (known = new Map()));
  let answer = known.get(image);
  if (!answer) {
    answer = docker
      .getImage(image)
      .inspect()
      .then((i) => i.Config?.Labels?.["dev.lanes.localhost"] === "myhostname");
    answer.catch(() => known.delete(image));
    known.set(image, answer);
  }
  return answer.catch(() => false);
}
