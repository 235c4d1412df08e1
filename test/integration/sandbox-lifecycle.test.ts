import { spawn, spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { beforeAll, describe, expect, it } from "vitest";
import { BIN, gitRepo, lanes, tempHome } from "../helpers/cli.js";
import { requireImage } from "../helpers/docker.js";
import { fixtureRepo, labelled, localHost, profile } from "../helpers/sandbox.js";

beforeAll(() => requireImage());

const waitFor = async (check: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
};

/** `lanes sandbox run -- sleep 120` in the background, once its container runs. */
async function sleepingRun() {
  const { dir, env } = tempHome();
  const repo = gitRepo(dir);
  const child = spawn(process.execPath, [BIN, "sandbox", "run", "--", "sleep 120"], {
    cwd: repo,
    env,
    stdio: "ignore",
  });
  const exited = new Promise<number | null>((r) => child.on("exit", r));
  const owner = `dev.lanes.owner=${hostname()}:${child.pid}`;
  // Running means started, and lanes attaches to stdin before it starts the container.
  expect(await waitFor(() => labelled(owner, "running").containers.length === 1, 20_000)).toBe(true);
  return { repo, env, child, exited, owner };
}

describe("no leaks", () => {
  it("leaves no container or volume after the CLI is SIGKILLed mid-command and lanes starts again", async () => {
    const { repo, env, child, exited, owner } = await sleepingRun();
    expect(labelled(owner).volumes).toHaveLength(1);
    child.kill("SIGKILL");
    await exited;
    // The next start of lanes reaps what the dead process left.
    const ls = await lanes(["sandbox", "ls", "--json"], { cwd: repo, env });
    expect(ls.code).toBe(0);
    expect(labelled(owner)).toEqual({ containers: [], volumes: [] });
  });

  it("ends a sandbox by itself as soon as its owning process dies (the stdin lifeline)", async () => {
    const { repo, env, child, owner } = await sleepingRun();
    child.kill("SIGKILL");
    expect(await waitFor(() => labelled(owner).containers.length === 0, 10_000)).toBe(true);
    await lanes(["sandbox", "gc"], { cwd: repo, env });
    expect(labelled(owner).volumes).toEqual([]);
  });

  it("releases the sandbox and exits 130 on SIGINT", async () => {
    const { child, exited, owner } = await sleepingRun();
    child.kill("SIGINT");
    const code = await exited;
    expect(code).toBe(130);
    expect(labelled(owner)).toEqual({ containers: [], volumes: [] });
  });

  it("--json sandbox run --diff puts the diff in the one JSON result", async () => {
    const { dir, env } = tempHome();
    const repo = gitRepo(dir, "repo", { "a.txt": "one\n" });
    const r = await lanes(["sandbox", "run", "--diff", "--json", "--", "echo two >> a.txt"], { cwd: repo, env });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout); // one JSON document: nothing after it
    expect(out).toMatchObject({ exitCode: 0, diff: expect.stringContaining("+two") });
  });

  it("removes expired sandboxes on gc, and only lanes' own containers", async () => {
    const { dir, env } = tempHome();
    const repo = gitRepo(dir);
    const up = await lanes(["sandbox", "up", "--json"], { cwd: repo, env });
    expect(up.code).toBe(0);
    const { id } = JSON.parse(up.stdout);
    const foreign = spawnSync(
      "docker",
      [
        "run",
        "-d",
        "--rm",
        "--network",
        "none",
        "--label",
        "dev.lanes.managed=false",
        "lanes-sandbox:latest",
        "sleep",
        "60",
      ],
      { encoding: "utf8" },
    ).stdout.trim();
    try {
      // A detached sandbox lives on until its TTL: an ordinary gc keeps it.
      await lanes(["sandbox", "gc"], { cwd: repo, env });
      expect(labelled(`dev.lanes.sandbox=${id}`).containers).toHaveLength(1);
      const rm = await lanes(["sandbox", "rm", id], { cwd: repo, env });
      expect(rm.code).toBe(0);
      expect(labelled(`dev.lanes.sandbox=${id}`)).toEqual({ containers: [], volumes: [] });
      expect(spawnSync("docker", ["inspect", foreign]).status).toBe(0);
    } finally {
      spawnSync("docker", ["rm", "-f", foreign]);
    }
  });

  it("reaps a sandbox whose expiry has passed", async () => {
    const host = localHost();
    const sb = await host.acquire({ profileName: "default", profile: profile({ ttl: "2s" }), detached: true });
    expect(labelled(`dev.lanes.sandbox=${sb.info.id}`).containers).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 2500));
    // Other lanes processes (a run in another test) reap too: whoever came first removed it.
    await host.reap();
    expect(labelled(`dev.lanes.sandbox=${sb.info.id}`)).toEqual({ containers: [], volumes: [] });
  });
});

describe("network: open", () => {
  it("gets its own user-defined bridge (never the default one), removed with the sandbox", async () => {
    const host = localHost();
    const sb = await host.acquire({ profileName: "open", profile: profile({ network: "open" }) });
    try {
      const nets = spawnSync(
        "docker",
        ["inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", sb.info.containerId],
        { encoding: "utf8" },
      ).stdout.trim();
      expect(nets).toBe(`lanes-net-${sb.info.id}`);
      expect(
        (await sb.exec({ command: "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort", timeoutMs: 5000 }))
          .stdout,
      ).toBe("eth0\nlo\n");
    } finally {
      await sb.release();
    }
    expect(spawnSync("docker", ["network", "inspect", `lanes-net-${sb.info.id}`]).status).not.toBe(0);
  });
});

describe("warm pool", () => {
  it("acquires from the pool, never reuses a container, and refills behind the claim", async () => {
    const host = localHost();
    const p = profile({ pool: 2 });
    const repo = fixtureRepo();
    const profileName = `pooltest${process.pid}`;
    const first = await host.acquire({ profileName, profile: p, repo });
    expect(first.info.fromPool).toBe(false); // nothing warm yet: cold, and a refill starts
    await host.settle();
    const warm = () => labelled(`dev.lanes.profile=${profileName}`).containers.length;
    expect(warm()).toBe(3); // the one in use + 2 warm
    const second = await host.acquire({ profileName, profile: p, repo });
    expect(second.info.fromPool).toBe(true);
    expect(second.info.containerId).not.toBe(first.info.containerId);
    expect((await second.exec({ command: "cat README.md", timeoutMs: 5000 })).stdout).toBe("# fixture\n");
    await host.settle();
    expect(warm()).toBe(4); // two in use + 2 warm again
    await first.release();
    await second.release();
    expect(warm()).toBe(2);
    await host.reap({ all: false });
    for (const s of await host.list()) if (s.profile === profileName) await host.remove(s);
    expect(warm()).toBe(0);
  });
});
