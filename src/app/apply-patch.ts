/**
 * Bringing a run's patch home: `--apply` writes it into the working tree (refusing if the tree
 * changed since the run started), `--branch NAME` commits it on a new branch without touching the
 * working tree (a temporary index, then commit-tree and update-ref).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LanesError } from "../core/errors.js";
import { git } from "../adapters/git.js";

/** A fingerprint of HEAD plus every uncommitted change (tracked and untracked). */
export async function treeState(root: string): Promise<string> {
  const [head, status, diff] = await Promise.all([
    git(["rev-parse", "HEAD"], root),
    git(["status", "--porcelain=v1", "-z", "--untracked-files=all"], root),
    git(["diff", "HEAD", "--binary"], root),
  ]);
  return createHash("sha256").update(head.stdout).update(status.stdout).update(diff.stdout).digest("hex");
}

export async function applyPatch(root: string, patch: string, before: string): Promise<void> {
  if ((await treeState(root)) !== before)
    throw new LanesError("failed", "not applying the patch: the working tree changed while the run was going", {
      hint: `apply it yourself when ready: git apply ${patch}`,
    });
  const r = await gitOffHotPath(["apply", "--whitespace=nowarn", patch], root);
  if (r.failed)
    throw new LanesError("failed", `git apply failed: ${r.stderr.trim()}`, { hint: `the patch is at ${patch}` });
}

export async function commitOnBranch(root: string, patch: string, branch: string, message: string): Promise<string> {
  if ((await git(["check-ref-format", "--branch", branch], root)).code !== 0)
    throw new LanesError("usage", `"${branch}" is not a valid branch name`);
  if ((await git(["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`], root)).code === 0)
    throw new LanesError("usage", `branch ${branch} already exists`, { hint: "pick another --branch name" });
  const dir = mkdtempSync(join(tmpdir(), "lanes-index-"));
  const env = { ...process.env, GIT_INDEX_FILE: join(dir, "index") };
  const run = async (args: string[]) => {
    const r = await gitOffHotPath(args, root, env);
    if (r.failed) throw new LanesError("failed", `git ${args[0]} failed: ${r.stderr.trim()}`);
    return r.stdout.trim();
  };
  try {
    await run(["read-tree", "HEAD"]);
    await run(["apply", "--cached", "--whitespace=nowarn", patch]);
    const tree = await run(["write-tree"]);
    const commit = await run([
      "-c",
      "user.name=lanes",
      "-c",
      "user.email=lanes@localhost",
      "commit-tree",
      tree,
      "-p",
      "HEAD",
      "-m",
      message,
    ]);
    await run(["update-ref", `refs/heads/${branch}`, commit]);
    return commit;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * git for bringing a patch home, through execa (signals, timeouts and errors that carry the
 * command and its output). It is imported here, lazily: `plan` and `--version` never load it.
 */
async function gitOffHotPath(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const { execa } = await import("execa");
  return execa("git", args, { cwd, env, extendEnv: false, reject: false, timeout: 120_000, stripFinalNewline: false });
}
