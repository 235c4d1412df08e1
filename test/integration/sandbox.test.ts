import { spawnSync } from "node:child_process";
import Docker from "dockerode";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../../src/core/sandbox.js";
import { requireImage } from "../helpers/docker.js";
import { fixtureRepo, localHost, profile } from "../helpers/sandbox.js";

let sb: Sandbox;
let repo: string;
const host = localHost();

beforeAll(async () => {
  requireImage();
  repo = fixtureRepo();
  sb = await host.acquire({
    profileName: "default",
    profile: profile({ pids: 64, memory: "256m", disk: "64m" }),
    repo,
  });
});
afterAll(async () => {
  await sb?.release();
});

const sh = (command: string, timeoutMs = 10_000) => sb.exec({ command, timeoutMs });

describe("the default image builds real projects", () => {
  it("has the current Node LTS with npm, and Python with pip and venv", async () => {
    const r = await sh(
      "node --version; npm --version; pip --version; python3 -m venv .venv && .venv/bin/pip --version; rm -rf .venv",
      30_000,
    );
    const [node, npm, pip, venvPip] = r.stdout.trim().split("\n");
    expect(node).toMatch(/^v24\./);
    expect(npm).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pip).toMatch(/^pip \d+/);
    expect(venvPip).toContain("/workspace/.venv/");
  });
});

