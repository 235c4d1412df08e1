/** The base commit: the copied workspace as git's first commit, what a run's diff is taken against. */
import { LanesError } from "../../core/errors.js";
import { WORKSPACE } from "./container-spec.js";
import { WHOLE, type Executor } from "./sandbox.js";

const SCRIPT = [
  "git init -q --template= .", // no sample hooks to copy
  "git add -A -f",
  "git -c user.name=lanes -c user.email=lanes@localhost -c commit.gpgsign=false commit -q --no-verify --allow-empty -m 'lanes: base'",
  // The new commit's hash from its ref file, read by the shell: one git process fewer per sandbox
  // (git rev-parse where refs are not plain files, e.g. a reftable repository).
  '{ { read -r ref < .git/HEAD && read -r hash < ".git/${ref#ref: }" && echo "$hash"; } 2>/dev/null || git rev-parse HEAD; }',
].join(" && ");

export async function commitBase(executor: Executor): Promise<string> {
  const r = await executor.exec({ command: SCRIPT, cwd: WORKSPACE, timeoutMs: 120_000, maxOutputBytes: WHOLE });
  if (r.exitCode !== 0)
    throw new LanesError("sandbox", `could not prepare the workspace: ${r.stderr.trim() || `exit ${r.exitCode}`}`, {
      hint: "the sandbox image needs git (see templates/sandbox/Dockerfile)",
    });
  return r.stdout.trim();
}
