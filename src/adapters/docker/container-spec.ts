/**
 * The Docker create options for a sandbox: hardened by default, relaxed only where the profile
 * says so. An *attached* sandbox runs (under Init) `timeout TTL python3 shim.py` — or `cat` where
 * the image has no python3 — on an OpenStdin + StdinOnce stdin: the lanes process holding that
 * stdin drives it, and when that process ends or dies, stdin closes and the sandbox ends with
 * it. A *detached* one (`lanes sandbox up`) just sleeps until its TTL. Either way the TTL ends it
 * even if lanes never runs again.
 */
import type Docker from "dockerode";
import { parseDuration, parseMemory } from "../../core/sandbox.js";
import type { Profile } from "../config/schema.js";
import { SHIM_SOURCE } from "./channel.js";

const ATTACHED_PID1 =
  'if command -v python3 >/dev/null 2>&1; then exec timeout "$1" python3 -S -u -c "$2"; else exec timeout "$1" cat; fi';

export const WORKSPACE = "/workspace";
/** Host threads gVisor's sentry and gofer may use on top of the sandbox's own processes. */
const GVISOR_THREADS = 512;
export const SANDBOX_USER = "1000:1000";

/**
 * The local driver's options for the workspace volume: a tmpfs of \`disk\` bytes, owned by the
 * sandbox user (enforced by the filesystem, on any engine and any backing filesystem; overlay2's
 * own size limit needs XFS project quotas, which few hosts have). 0 = a plain directory on disk.
 */
function workspaceFs(disk: number): Record<string, string> {
  if (!disk) return {};
  return { type: "tmpfs", device: "tmpfs", o: `size=${disk},uid=1000,gid=1000,mode=0755,nosuid,nodev` };
}

export function containerOptions(opts: {
  name: string;
  profile: Profile;
  labels: Record<string, string>;
  volume: string;
  network: string | undefined;
  detached: boolean;
  /** Extra environment (the egress proxy of an allowlist sandbox). */
  env?: string[];
  /** Start without Docker's network setup (network none, runc, an image that resolves localhost). */
  bare?: boolean;
}): Docker.ContainerCreateOptions {
  const { profile } = opts;
  const ttlSeconds = Math.ceil(parseDuration(profile.ttl) / 1000);
  // A bounded workspace is a tmpfs, whose pages the kernel charges to the sandbox's memory
  // cgroup: the cgroup gets room for both, so filling the workspace ends in ENOSPC, not the OOM killer.
  const disk = profile.disk === "none" ? 0 : parseMemory(profile.disk);
  const memory = parseMemory(profile.memory) + disk;
  return {
    name: opts.name,
    Image: profile.image,
    Cmd: opts.detached
      ? ["sleep", String(ttlSeconds)]
      : ["sh", "-c", ATTACHED_PID1, "lanes", String(ttlSeconds), SHIM_SOURCE],
    User: SANDBOX_USER,
    WorkingDir: WORKSPACE,
    Env: [
      "HOME=/home/lanes",
      "LANG=C.UTF-8",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      ...(opts.env ?? []),
    ],
    Labels: opts.labels,
    OpenStdin: !opts.detached,
    StdinOnce: !opts.detached,
    AttachStdin: !opts.detached,
    Tty: false,
    // Disabled, Docker skips its network setup (a hook that runs the daemon's binary: ~170 ms a
    // start) and its /etc/hosts; runc still gives the container a namespace of its own with
    // loopback only, as network none does.
    NetworkDisabled: opts.bare === true,
    HostConfig: {
      ...(profile.runtime !== "runc" ? { Runtime: profile.runtime } : {}),
      Init: true,
      AutoRemove: true,
      CapDrop: ["ALL"],
      CapAdd: profile.capAdd,
      SecurityOpt: ["no-new-privileges"],
      ReadonlyRootfs: profile.readOnlyRoot,
      Tmpfs: {
        "/tmp": "rw,nosuid,nodev,size=256m",
        "/home/lanes": "rw,nosuid,nodev,size=64m,uid=1000,gid=1000,mode=0700",
      },
      // Docker creates the named volume with these labels, saving a round trip.
      Mounts: [
        {
          Type: "volume",
          Source: opts.volume,
          Target: WORKSPACE,
          VolumeOptions: {
            Labels: opts.labels,
            NoCopy: false,
            DriverConfig: { Name: "local", Options: workspaceFs(disk) },
          },
        },
      ],
      // Under gVisor the pids cgroup counts the sandbox kernel's own host threads, not the code's
      // processes: those are bounded by RLIMIT_NPROC, which gVisor enforces per sandbox (under runc
      // it would count every uid-1000 process on the host, so there the cgroup does the job).
      PidsLimit: profile.runtime === "runsc" ? profile.pids + GVISOR_THREADS : profile.pids,
      ...(profile.runtime === "runsc" ? { Ulimits: [{ Name: "nproc", Soft: profile.pids, Hard: profile.pids }] } : {}),
      Memory: memory,
      MemorySwap: memory, // no swap: a memory hog is killed, not slowed
      NanoCpus: Math.round(profile.cpus * 1e9),
      NetworkMode: opts.network ?? "none",
      // allowlist: names outside resolve nowhere (the embedded DNS forwards to a dead loopback);
      // the proxy resolves the allowed ones itself.
      ...(profile.network === "allowlist" ? { Dns: ["127.0.0.1"] } : {}),
      PublishAllPorts: false,
      PortBindings: {},
      Privileged: false,
    },
  };
}