describe("isolation inside a real sandbox", () => {
  it("runs as uid 1000", async () => {
    expect((await sh("id -u; id -g")).stdout).toBe("1000\n1000\n");
  });
  it("cannot write / or /etc (read-only root)", async () => {
    const r = await sh("touch /x; echo $?; touch /etc/x; echo $?");
    expect(r.stdout).toBe("1\n1\n");
    expect(r.stderr).toContain("Read-only file system");
  });
  it("has no capabilities and no-new-privileges", async () => {
    const status = (await sh("cat /proc/self/status")).stdout;
    for (const cap of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"])
      expect(status).toMatch(new RegExp(`${cap}:\\s+0000000000000000`));
    expect(status).toMatch(/NoNewPrivs:\s+1/);
  });
  it("cannot see host files or the Docker socket", async () => {
    const marker = join(mkdtempSync(join(tmpdir(), "lanes-host-")), "host-only-marker");
    writeFileSync(marker, "x");
    const r = await sh(
      `test -e ${marker} && echo visible; ls /var/run/docker.sock /run/docker.sock 2>&1; find / -xdev -name 'docker.sock' 2>/dev/null | wc -l`,
    );
    expect(r.stdout).not.toContain("visible");
    expect(r.stdout).toContain("No such file or directory");
    expect(r.stdout.trim().split("\n").pop()).toBe("0");
  });
  it("has only loopback with network none, and cannot resolve or connect", async () => {
    const r = await sh(
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; getent hosts example.com || echo noresolve; timeout 3 bash -c 'echo > /dev/tcp/10.77.0.2/2376' 2>/dev/null || echo noconnect",
    );
    expect(r.stdout).toBe("lo\nnoresolve\nnoconnect\n");
  });
  it("starts without Docker's network setup, and localhost still answers on 127.0.0.1 first", async () => {
    const cfg = spawnSync(
      "docker",
      ["inspect", "-f", "{{.Config.NetworkDisabled}} {{.HostConfig.NetworkMode}}", sb.info.containerId],
      {
        encoding: "utf8",
      },
    );
    expect(cfg.stdout.trim()).toBe("true none");
    const r = await sh(
      "getent ahosts localhost | head -1 | cut -d' ' -f1; " +
        `python3 -c "import socket; s=socket.create_server(('localhost', 0)); c=socket.create_connection(('127.0.0.1', s.getsockname()[1])); print('served', s.getsockname()[0])"; ` +
        "getent hosts $(hostname) >/dev/null && echo hostname",
    );
    expect(r.stdout).toBe("127.0.0.1\nserved 127.0.0.1\nhostname\n");
  });
  it("keeps Docker's network setup for an image that does not say it resolves localhost", async () => {
    const base = await host.acquire({ profileName: "default", profile: profile({ image: "lanes-base:bookworm-3" }) });
    try {
      const cfg = spawnSync("docker", ["inspect", "-f", "{{.Config.NetworkDisabled}}", base.info.containerId], {
        encoding: "utf8",
      });
      expect(cfg.stdout.trim()).toBe("false");
      const r = await base.exec({
        command: "grep -c localhost /etc/hosts; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
        timeoutMs: 10_000,
      });
      expect(r.stdout).toBe("2\nlo\n");
    } finally {
      await base.release();
    }
  });
  it("stops a fork bomb at the pids limit and survives it", async () => {
    const r = await sh("for i in $(seq 1 300); do sleep 30 & done 2>/dev/null; ps -e --no-headers | wc -l", 8_000);
    expect(Number(r.stdout.trim().split("\n").pop())).toBeLessThanOrEqual(64);
    await sh("pkill -u 1000 sleep || true");
    expect((await sh("echo alive")).stdout).toBe("alive\n");
  });
  it("kills a memory hog at the memory limit and survives it", async () => {
    const r = await sh("python3 -c 'a = bytearray(768 * 1024 * 1024); print(len(a))'", 20_000);
    expect(r.exitCode).toBe(137); // SIGKILL from the OOM killer
    expect(r.stdout).toBe("");
    expect((await sh("echo alive")).stdout).toBe("alive\n");
  });
});

describe("workspace copy", () => {
  it("brings tracked files with their modes, symlinks and untracked files, owned by the sandbox user", async () => {
    const r = await sh(
      "stat -c '%a %u %n' run.sh src/lib/math.js notes.txt; readlink link.md; cat notes.txt; ./run.sh",
    );
    expect(r.stdout).toBe("755 1000 run.sh\n644 1000 src/lib/math.js\n644 1000 notes.txt\nREADME.md\nuntracked\nran\n");
  });
  it("copies a workspace too big for the shim's channel (over 8 MB) through Docker, byte for byte", async () => {
    const big = fixtureRepo();
    const bytes = Buffer.alloc(9 * 2 ** 20);
    for (let i = 0; i < bytes.length; i += 4096) bytes.writeUInt32LE(i, i); // not all zeros
    writeFileSync(join(big, "blob.bin"), bytes);
    const other = await host.acquire({ profileName: "default", profile: profile({ disk: "64m" }), repo: big });
    try {
      const r = await other.exec({
        command: "sha256sum blob.bin; stat -c '%a %u' run.sh; git status --porcelain; test -e .git/logs && echo by git",
        timeoutMs: 10_000,
      });
      const sha = createHash("sha256").update(bytes).digest("hex");
      expect(r.stdout).toBe(`${sha}  blob.bin\n755 1000\nby git\n`); // the base commit made with git here
    } finally {
      await other.release();
    }
  });
  it("makes the base commit git itself would make of the copied files", async () => {
    const odd = fixtureRepo();
    mkdirSync(join(odd, "dir with space", "ünï", "deep"), { recursive: true });
    writeFileSync(join(odd, "dir with space", "ünï", "deep", "ç a.txt"), "accents\n");
    writeFileSync(join(odd, "empty"), "");
    writeFileSync(join(odd, "dir with space", "tool"), "#!/bin/sh\n", { mode: 0o755 });
    const other = await host.acquire({ profileName: "default", profile: profile({ disk: "64m" }), repo: odd });
    try {
      // Clean and consistent; made by the shim (git would have left a reflog); and the same tree
      // as git makes of the same files in a fresh repository.
      const r = await other.exec({
        command:
          "git fsck --strict --no-progress && git status --porcelain && git rev-parse HEAD && test ! -e .git/logs && " +
          "mkdir /tmp/same && git ls-files -z | xargs -0 cp -P -p --parents -t /tmp/same && " +
          "git -C /tmp/same init -q && git -C /tmp/same add -A -f && git -C /tmp/same write-tree && " +
          "git rev-parse 'HEAD^{tree}' && git ls-files | wc -l",
        timeoutMs: 20_000,
      });
      expect(r.stderr, r.stdout).toBe("");
      expect(r.exitCode, r.stdout).toBe(0);
      const [head, tree, same, count] = r.stdout.trim().split("\n");
      expect(head).toBe(other.info.baseCommit);
      expect(tree).toBe(same);
      expect(Number(count)).toBeGreaterThanOrEqual(8);
    } finally {
      await other.release();
    }
  });
  it("leaves ignored files out", async () => {
    expect((await sh("test -e debug.log && echo present || echo absent")).stdout).toBe("absent\n");
  });
  it("lets the sandbox user create files in copied directories", async () => {
    expect((await sh("touch src/lib/new.js && echo ok")).stdout).toBe("ok\n");
    await sh("rm src/lib/new.js");
  });
  it("diffs exactly the edit, as a patch that applies to the host checkout", async () => {
    await sh("sed -i 's/a - b/a + b/' src/lib/math.js");
    await sb.writeFile("src/lib/extra.js", "export const one = 1;\n");
    const patch = await sb.diff();
    expect(patch.match(/^diff --git /gm)).toHaveLength(2);
    expect(patch).toContain("-export const add = (a, b) => a - b;\n+export const add = (a, b) => a + b;\n");
    const copy = mkdtempSync(join(tmpdir(), "lanes-apply-"));
    cpSync(repo, copy, { recursive: true, verbatimSymlinks: true });
    writeFileSync(join(copy, "p.diff"), patch);
    const apply = spawnSync("git", ["apply", "p.diff"], { cwd: copy, encoding: "utf8" });
    expect(apply.status, apply.stderr).toBe(0);
    expect(readFileSync(join(copy, "src/lib/math.js"), "utf8")).toBe("export const add = (a, b) => a + b;\n");
    expect(readFileSync(join(copy, "src/lib/extra.js"), "utf8")).toBe("export const one = 1;\n");
    const status = spawnSync("git", ["status", "--porcelain"], { cwd: copy, encoding: "utf8" }).stdout;
    expect(status.split("\n").filter(Boolean).sort()).toEqual(
      ["?? link.md", "?? notes.txt", "?? p.diff", "?? src/lib/extra.js", " M src/lib/math.js"].sort(),
    );
  });
  it("reads back what it writes, and refuses paths outside the workspace", async () => {
    await sb.writeFile("deep/a/b.txt", "bytes\u0000\u00ff");
    expect((await sb.readFile("deep/a/b.txt")).equals(Buffer.from("bytes\u0000\u00ff"))).toBe(true);
    await expect(sb.writeFile("/etc/passwd", "x")).rejects.toThrow(/outside the workspace/);
    await expect(sb.readFile("no/such/file")).rejects.toThrow(/no such file/);
  });
});

describe("exec", () => {
  it("returns the exit code, with stdout and stderr separate", async () => {
    const r = await sh("echo out; echo err >&2; exit 3");
    expect([r.exitCode, r.stdout, r.stderr, r.timedOut]).toEqual([3, "out\n", "err\n", false]);
  });
  it("stops `sleep 100` with a 1 s limit in about a second, and the process is gone", async () => {
    const r = await sh("sleep 100", 1000);
    expect(r.timedOut).toBe(true);
    expect(r.durationMs).toBeGreaterThanOrEqual(1000);
    expect(r.durationMs).toBeLessThan(3000);
    expect((await sh("ps -eo comm= | grep -c '^sleep$' || true")).stdout.trim()).toBe("0");
  });
  it("truncates 50 MB of output head+tail and marks the cut", async () => {
    const r = await sb.exec({
      command: "head -c 50000000 /dev/zero | tr '\\0' a; printf END",
      timeoutMs: 30_000,
      maxOutputBytes: 10_000,
    });
    expect(r.exitCode).toBe(0);
    expect(r.truncatedBytes).toBe(50_000_003 - 10_000);
    expect(r.stdout).toMatch(/^a{5000}\n\[\.\.\. lanes: 49990003 bytes truncated \.\.\.\]\na{4997}END$/);
  });
  it("is not held open by a background process that keeps stdout", async () => {
    const r = await sh("sleep 30 & echo started");
    expect(r.stdout).toBe("started\n");
    expect(r.durationMs).toBeLessThan(2000);
    await sh("pkill sleep || true");
  });
  it("stops a running command when the caller aborts", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const r = await sb.exec({ command: "sleep 60", timeoutMs: 60_000 }, ac.signal);
    expect(r.durationMs).toBeLessThan(5000);
    expect(r.exitCode).not.toBe(0);
  });
});

