/**
 * The repository as a tar stream for the sandbox: git-tracked files plus untracked files that
 * are not ignored (what `git status` would show), owned by the sandbox user. The host checkout
 * is never mounted. Outside a git repository every file but .git is taken.
 */
import { createReadStream, existsSync, lstatSync, readFileSync } from "node:fs";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import type { Stats } from "node:fs";
import { createRequire } from "node:module";
import { join, posix } from "node:path";
import { pipeline } from "node:stream/promises";
import { git } from "../git.js";
import type tar from "tar-stream";

// Loaded on first use: planning lists the workspace but never packs it.
const tarStream = () => createRequire(import.meta.url)("tar-stream") as typeof tar;

const UID = 1000;
const GID = 1000;

export async function listWorkspaceFiles(repo: string): Promise<string[]> {
  // One git call: outside a work tree it fails, and the directory is walked instead.
  const r = await git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], repo);
  if (r.code === 0) return [...new Set(r.stdout.split("\0").filter(Boolean))];
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const entry of await readdir(join(repo, rel), { withFileTypes: true })) {
      if (entry.name === ".git") continue;
      const p = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(p);
      else out.push(p);
    }
  };
  await walk("");
  return out;
}

/** Files larger than this are not copied into a sandbox (they are listed as skipped instead). */
export const MAX_FILE_BYTES = 50 * 2 ** 20;
const LFS_POINTER = "version https://git-lfs.github.com/spec/v1";

export interface WorkspaceListing {
  /** What is copied in: the repository's files, and those of checked-out submodules. */
  files: string[];
  /** What is not, and why: submodules that are not checked out, files over MAX_FILE_BYTES. */
  skipped: { path: string; why: string }[];
  /** Git LFS pointer files: copied as they are, their content was never fetched. */
  lfsPointers: string[];
}

/**
 * The workspace as the sandbox gets it, with nothing dropped silently: checked-out submodules are
 * copied with their own files, the rest of what is left out is listed with the reason.
 */
export async function listWorkspace(repo: string): Promise<WorkspaceListing> {
  const files = await listWorkspaceFiles(repo);
  const stats = await statAll(repo, files);
  const submodules: WorkspaceListing["skipped"] = []; // listed first, as the index lists them
  const skipped: WorkspaceListing["skipped"] = [];
  const lfsPointers: string[] = [];
  const out: string[] = [];
  for (const [i, f] of files.entries()) {
    const st = stats[i];
    if (st?.isDirectory()) {
      // A directory in git's list is a submodule (the index holds it as one entry): its own files
      // when checked out (its .git is there), listed as skipped when it is an empty directory. One
      // git call fewer than asking the index for gitlinks, on the path of every plan and sandbox.
      const checkedOut = existsSync(join(repo, f, ".git"));
      if (checkedOut) {
        const inner = await git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], join(repo, f));
        if (inner.code === 0) {
          out.push(
            ...inner.stdout
              .split("\0")
              .filter(Boolean)
              .map((x) => `${f}/${x}`),
          );
          continue;
        }
      }
      if (checkedOut || !(await readdir(join(repo, f)).catch(() => [])).length)
        submodules.push({ path: f, why: "a submodule that is not checked out (git submodule update --init)" });
      continue; // otherwise a directory where a tracked file was: its files are listed as untracked
    }
    if (st?.isFile() && st.size > MAX_FILE_BYTES) {
      skipped.push({ path: f, why: `${(st.size / 2 ** 20).toFixed(0)} MB, over the 50 MB limit per file` });
      continue;
    }
    if (st?.isFile() && st.size > 100 && st.size < 300 && (await isLfsPointer(join(repo, f)))) lfsPointers.push(f);
    out.push(f);
  }
  return { files: out, skipped: [...submodules, ...skipped], lfsPointers };
}

/**
 * Each file's lstat (undefined where it is gone). A small repository's at once, synchronously:
 * through the thread pool each one is a round trip, and they were a visible part of a warm
 * sandbox's start; a big one's 64 at a time, so the event loop is never held for long.
 */
function statAll(repo: string, files: string[]): Promise<(Stats | undefined)[]> {
  if (files.length <= SMALL)
    return Promise.resolve(
      files.map((f) => {
        try {
          return lstatSync(join(repo, f));
        } catch {
          return undefined;
        }
      }),
    );
  return mapLimited(files, 64, (f) => lstat(join(repo, f)).catch(() => undefined));
}

