/**
 * `network: allowlist`: the sandbox reaches only the allowlisted domains through lanes' egress
 * proxy (here the npm registry this host's npm uses), everything else is blocked and recorded,
 * names outside do not resolve, there is no direct route, and the proxy cannot be turned on the
 * host's loopback or Docker's private addresses even for a listed name.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EgressEvent, Sandbox } from "../../src/core/sandbox.js";
import { lanes } from "../helpers/cli.js";
import { requireImage } from "../helpers/docker.js";
import { LANES, demoProject, events } from "../helpers/run.js";
import { fixtureRepo, localHost, profile } from "../helpers/sandbox.js";

const host = localHost();
let sb: Sandbox;
const seen: EgressEvent[] = [];
const registry = new URL(spawnSync("npm", ["config", "get", "registry"], { encoding: "utf8" }).stdout.trim()).hostname;

beforeAll(async () => {
  requireImage();
  sb = await host.acquire({
    profileName: "default",
    profile: profile({
      network: "allowlist",
      allow: ["localhost:2375", "172.17.0.1:2375", "10.0.0.1", "100.64.0.1", "[::ffff:127.0.0.1]"],
    }),
    repo: fixtureRepo(),
  });
  sb.onEgress!((e) => seen.push(e));
}, 60_000);
afterAll(async () => {
  await sb?.release();
});

const sh = (command: string) => sb.exec({ command, timeoutMs: 60_000 });
const fetchPy = (url: string) =>
  `python3 -c "import urllib.request; urllib.request.urlopen('${url}', timeout=10)" 2>&1 | tail -1`;
/** Through the proxy even where NO_PROXY would not send it there: what a hostile agent would try. */
const viaProxy = (url: string) =>
  `env -u no_proxy -u NO_PROXY python3 -c "import os, urllib.request as u; u.build_opener(u.ProxyHandler({'http': os.environ['http_proxy']}))` +
  `.open('${url}', timeout=10)" 2>&1 | tail -1`;
const until = async (pred: () => boolean) => {
  for (let i = 0; i < 100 && !pred(); i++) await new Promise((r) => setTimeout(r, 50));
};

describe("network: allowlist", () => {
  it("reaches the host's npm registry through the proxy, and reports it", async () => {
    const r = await sh("npm view left-pad version");
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    await until(() => seen.some((e) => e.host === registry && e.allowed));
    expect(seen.find((e) => e.host === registry)).toMatchObject({ allowed: true, method: "CONNECT", port: 443 });
    expect(seen.find((e) => e.host === registry)!.bytesDown).toBeGreaterThan(0);
  });

  it("blocks any other domain with a clear error inside, and reports it", async () => {
    const r = await sh(fetchPy("https://example.com"));
    expect(r.stdout).toContain("403 Forbidden");
    await until(() => seen.some((e) => e.host === "example.com"));
    expect(seen.find((e) => e.host === "example.com")).toMatchObject({
      allowed: false,
      reason: "not in the allowlist",
    });
  });

  it("resolves no outside name and has no direct route out", async () => {
    const r = await sh(
      "timeout 5 getent hosts example.com || echo nodns; timeout 3 bash -c 'echo > /dev/tcp/1.1.1.1/443' 2>/dev/null || echo nodirect",
    );
    expect(r.stdout).toBe("nodns\nnodirect\n");
  });

  it("never connects to loopback or Docker's private addresses, even for a listed name", async () => {
    const loop = await sh(viaProxy("http://localhost:2375/version"));
    expect(loop.stdout).toContain("403");
    const gateway = await sh(viaProxy("http://172.17.0.1:2375/version"));
    expect(gateway.stdout).toContain("403");
    await until(() => seen.filter((e) => e.reason === "resolves to an internal address").length >= 2);
    expect(seen.filter((e) => e.reason === "resolves to an internal address").map((e) => e.host)).toEqual([
      "localhost",
      "172.17.0.1",
    ]);
  });
});

/** A raw request to the proxy (as a hostile agent would write it); prints the answer's status line. */
const toProxy = (request: string) =>
  `python3 -c "import socket,os; p=os.environ['https_proxy'].split('//')[1].rstrip('/').split(':'); ` +
  `s=socket.create_connection((p[0], int(p[1])), 5); s.sendall(b'${request}'); ` +
  `print(s.recv(200).split(bytes([13]))[0].decode())"`;
const connect = (target: string) => toProxy(`CONNECT ${target} HTTP/1.1\\r\\n\\r\\n`);