describe("bounds on disk, processes and output", () => {
  it("keeps the workspace at its disk limit: ENOSPC inside, nothing on the host disk", async () => {
    const r = await sh(
      "df -k --output=size /workspace | tail -1; dd if=/dev/zero of=big bs=1M count=100 2>&1; echo rc=$?",
    );
    const [size] = r.stdout.trim().split("\n");
    expect(Number(size)).toBe(64 * 1024);
    expect(r.stdout).toContain("No space left on device");
    expect(r.stdout).toMatch(/rc=1$/m);
    await sh("rm -f big");
  });
  it("still returns a command's output when /tmp is full", async () => {
    await sh("dd if=/dev/zero of=/tmp/fill bs=1M 2>/dev/null; true");
    expect((await sh("df -k --output=avail /tmp | tail -1")).stdout.trim()).toBe("0");
    expect((await sh("echo ok; echo err >&2")).stdout).toBe("ok\n");
    await sh("rm -f /tmp/fill");
  });
  it("kills what a command left behind, in its group or not, but keeps a background process asked for", async () => {
    await sh("sleep 300 & setsid sleep 301 & (sleep 302 &) ; echo started");
    await sb.exec({ command: "sleep 303", timeoutMs: 5000, background: true });
    // "bash -c sleep 303" until bash has exec'd sleep: match the command, not the program name.
    const left = (await sh("ps -eo args=")).stdout;
    expect(left).toContain("sleep 303");
    expect(left).not.toMatch(/sleep 30[012]/);
    await sh("pkill sleep || true");
  });
  it("answers at once when the process limit leaves no room to start a command, and goes on", async () => {
    const small = await host.acquire({ profileName: "default", profile: profile({ pids: 16, disk: "64m" }), repo });
    try {
      await small.exec({
        command: "for i in $(seq 1 40); do sleep 60 & done 2>/dev/null; wait",
        timeoutMs: 5000,
        background: true,
      });
      // Until the sandbox's pids cgroup (cgroup v1, as Docker sets it up here) is full.
      const cg = `/sys/fs/cgroup/pids/docker/${small.info.containerId}`;
      const used = () => Number(readFileSync(`${cg}/pids.current`, "utf8"));
      for (const t0 = Date.now(); used() < 16 && Date.now() - t0 < 10_000;) await new Promise((r) => setTimeout(r, 20));
      expect(used()).toBe(16);
      const full = await small.exec({ command: "echo hi", timeoutMs: 5000 });
      expect(full.exitCode).toBe(127);
      expect(full.stderr).toMatch(/cannot start the command/);
      expect(full.durationMs).toBeLessThan(3000);
    } finally {
      await small.release();
    }
  });
  it("answers `echo ok` right after a fork bomb", async () => {
    const bomb = await sh("bomb() { bomb | bomb & }; bomb; sleep 2", 5000);
    expect(bomb.exitCode).not.toBe(-1);
    const r = await sh("echo ok; ps -e --no-headers | wc -l");
    expect(r.stdout.split("\n")[0]).toBe("ok");
    expect(Number(r.stdout.split("\n")[1])).toBeLessThan(8);
  });
});

