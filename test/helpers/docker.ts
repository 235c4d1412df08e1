/**
 * Tests that need Docker never skip: without an engine they fail with the command that starts one.
 */
import { spawnSync } from "node:child_process";

export function requireDocker(): void {
  const r = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0)
    throw new Error(`no Docker engine answers (${(r.stderr || "").trim()}); start one with scripts/ensure-docker.sh`);
}

export function requireImage(image = "lanes-sandbox:latest"): void {
  requireDocker();
  const r = spawnSync("docker", ["image", "inspect", image], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`image ${image} is missing; build it with scripts/build-image.sh`);
}
