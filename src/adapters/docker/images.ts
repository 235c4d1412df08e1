/**
 * Sandbox images without a registry: build from the project's (or lanes') sandbox Dockerfile on
 * any host, and stream an image from the local engine to a remote one (save → load).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type Docker from "dockerode";
import { LanesError } from "../../core/errors.js";

export const PACKAGE_SANDBOX_DIR = fileURLToPath(new URL("../../../templates/sandbox/", import.meta.url));
export const OFFLINE_BASE = "lanes-base:bookworm-1";

/** The project's .lanes/sandbox (written by `lanes init`) wins over the one lanes ships. */
export function sandboxContext(root: string): string {
  const own = join(root, ".lanes", "sandbox");
  return existsSync(join(own, "Dockerfile")) ? own : PACKAGE_SANDBOX_DIR;
}

export async function buildImage(
  docker: Docker,
  opts: { context: string; tag: string; base?: string | undefined; onLine?: (line: string) => void },
): Promise<void> {
  const { pack } = await import("tar-fs");
  const buildargs: Record<string, string> = {};
  if (opts.base) buildargs.BASE = opts.base;
  else if (await has(docker, OFFLINE_BASE)) buildargs.BASE = OFFLINE_BASE; // built by scripts/build-image.sh
  const stream = await docker.buildImage(pack(opts.context) as unknown as NodeJS.ReadableStream, {
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
          : `no offline base image here; pass --base IMAGE, or run scripts/build-image.sh to make ${OFFLINE_BASE}`,
      }),
  );
}

/** Stream IMAGE from one engine into another; returns the bytes moved. */
export async function pushImage(
  from: Docker,
  to: Docker,
  image: string,
  onProgress?: (bytes: number) => void,
): Promise<number> {
  if (!(await has(from, image)))
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
  if (!(await has(to, image)))
    throw new LanesError("sandbox", `the remote engine did not keep ${image} after loading it`);
  return bytes;
}

async function has(docker: Docker, image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect();
    return true;
  } catch {
    return false;
  }
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