describe("a sandbox with the default profile", () => {
  it("has a 2 GB workspace: 3 GB written fail with ENOSPC at the limit", async () => {
    const big = await host.acquire({ profileName: "default", profile: profile(), repo });
    try {
      const r = await big.exec({
        command:
          "dd if=/dev/zero of=big bs=4M count=768 2>&1 | grep -o 'No space.*'; ls -l big | cut -d' ' -f5; rm -f big",
        timeoutMs: 60_000,
      });
      expect(r.stdout).toContain("No space left on device");
      const bytes = Number(r.stdout.trim().split("\n").pop());
      expect(bytes).toBeGreaterThan(2 * 1024 ** 3 - 64 * 1024 ** 2);
      expect(bytes).toBeLessThanOrEqual(2 * 1024 ** 3);
    } finally {
      await big.release();
    }
  });
  it("says output was lost when a detached sandbox's /tmp is full (commands there go through files)", async () => {
    const d = await host.acquire({ profileName: "default", profile: profile({ disk: "64m" }), repo, detached: true });
    try {
      await d.exec({ command: "dd if=/dev/zero of=/tmp/fill bs=1M 2>/dev/null; true", timeoutMs: 20_000 });
      const r = await d.exec({ command: "echo ok", timeoutMs: 10_000 });
      expect(r.stderr).toContain("[lanes: output lost: /tmp in the sandbox is full]");
    } finally {
      await d.release();
    }
  });
});

