/**
 * Talking to a new sandbox and copying the repository in. PID 1's stdin is held (the lifeline)
 * and the shim answers over it; where the image has no python3, PID 1 is `cat`, the stream stays
 * the lifeline and commands go over Docker exec.
 */
import type Docker from "dockerode";
import { LanesError } from "../../core/errors.js";
import { Channel } from "./channel.js";
import { WORKSPACE } from "./container-spec.js";
import { dockerExecutor } from "./exec.js";
import type { Executor } from "./sandbox.js";
import { packWorkspace, workspaceTar } from "./workspace.js";

/** A workspace up to this size is copied over the shim's channel, held in memory meanwhile. */
const OVER_CHANNEL = 8 * 2 ** 20;

async function connect(container: Docker.Container, attached: Channel | undefined): Promise<Executor> {
  const channel = attached ?? (await Channel.attach(container));
  if (await channel.hello()) return channel;
  return dockerExecutor(container, () => channel.close());
}

/** The repository's files, checked, and (when small) already packed for the channel. */
export function readWorkspace(repo: string | undefined, listed: Promise<string[]>, channel = true): Workspace {
  const files = listed.then((f) => {
    if (f.length > 50_000)
      throw new LanesError("usage", `${repo} has ${f.length} files; that is too many to copy into a sandbox`, {
        hint: "point --repo at a git repository (ignored files are not copied)",
      });
    return f;
  });
  // Packed while the container is claimed or started: it is on the critical path otherwise.
  const tar = files.then((f) => (channel && repo && f.length ? workspaceTar(repo, f, OVER_CHANNEL) : undefined));
  files.catch(() => {}); // awaited in connectAndCopy; never an unhandled rejection meanwhile
  tar.catch(() => {});
  return { repo, files, tar };
}

export interface Workspace {
  repo: string | undefined;
  files: Promise<string[]>;
  tar: Promise<Buffer | undefined>;
}

/**
 * The executor, with the repository copied in. A small workspace goes over the shim's channel
 * once it answers (a few ms); a bigger one, or a sandbox without the shim, is streamed through
 * Docker's archive upload (~80 ms even for a few files: the engine starts a helper per copy).
 */
export async function connectAndCopy(
  container: Docker.Container,
  attached: Channel | undefined,
  detached: boolean,
  ws: Workspace,
): Promise<{ executor: Executor; base?: Promise<string | undefined> }> {
  const { repo } = ws;
  const files = await ws.files;
  const upload = () =>
    container.putArchive(packWorkspace(repo!, files) as unknown as NodeJS.ReadableStream, { path: WORKSPACE });
  if (!repo || !files.length)
    return { executor: detached ? dockerExecutor(container) : await connect(container, attached) };
  if (detached) return { executor: (await Promise.all([dockerExecutor(container), upload()]))[0] };
  const [executor, tar] = await Promise.all([connect(container, attached), ws.tar]);
  // Over the channel the shim also makes the base commit, right after the copy.
  if (executor instanceof Channel && tar) return { executor, base: (await executor.untar(WORKSPACE, tar)).base };
  await upload();
  return { executor };
}
