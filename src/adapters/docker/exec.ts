/**
 * Running a command in a container. Docker cannot kill an exec, so the time limit is enforced
 * inside: `timeout` runs the command as the leader of its own process group and kills the whole
 * group. Output goes to files in /tmp first, so a background process that keeps stdout open
 * cannot hold the exec stream; the files are then printed head+tail with the cut marked.
 */
import type Docker from "dockerode";
import type { Duplex } from "node:stream";
import { randomBytes } from "node:crypto";
import { onFrames } from "./frames.js";
import {
  abortedObservation,
  truncationFormat,
  TRUNCATION_RE,
  type ExecRequest,
  type Observation,
} from "../../core/sandbox.js";

const WRAPPER = `
t=$1 lim=$2 id=$3 cmd=$4 bg=$5
if [ "$bg" = 1 ]; then
  setsid nohup bash -c "$cmd" >/tmp/lanes-bg-$id.log 2>&1 </dev/null & echo "started in the background: pid $!, output in /tmp/lanes-bg-$id.log"; exit 0
fi
o=/tmp/.lanes-$id.out e=/tmp/.lanes-$id.err
timeout -k 2 "$t" bash -c "$cmd" >"$o" 2>"$e" </dev/null & p=$!
echo $p >/tmp/.lanes-$id.pid
wait $p; c=$?
kill -KILL -- -$p 2>/dev/null # timeout leads the command's process group: what it left goes too
emit() {
  s=$(wc -c <"$1") # not stat: gVisor has no statx, and a failed size would lift the cap
  if [ "$s" -gt "$lim" ]; then
    h=$((lim / 2)); head -c $h "$1"; printf '${truncationFormat("bytes").replace(/\n/g, "\\n")}' $((s - 2 * h)); tail -c $h "$1"
  else cat "$1"; fi
}
emit "$o"; emit "$e" >&2
# Output goes through files here (no shim): a full /tmp loses it, and the result says so.
[ "$(df -Pk /tmp | awk 'NR==2{print $4}')" -gt 16 ] || printf '\\n[lanes: output lost: /tmp in the sandbox is full]\\n' >&2
rm -f "$o" "$e" /tmp/.lanes-$id.pid
exit $c
`;

export const DEFAULT_MAX_OUTPUT = 100_000;

export async function runExec(
  container: Docker.Container,
  req: ExecRequest,
  signal?: AbortSignal,
): Promise<Observation> {
  if (signal?.aborted) return abortedObservation();
  const id = randomBytes(6).toString("hex");
  const seconds = Math.max(0.001, req.timeoutMs / 1000).toFixed(3);
  const limit = req.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const started = performance.now();
  const onAbort = () => {
    // Kill the command's process group from a second exec; the first one then ends by itself.
    void rawExec(container, ["sh", "-c", `kill -TERM -- -$(cat /tmp/.lanes-${id}.pid) 2>/dev/null`]).catch(() => {});
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const result = await rawExec(
      container,
      ["sh", "-c", WRAPPER, "lanes", seconds, String(limit), id, req.command, req.background ? "1" : "0"],
      {
        cwd: req.cwd,
        env: req.env,
      },
    );
    const durationMs = performance.now() - started;
    const cut = (s: string) => Number(TRUNCATION_RE.exec(s)?.[1] ?? 0);
    // timeout(1) exits 124 on TERM and 137 when it had to KILL; only count it when the time is up.
    const timedOut = (result.exitCode === 124 || result.exitCode === 137) && durationMs >= req.timeoutMs;
    return {
      ...result,
      durationMs: Math.round(durationMs),
      timedOut,
      truncatedBytes: cut(result.stdout) + cut(result.stderr),
    };
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** One exec without the wrapper: argv as given, both streams collected in full. */
export async function rawExec(
  container: Docker.Container,
  argv: string[],
  opts: { cwd?: string | undefined; env?: Record<string, string> | undefined } = {},
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const exec = await container.exec({
    Cmd: argv,
    AttachStdout: true,
    AttachStderr: true,
    AttachStdin: false,
    Tty: false,
    ...(opts.cwd ? { WorkingDir: opts.cwd } : {}),
    ...(opts.env ? { Env: Object.entries(opts.env).map(([k, v]) => `${k}=${v}`) } : {}),
  });
  const stream = (await exec.start({ hijack: true, stdin: false, Tty: false })) as Duplex;
  const { stdout, stderr } = await demux(stream);
  // The exit code is only in inspect, and only once the process is gone.
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    const info = await exec.inspect();
    if (!info.Running && info.ExitCode !== null) return { exitCode: info.ExitCode, stdout, stderr };
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Collect both streams of an exec until it ends. */
function demux(stream: Duplex): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    onFrames(stream, (type, payload) => (type === 2 ? err : out).push(payload));
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve({ stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
    };
    stream.on("end", finish);
    stream.on("close", finish);
    stream.on("error", reject);
  });
}

/** Commands over Docker exec: for detached sandboxes and images without python3. */
export function dockerExecutor(container: Docker.Container, onClose: () => void = () => {}) {
  return { exec: (req: ExecRequest, signal?: AbortSignal) => runExec(container, req, signal), close: onClose };
}
