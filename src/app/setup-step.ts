/**
 * A lane's `setup`: commands that install a repository's dependencies in the sandbox before the
 * agent starts. The first run of a repository, profile and set of `key` files (lockfiles) runs
 * them with egress only to the allowlist (the profile's `allow` plus the host's own registries),
 * then closes egress and caches what they made (`paths`) as an image layer; every later run with
 * the same key starts FROM that image and copies the paths into the workspace: no network, no
 * install. A failed setup fails the run before the agent spends anything.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { LanesError } from "../core/errors.js";
import { DEPS_DIR, parseDuration, type Sandbox, type SandboxProfile } from "../core/sandbox.js";
import type { RunEvent } from "../core/run-events.js";
import type { SandboxHost } from "../core/ports.js";
import type { Lane } from "../adapters/config/schema.js";

export type Setup = NonNullable<Lane["setup"]>;

/** The cache key: the commands, the paths, the image, and the content of every `key` file. */
/**
 * The dependency cache's key: the setup, its key files and the image it runs on, by the image's
 * ID (its content) where the host knows it, so a rebuilt image never reuses a cache made on the old one.
 */
export function setupKey(setup: Setup, root: string, image: string, imageId?: string): string {
  const h = createHash("sha256").update(JSON.stringify([setup.commands, setup.paths, imageId ?? image]));
  for (const f of setup.key) {
    h.update(`\0${f}\0`);
    try {
      h.update(readFileSync(join(root, f)));
    } catch {
      h.update("(missing)");
    }
  }
  return h.digest("hex").slice(0, 16);
}

export const depsTag = (key: string) => `lanes-deps:${key}`;

/** The profile to acquire with: FROM the cache when there is one, else with egress for the setup. */
export async function setupProfile(
  host: SandboxHost,
  setup: Setup | undefined,
  root: string,
  profile: SandboxProfile,
): Promise<{ profile: SandboxProfile; tag?: string; cached: boolean }> {
  if (!setup) return { profile, cached: false };
  const tag = depsTag(setupKey(setup, root, profile.image, await host.imageId?.(profile.image)));
  // Not from the warm pool: its members run the plain image with the plain network.
  if (await host.hasImage?.(tag)) return { profile: { ...profile, image: tag, pool: 0 }, tag, cached: true };
  const network = profile.network === "none" ? "allowlist" : profile.network;
  return { profile: { ...profile, network, pool: 0 }, tag, cached: false };
}

export async function runSetup(
  sandbox: Sandbox,
  setup: Setup,
  prepared: { tag?: string | undefined; cached: boolean },
  ownNetwork: SandboxProfile["network"],
  emit: (e: RunEvent) => void,
): Promise<void> {
  const t0 = Date.now();
  if (prepared.cached) {
    const r = await sandbox.exec({ command: `cp -a ${DEPS_DIR}/. /workspace/`, timeoutMs: 300_000 });
    if (r.exitCode !== 0)
      throw new LanesError("sandbox", `restoring the cached dependencies failed: ${r.stderr.trim().slice(-300)}`);
    emit({ type: "setup", cached: true, commands: setup.commands, exitCode: 0, ms: Date.now() - t0 });
    return;
  }
  const o = await sandbox.exec({
    command: setup.commands.join(" && "),
    timeoutMs: parseDuration(setup.timeout),
    maxOutputBytes: 20_000,
  });
  // Egress was for the setup only: the agent gets the profile's own network.
  if (ownNetwork === "none") await sandbox.closeEgress?.();
  const tail = `${o.stdout}\n${o.stderr}`.trim().split("\n").slice(-15).join("\n");
  emit({
    type: "setup",
    cached: false,
    commands: setup.commands,
    exitCode: o.exitCode,
    ms: Date.now() - t0,
    ...(o.exitCode !== 0 ? { outputTail: tail } : {}),
  });
  if (o.exitCode !== 0)
    throw new LanesError(
      "failed",
      `setup \`${setup.commands.join(" && ")}\` failed (exit ${o.exitCode}${o.timedOut ? ", timed out" : ""})`,
      { hint: tail ? `its last lines:\n${tail}` : undefined },
    );
  if (prepared.tag && sandbox.snapshot) {
    const t1 = Date.now();
    try {
      const { bytes } = await sandbox.snapshot(setup.paths, prepared.tag);
      emit({ type: "setup_cached", image: prepared.tag, bytes, ms: Date.now() - t1 });
    } catch (err) {
      emit({ type: "warning", message: `the setup's dependencies were not cached: ${(err as Error).message}` });
    }
  }
}
