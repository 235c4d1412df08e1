/** Real sandboxes on the real engine, for tests. */
import Docker from "dockerode";
import { spawnSync } from "node:child_process";
import { chmodSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { profileSchema, type Profile } from "../../src/adapters/config/schema.js";
import { DockerHost } from "../../src/adapters/docker/host.js";
import { gitRepo, tempHome } from "./cli.js";

export function localHost(): DockerHost {
  return new DockerHost("local", new Docker());
}

export function profile(overrides: Partial<Profile> = {}): Profile {
  return profileSchema.parse(overrides);
}

/** A repository with a script (mode 755), a nested file, a symlink, an untracked and an ignored file. */
export function fixtureRepo(): string {
  const { dir } = tempHome("lanes-ws-");
  const repo = gitRepo(dir, "repo", {
    "README.md": "# fixture\n",
    "run.sh": "#!/bin/sh\necho ran\n",
    "src/lib/math.js": "export const add = (a, b) => a - b;\n",
    ".gitignore": "*.log\n",
  });
  chmodSync(join(repo, "run.sh"), 0o755);
  spawnSync("git", ["-C", repo, "update-index", "--chmod=+x", "run.sh"]);
  spawnSync("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "mode"]);
  symlinkSync("README.md", join(repo, "link.md"));
  spawnSync("sh", ["-c", `echo untracked > ${join(repo, "notes.txt")} && echo secret > ${join(repo, "debug.log")}`]);
  return repo;
}

export function labelled(filter: string, status?: "running"): { containers: string[]; volumes: string[] } {
  const ps = spawnSync(
    "docker",
    ["ps", "-aq", "--filter", `label=${filter}`, ...(status ? ["--filter", `status=${status}`] : [])],
    { encoding: "utf8" },
  ).stdout.trim();
  const vols = spawnSync("docker", ["volume", "ls", "-q", "--filter", `label=${filter}`], {
    encoding: "utf8",
  }).stdout.trim();
  return { containers: ps ? ps.split("\n") : [], volumes: vols ? vols.split("\n") : [] };
}

/**
 * What Docker did since `sinceMs` to anything carrying `filter` (e.g. `create container`), from
 * the engine's event log: it sees objects created and removed again, which a listing cannot.
 */
export function eventsFor(filter: string, sinceMs: number): string[] {
  const r = spawnSync(
    "docker",
    [
      "events",
      "--since",
      String(Math.floor(sinceMs / 1000) - 1),
      "--until",
      String(Math.ceil(Date.now() / 1000) + 1),
      "--filter",
      `label=${filter}`,
      "--format",
      "{{.Action}} {{.Type}}",
    ],
    { encoding: "utf8", timeout: 20_000 },
  );
  if (r.status !== 0) throw new Error(`docker events failed: ${r.stderr || r.error}`);
  const out = r.stdout.trim();
  return out ? out.split("\n") : [];
}
