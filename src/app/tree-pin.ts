/**
 * What a saved plan pins of the repository: a digest of its working tree's content (every file
 * `git status` would show: tracked, and untracked but not ignored), leaving out the plan file
 * itself, so that committing an approved plan does not make it stale. HEAD is not pinned: the
 * commit that adds the plan changes HEAD but not the code the plan was made for.
 */
import { createHash } from "node:crypto";
import { lstat, readFile, readlink } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { listWorkspaceFiles } from "../adapters/docker/workspace.js";

/** `file` relative to `root` (with '/'), or undefined when it lies outside the repository. */
export function repoRelative(root: string, file: string): string | undefined {
  const rel = relative(root, resolve(file));
  if (!rel || rel.startsWith("..") || isAbsolute(rel)) return undefined;
  return rel.split(sep).join("/");
}

export async function treeDigest(root: string, exclude: string[], files?: string[]): Promise<string> {
  const skip = new Set(exclude);
  const list = (files ?? (await listWorkspaceFiles(root))).filter((f) => !skip.has(f)).sort();
  const hash = createHash("sha256");
  // Files are hashed a few at a time: all at once would open thousands of descriptors.
  for (let i = 0; i < list.length; i += 64) {
    const parts = await Promise.all(list.slice(i, i + 64).map((f) => fileDigest(join(root, f))));
    parts.forEach((d, j) => hash.update(`${list[i + j]}\0${d}\n`));
  }
  return hash.digest("hex");
}

async function fileDigest(abs: string): Promise<string> {
  try {
    const st = await lstat(abs);
    if (st.isSymbolicLink()) return `link:${await readlink(abs)}`;
    if (!st.isFile()) return "other";
    const mode = st.mode & 0o111 ? "x" : "-";
    return `${mode}${createHash("sha256")
      .update(await readFile(abs))
      .digest("hex")}`;
  } catch {
    return "missing"; // tracked but deleted in the working tree
  }
}