/** Up to this many files are read synchronously (well under a millisecond's work each). */
const SMALL = 256;

async function isLfsPointer(file: string): Promise<boolean> {
  const { readFile } = await import("node:fs/promises");
  return (await readFile(file, "utf8").catch(() => "")).startsWith(LFS_POINTER);
}

/** What was read ahead for a tar built in memory: each file's lstat and, for files, its bytes. */
interface ReadAhead {
  stats: (Stats | undefined)[];
  bytes: (Buffer | undefined)[];
}

/** A tar of `files` (paths relative to `repo`), with directories listed so none is root-owned. */
export function packWorkspace(repo: string, files: string[], read?: ReadAhead): tar.Pack {
  const pack = tarStream().pack();
  void (async () => {
    const dirs = new Set<string>();
    for (const f of files) for (let d = posix.dirname(f); d !== "." && !dirs.has(d); d = posix.dirname(d)) dirs.add(d);
    for (const d of [...dirs].sort()) await entry(pack, { name: `${d}/`, type: "directory", mode: 0o755 });
    for (const [i, f] of files.entries()) {
      const abs = join(repo, f);
      const st = read ? read.stats[i] : await lstat(abs).catch(() => undefined);
      if (!st) continue; // tracked but deleted in the working tree: not part of it
      if (st.isSymbolicLink())
        await entry(pack, { name: f, type: "symlink", linkname: await readlink(abs), mode: 0o777 });
      else if (st.isFile()) {
        const header = { name: f, type: "file" as const, mode: st.mode & 0o7777, mtime: st.mtime };
        const bytes = read?.bytes[i];
        await entry(pack, { ...header, size: bytes?.length ?? st.size }, bytes ?? abs);
      }
      // submodules (directories in the index) and special files are skipped
    }
    pack.finalize();
  })().catch((err) => pack.destroy(err as Error));
  return pack;
}

/** `fn` over `items`, at most `width` at a time (a workspace can have 50,000 files). */
async function mapLimited<T, R>(items: T[], width: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

/**
 * The same tar built in memory, or undefined when the files add up to more than `max` bytes (a
 * big workspace is streamed to Docker instead of held here). Files are read 64 at a time: one
 * by one, a small repository's reads were most of a warm sandbox's start.
 */
export async function workspaceTar(repo: string, files: string[], max: number): Promise<Buffer | undefined> {
  const stats = await statAll(repo, files);
  const total = stats.reduce((n, st) => n + (st?.isFile() ? st.size + 1024 : 512), 0);
  if (total > max) return undefined;
  const read = (f: string) => {
    try {
      return readFileSync(join(repo, f));
    } catch {
      return undefined;
    }
  };
  const bytes =
    files.length <= SMALL
      ? files.map((f, i) => (stats[i]?.isFile() ? read(f) : undefined))
      : await mapLimited(files, 64, (f, i) =>
          stats[i]?.isFile() ? readFile(join(repo, f)).catch(() => undefined) : Promise.resolve(undefined),
        );
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of packWorkspace(repo, files, { stats, bytes }) as AsyncIterable<Buffer>) chunks.push(chunk);
  } catch {
    return undefined; // a file that changed meanwhile: Docker's upload reads them again
  }
  return Buffer.concat(chunks);
}

/** One tar entry; a file's content from `file` (a path, streamed) or given as bytes. */
function entry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }, file?: string | Buffer): Promise<void> {
  if (Buffer.isBuffer(file))
    return new Promise((resolve, reject) =>
      pack.entry({ uid: UID, gid: GID, uname: "lanes", gname: "lanes", ...header }, file, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  return new Promise((resolve, reject) => {
    const sink = pack.entry({ uid: UID, gid: GID, uname: "lanes", gname: "lanes", ...header }, (err) =>
      err ? reject(err) : resolve(),
    );
    if (file) pipeline(createReadStream(file), sink).catch(reject);
    else if (header.type !== "file") sink.end("");
  });
}

/** A tar holding one file (and its parent directories) for writeFile. */
export function packOne(path: string, content: Buffer, mode = 0o644): tar.Pack {
  const pack = tarStream().pack();
  const parts = path.split("/").slice(0, -1);
  for (let i = 1; i <= parts.length; i++)
    pack.entry({ name: `${parts.slice(0, i).join("/")}/`, type: "directory", mode: 0o755, uid: UID, gid: GID });
  pack.entry({ name: path, mode, uid: UID, gid: GID, size: content.length }, content);
  pack.finalize();
  return pack;
}
