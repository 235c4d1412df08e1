/**
 * The dependency cache of a lane's `setup`: after the setup ran in a sandbox, the paths it made
 * (node_modules, .venv, …) become an image layer on top of the sandbox's image — `lanes-deps:KEY`,
 * built on the same engine from a tar of those paths — so the next run of the same repository,
 * profile and lockfiles starts FROM it, copies them into the workspace, and needs no network.
 * The tag appears only when the build is complete, so a half-written cache never counts.
 */
import type Docker from "dockerode";
import tar from "tar-stream";
import { LanesError } from "../../core/errors.js";
import { WORKSPACE } from "./container-spec.js";
import { DEPS_DIR } from "../../core/sandbox.js";

export const DEPS_LABEL = "dev.lanes.deps";

/** Remove setup caches built more than `olderThanMs` ago (one a sandbox still uses stays). */
export async function pruneDeps(docker: Docker, olderThanMs: number): Promise<string[]> {
  const removed: string[] = [];
  for (const i of await docker.listImages({ filters: { label: [DEPS_LABEL] } })) {
    if (i.Created * 1000 > Date.now() - olderThanMs) continue;
    for (const tag of i.RepoTags ?? []) {
      if (!tag.startsWith("lanes-deps:")) continue;
      await docker
        .getImage(tag)
        .remove()
        .then(() => removed.push(tag))
        .catch(() => {});
    }
  }
  return removed;
}

/** Snapshot `paths` (relative to the workspace) of a running sandbox as `tag`, FROM its image. */
export async function snapshotDeps(
  docker: Docker,
  container: Docker.Container,
  baseImage: string,
  paths: string[],
  tag: string,
): Promise<{ bytes: number }> {
  const pack = tar.pack();
  const dockerfile = `FROM ${baseImage}\nCOPY --chown=1000:1000 deps/ ${DEPS_DIR}/\nLABEL ${DEPS_LABEL}="${tag}"\n`;
  pack.entry({ name: "Dockerfile" }, dockerfile);
  pack.entry({ name: "deps/", type: "directory" });
  let bytes = 0;
  const filling = (async () => {
    for (const p of paths) {
      let archive: NodeJS.ReadableStream;
      try {
        archive = await container.getArchive({ path: `${WORKSPACE}/${p}` });
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) continue; // the setup did not make it
        throw err;
      }
      // getArchive names entries from the path's last part; they go under deps/ with their parents.
      const parent = p.includes("/") ? `${p.slice(0, p.lastIndexOf("/"))}/` : "";
      await new Promise<void>((resolve, reject) => {
        const extract = tar.extract();
        extract.on("entry", (header, stream, next) => {
          bytes += header.size ?? 0;
          const entry = pack.entry({ ...header, name: `deps/${parent}${header.name}` }, (err) =>
            err ? reject(err) : next(),
          );
          stream.pipe(entry);
        });
        extract.on("finish", resolve);
        extract.on("error", reject);
        archive.pipe(extract);
      });
    }
    pack.finalize();
  })();
  filling.catch((err: Error) => pack.destroy(err));
  const stream = await docker.buildImage(pack as unknown as NodeJS.ReadableStream, { t: tag, rm: true, forcerm: true });
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
      const bad = out?.find((o) => o.error);
      if (err || bad)
        reject(new LanesError("sandbox", `caching the setup's dependencies failed: ${err?.message ?? bad?.error}`));
      else resolve();
    });
  });
  await filling;
  return { bytes };
}