describe("egress by host and port, to global addresses only", () => {
  it("refuses a listed host on a port it does not list (CONNECT to the registry on 22)", async () => {
    expect((await sh(connect(`${registry}:22`))).stdout.trim()).toBe("HTTP/1.1 403 Forbidden");
    await until(() => seen.some((e) => e.port === 22));
    expect(seen.find((e) => e.port === 22)).toMatchObject({
      host: registry,
      allowed: false,
      reason: "port 22 is not allowed",
    });
  });

  it("refuses private, CGNAT and IPv4-mapped loopback addresses even when listed", async () => {
    for (const target of ["10.0.0.1:443", "100.64.0.1:443", "[::ffff:127.0.0.1]:443"])
      expect((await sh(connect(target))).stdout.trim()).toBe("HTTP/1.1 403 Forbidden");
    const internal = () => seen.filter((e) => e.reason === "resolves to an internal address").map((e) => e.host);
    await until(() => internal().includes("::ffff:127.0.0.1"));
    expect(internal()).toEqual(expect.arrayContaining(["10.0.0.1", "100.64.0.1", "::ffff:127.0.0.1"]));
  });

  it("answers a malformed request 400 and records it as an egress event", async () => {
    expect((await sh(toProxy("garbage\\r\\n\\r\\n"))).stdout.trim()).toBe("HTTP/1.1 400 Bad Request");
    await until(() => seen.some((e) => e.reason === "malformed request"));
    expect(seen.find((e) => e.reason === "malformed request")).toMatchObject({ allowed: false });
  });
});

describe("a detached allowlist sandbox", () => {
  it("audits the egress of `sandbox exec` and `sandbox run`, refused attempts included", async () => {
    const p = demoProject("sandbox:\n  profiles:\n    fetch: { network: allowlist }\n");
    const up = await lanes(["sandbox", "up", "--profile", "fetch", "--yes", "--json"], { cwd: p.repo, env: p.env });
    expect(up.code, up.stderr).toBe(0);
    const id = JSON.parse(up.stdout).id as string;
    try {
      const r = await lanes(["sandbox", "exec", id, "--", fetchPy("https://example.com")], { cwd: p.repo, env: p.env });
      expect(r.stdout).toContain("403 Forbidden");
      const once = await lanes(
        ["sandbox", "run", "--profile", "fetch", "--yes", "--", fetchPy("https://example.org")],
        {
          cwd: p.repo,
          env: p.env,
          timeoutMs: 60_000,
        },
      );
      expect(once.stdout).toContain("403 Forbidden");
      const audit = JSON.parse((await lanes(["audit", "ls", "--json"], { cwd: p.repo, env: p.env })).stdout);
      const egress = audit.filter((a: { action: string }) => a.action === "egress");
      expect(egress.map((a: { inputs: { host: string; sandbox: string } }) => a.inputs.host)).toEqual([
        "example.com",
        "example.org",
      ]);
      expect(egress[0].inputs.sandbox).toBe(id);
      expect(egress[0].outcome).toMatchObject({ allowed: false, reason: "not in the allowlist" });
    } finally {
      await lanes(["sandbox", "rm", id], { cwd: p.repo, env: p.env });
    }
  }, 120_000);
});

describe("a run in an allowlist sandbox", () => {
  it("records every egress attempt in the run's events, its trajectory and the audit trail; the plan shows the list", async () => {
    const script =
      "model: gpt-4.1-mini\nturns:\n" +
      "  - tools: [{ bash: { command: 'npm view left-pad version' } }]\n" +
      `  - tools: [{ bash: { command: "${fetchPy("https://example.com").replace(/"/g, '\\"')}" } }]\n` +
      "  - tools: [{ finish: { summary: done } }]\n";
    const p = demoProject(
      LANES().replace("    check: node --test\n", "    check: node --test\n    sandbox: fetch\n") +
        "sandbox:\n  profiles:\n    fetch: { network: allowlist }\n",
      script,
    );
    const plan = JSON.parse((await lanes(["plan", "x", "--lane", "t", "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(plan.sandbox.egress).toContain(registry);
    expect(plan.sandbox.relaxations).toContainEqual(expect.objectContaining({ field: "network", value: "allowlist" }));
    const r = await lanes(["run", "x", "--lane", "t", "--endpoint", `replay:${p.script}`, "--json", "--yes"], {
      cwd: p.repo,
      env: { ...p.env, CI: "true" },
      timeoutMs: 120_000,
    });
    const ev = events(r.stdout);
    const egress = ev.filter((e) => e.type === "egress");
    expect(egress.map((e) => [e.host, e.allowed])).toEqual([
      [registry, true],
      ["example.com", false],
    ]);
    const end = ev.at(-1)!;
    const traj = JSON.parse(
      spawnSync("cat", [join(p.env.LANES_HOME!, "runs", end.runId, "trajectory.json")], { encoding: "utf8" }).stdout,
    );
    expect(traj.egress.map((e: EgressEvent) => e.host)).toEqual([registry, "example.com"]);
    const audit = JSON.parse((await lanes(["audit", "ls", "--json"], { cwd: p.repo, env: p.env })).stdout);
    expect(audit.filter((a: { action: string }) => a.action === "egress")).toHaveLength(2);
  }, 150_000);
});
