/**
 * Workspace fidelity: a checked-out submodule is copied with its files, one that is not checked
 * out and a file over 50 MB are listed as not copied (in the plan and the run), a Git LFS pointer
 * is copied and named — nothing is dropped silently.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { gitRepo, lanes, tempHome } from "../helpers/cli.js";
import { requireImage } from "../helpers/docker.js";
import { localHost, profile } from "../helpers/sandbox.js";
import { listWorkspace } from "../../src/adapters/docker/workspace.js";

const LFS = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a".repeat(64) + "\nsize 123456\n";
const git = (cwd: string, ...args: string[]) =>
  spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "protocol.file.allow=always", ...args], {
    cwd,
    encoding: "utf8",
  });

let repo: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  requireImage();
  const home = tempHome("lanes-fidelity-");
  env = home.env;
  const lib = gitRepo(home.dir, "lib", { "lib.js": "module.exports = 1;\n" });
  const other = gitRepo(home.dir, "other", { "o.txt": "o\n" });
  repo = gitRepo(home.dir, "repo", {
    "a.txt": "a\n",
    "model.bin": LFS,
    "lanes.yaml":
      "tiers:\n  standard:\n    endpoints: [{ id: hosted, baseURL: 'http://127.0.0.1:1/v1', model: gpt-4.1-mini }]\n",
  });
  expect(git(repo, "submodule", "add", "-q", lib, "vendor/lib").status).toBe(0);
  expect(git(repo, "submodule", "add", "-q", other, "vendor/other").status).toBe(0);
  git(repo, "commit", "-qm", "subs");
  // vendor/other: registered but not checked out here.
  spawnSync("sh", ["-c", "git submodule deinit -q -f vendor/other"], { cwd: repo });
  mkdirSync(join(repo, "data"));
  writeFileSync(join(repo, "data/huge.bin"), "");
  truncateSync(join(repo, "data/huge.bin"), 51 * 2 ** 20);
});

describe("workspace fidelity", () => {
  it("the plan lists what the sandbox will not get, and the LFS pointers", async () => {
    const r = await lanes(["plan", "x", "--lane", "eval", "--json"], { cwd: repo, env });
    expect(r.code, r.stderr).toBe(0);
    const w = JSON.parse(r.stdout).repo.workspace;
    expect(w.skipped).toEqual([
      { path: "vendor/other", why: "a submodule that is not checked out (git submodule update --init)" },
      { path: "data/huge.bin", why: "51 MB, over the 50 MB limit per file" },
    ]);
    expect(w.lfsPointers).toEqual(["model.bin"]);
    const text = await lanes(["plan", "x", "--lane", "eval"], { cwd: repo, env });
    expect(text.stdout).toContain("workspace: not copied: data/huge.bin (51 MB, over the 50 MB limit per file)");
  });

  it("a tracked file that became a directory is neither a submodule nor lost: its files are listed", async () => {
    const home = tempHome("lanes-typechange-");
    const r = gitRepo(home.dir, "r", { tool: "was a file\n", "b.txt": "b\n" });
    rmSync(join(r, "tool"));
    mkdirSync(join(r, "tool"));
    writeFileSync(join(r, "tool", "main.sh"), "echo\n");
    const listing = await listWorkspace(r);
    expect(listing.skipped).toEqual([]);
    expect(listing.files.sort()).toEqual(["b.txt", "tool/main.sh"]);
  });

  it("the sandbox gets the checked-out submodule's files, the pointer as it is, and not the rest", async () => {
    const sb = await localHost().acquire({ profileName: "default", profile: profile(), repo });
    try {
      const r = await sb.exec({
        command:
          "cat vendor/lib/lib.js; head -1 model.bin; test -e vendor/other/o.txt || echo noother; test -e data/huge.bin || echo nohuge",
        timeoutMs: 10_000,
      });
      expect(r.stdout).toBe("module.exports = 1;\nversion https://git-lfs.github.com/spec/v1\nnoother\nnohuge\n");
    } finally {
      await sb.release();
    }
  });
});
