/**
 * Sandbox images without a registry: build from the project's (or lanes') sandbox Dockerfile on
 * any host, and stream an image from the local engine to a remote one (save → load).
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type Docker from "dockerode";
import { LanesError } from "../../core/errors.js";
import { stageOwnContext } from "./image-vendor.js";
import { hasImage } from "./client.js";
import { packageFile } from "../own-files.js";

export const PACKAGE_SANDBOX_DIR = fileURLToPath(packageFile("templates/sandbox/"));
export const OFFLINE_BASE = "lanes-base:bookworm-3";
/** lanes' own sandbox image under a name no project build overwrites: a project's Dockerfile builds FROM it. */
export const LANES_IMAGE = "lanes-sandbox:lanes";
const PROXY_VARS = ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"];

/** The project's .lanes/sandbox (written by `lanes init`) wins over the one lanes ships. */
export function sandboxContext(root: string): string {
  const own = join(root, ".lanes", "sandbox");
  return existsSync(join(own, "Dockerfile")) ? own : PACKAGE_SANDBOX_DIR;
}

/**
 * The tag of a repository's own image (.lanes/sandbox): per repository and per content, so a
 * repository never replaces the image every other repository's sandboxes start from.
 */
export function repoImageTag(root: string, context: string): string {
  const repoId = createHash("sha256").update(realpathSync(root)).digest("hex").slice(0, 12);
  const h = createHash("sha256");
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path, `${rel}${e.name}/`);
      else if (e.isFile()) h.update(`${rel}${e.name}\0`).update(readFileSync(path)).update("\0");
    }
  };
  walk(context, "");
  return `lanes-repo-${repoId}:${h.digest("hex").slice(0, 16)}`;
}

/**
 * Build a sandbox image. lanes' own Dockerfile gets the Node LTS, npm and the host's CA staged next
 * to it (image-vendor.ts), is built on the offline base where there is one (without network),
 * is also tagged lanes-sandbox:lanes and by a hash of its inputs, and an unchanged one is only
 * re-tagged. A project's Dockerfile builds FROM lanes-sandbox:lanes, with network and the host's
 * proxy settings.
 */
export async function buildImage(
  docker: Docker,
  opts: { context: string; tag: string; base?: string | undefined; onLine?: (line: string) => void },
): Promise<{ cached: boolean }> {
  const { pack } = await import("tar-fs");
  const buildargs: Record<string, string> = {};
  const own = resolve(opts.context) === resolve(PACKAGE_SANDBOX_DIR);
  if (opts.base) buildargs.BASE = opts.base;
  else if (own && (await hasImage(docker, OFFLINE_BASE))) buildargs.BASE = OFFLINE_BASE;
  else if (!own) {
    // A project's image builds FROM lanes' own: on a fresh machine (`lanes init`, then `lanes images
    // build`) that is built first.
    if (!(await hasImage(docker, LANES_IMAGE))) {
      opts.onLine?.(`${LANES_IMAGE} is not here yet: building lanes' own image first`);
      await buildImage(docker, { context: PACKAGE_SANDBOX_DIR, tag: LANES_IMAGE, onLine: opts.onLine });
    }
    buildargs.BASE = LANES_IMAGE;
  }
  for (const k of PROXY_VARS) if (process.env[k]) buildargs[k] = process.env[k]!;
  const staged = own ? await stageOwnContext(opts.context, buildargs.BASE ?? "default", opts.onLine) : undefined;
  const tags = [opts.tag, ...(staged ? [`lanes-sandbox:${staged.hash}`, LANES_IMAGE] : [])];
  try {
    const done = staged ? `lanes-sandbox:${staged.hash}` : undefined;
    if (done && (await hasImage(docker, done))) {
      for (const t of tags.filter((t) => t !== done)) await tagAs(docker, done, t);
      return { cached: true };
    }
    const stream = await docker.buildImage(pack(staged?.dir ?? opts.context) as unknown as NodeJS.ReadableStream, {
      t: opts.tag,
      buildargs,
      networkmode: buildargs.BASE === OFFLINE_BASE ? "none" : "default",
      rm: true,
      forcerm: true,
    });
    await follow(
      docker,
      stream,
      opts.onLine,
      (msg) =>
        new LanesError("sandbox", `image build failed: ${msg}`, {
          hint: buildargs.BASE
            ? "see the build output above"
            : "the build needs a registry for its base image (debian:bookworm-slim), or pass --base IMAGE",
        }),
    );
    for (const t of tags.slice(1)) await tagAs(docker, opts.tag, t);
    return { cached: false };
  } finally {
    staged?.cleanup();
  }
}

async function tagAs(docker: Docker, image: string, tag: string): Promise<void> {
  const i = tag.lastIndexOf(":");
  await docker.getImage(image).tag({ repo: tag.slice(0, i), tag: tag.slice(i + 1) });
}

/** Stream IMAGE from one engine into another; returns the bytes moved. */
export async function pushImage(
  from: Docker,
  to: Docker,
  image: string,
  onProgress?: (bytes: number) => void,
): Promise<number> {
  if (!(await hasImage(from, image)))
    throw new LanesError("sandbox", `image ${image} is not on the local engine`, {
      hint: "build it first: lanes images build",
    });
  const source = (await from.getImage(image).get()) as NodeJS.ReadableStream;
  let bytes = 0;
  source.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    onProgress?.(bytes);
  });
  const loaded = await to.loadImage(source, { quiet: true });
  await follow(
    to,
    loaded,
    undefined,
    (msg) => new LanesError("sandbox", `loading ${image} on the remote engine failed: ${msg}`),
  );
  if (!(await hasImage(to, image)))
    throw new LanesError("sandbox", `the remote engine did not keep ${image} after loading it`);
  return bytes;
}

function follow(
  docker: Docker,
  stream: NodeJS.ReadableStream,
  onLine: ((l: string) => void) | undefined,
  fail: (msg: string) => Error,
): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, output: { error?: string; errorDetail?: { message?: string } }[]) => {
        const bad = output?.find((o) => o.error || o.errorDetail);
        if (err || bad) reject(fail(err?.message ?? bad?.errorDetail?.message ?? bad?.error ?? "unknown error"));
        else resolve();
      },
      (event: { stream?: string; status?: string }) => {
        const line = (event.stream ?? event.status ?? "").trimEnd();
        if (line && onLine) onLine(line);
      },
    );
  });
}