describe("under gVisor (runtime: runsc, the strict profile)", () => {
  let g: Sandbox;
  const gsh = (command: string, timeoutMs = 20_000) => g.exec({ command, timeoutMs });
  beforeAll(async () => {
    g = await host.acquire({ profileName: "strict", profile: profile({ runtime: "runsc", disk: "64m" }), repo });
  });
  afterAll(async () => {
    await g?.release();
  });

  it("runs under the gVisor kernel, as uid 1000, with no capabilities", async () => {
    const r = await gsh("dmesg 2>/dev/null | head -1; id -u; grep CapEff /proc/self/status");
    expect(r.stdout).toMatch(/gVisor/);
    expect(r.stdout).toContain("\n1000\n");
    expect(r.stdout).toMatch(/CapEff:\s+0000000000000000/);
  });
  it("cannot write / or /etc, and cannot see host files or the Docker socket", async () => {
    const r = await gsh("touch /x; echo $?; touch /etc/x; echo $?; find / -xdev -name docker.sock 2>/dev/null | wc -l");
    expect(r.stdout).toBe("1\n1\n0\n");
  });
  it("has only loopback with network none", async () => {
    const r = await gsh(
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; timeout 3 bash -c 'echo > /dev/tcp/10.77.0.2/2376' 2>/dev/null || echo noconnect",
    );
    expect(r.stdout).toBe("lo\nnoconnect\n");
    // gVisor's network stack takes the namespace Docker sets up (its ::1 is not usable without it)
    const cfg = spawnSync("docker", ["inspect", "-f", "{{.Config.NetworkDisabled}}", g.info.containerId], {
      encoding: "utf8",
    });
    expect(cfg.stdout.trim()).toBe("false");
  });
  it("`sandbox exec` (a Docker exec, not the shim) cuts output at its cap and prints only the command's", async () => {
    const exec = host.executorFor(new Docker().getContainer(g.info.containerId));
    const big = await exec.exec({ command: "python3 -c \"print('x' * 5_000_000)\"; echo err >&2", timeoutMs: 20_000 });
    expect(big.stdout.length).toBeLessThan(120_000);
    expect(big.truncatedBytes).toBeGreaterThan(4_800_000);
    expect(big.stderr).toBe("err\n"); // no wrapper errors (gVisor has no statx)
  });
  it("returns exit codes, keeps the workspace copy and its disk limit, and enforces time limits", async () => {
    const r = await gsh(
      "cat README.md; ./run.sh; dd if=/dev/zero of=big bs=1M count=100 2>&1 | grep -o 'No space.*'; rm -f big; exit 3",
    );
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe("# fixture\nran\nNo space left on device\n");
    const slow = await gsh("sleep 100", 1000);
    expect(slow.timedOut).toBe(true);
    expect(slow.durationMs).toBeLessThan(5000);
  });

  // A limit reached under gVisor ends the whole sandbox (the cgroup counts its kernel too): the
  // host is safe, the run fails with exit 5. Each of these gets a sandbox of its own.
  const ended = async (command: string) => {
    const one = await host.acquire({
      profileName: "strict",
      profile: profile({ runtime: "runsc", pids: 64, memory: "256m", disk: "64m" }),
      repo,
    });
    try {
      await expect(one.exec({ command, timeoutMs: 20_000 })).rejects.toThrow(/control channel closed/);
    } finally {
      await one.release().catch(() => {});
    }
  };
  it("a memory hog past the limit ends that sandbox", () =>
    ended("python3 -c 'a = bytearray(768 * 1024 * 1024); print(len(a))'"));
  it("a fork bomb past the pids limit ends that sandbox", () =>
    ended("for i in $(seq 1 300); do sleep 30 & done 2>/dev/null; sleep 5"));
});
