import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { gitRepo, lanes, tempHome } from "../helpers/cli.js";
import { requireImage } from "../helpers/docker.js";
import { CERTS, REMOTE_URL, requireRemote, withRemoteHost } from "../helpers/remote.js";

let home: ReturnType<typeof tempHome>;
let repo: string;

beforeAll(async () => {
  requireImage();
  requireRemote();
  home = tempHome();
  repo = gitRepo(home.dir, "repo", { "src/app.txt": "one\n" });
  // The remote engine starts with no images: copy ours over with lanes itself.
  const add = await lanes(
    [
      "hosts",
      "add",
      "remote",
      "--url",
      REMOTE_URL,
      "--tls-ca",
      `${CERTS}/ca.pem`,
      "--tls-cert",
      `${CERTS}/client.pem`,
      "--tls-key",
      `${CERTS}/client-key.pem`,
    ],
    { cwd: repo, env: home.env },
  );
  expect(add.code, add.stderr).toBe(0);
  const push = await lanes(["images", "push", "lanes-sandbox:latest", "--host", "remote", "--json"], {
    cwd: repo,
    env: home.env,
    timeoutMs: 120_000,
  });
  expect(push.code, push.stderr).toBe(0);
  expect(JSON.parse(push.stdout).bytes).toBeGreaterThan(10_000_000);
}, 150_000);

describe("a remote engine over mutual TLS", () => {
  it("is registered in user settings with absolute certificate paths", () => {
    const saved = JSON.parse(readFileSync(join(home.env.LANES_CONFIG_DIR!, "config.json"), "utf8"));
    expect(saved.hosts.remote).toEqual({
      url: REMOTE_URL,
      tls: { ca: `${CERTS}/ca.pem`, cert: `${CERTS}/client.pem`, key: `${CERTS}/client-key.pem` },
    });
  });

  it("reports version, images and capacity with hosts check", async () => {
    const ok = await lanes(["hosts", "check", "remote", "--json"], { cwd: repo, env: home.env });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      name: "remote",
      url: REMOTE_URL,
      apiVersion: expect.stringMatching(/^\d+\.\d+$/),
      capacity: { sandboxes: 4 },
    });
  });

  it("runs a command with the repository copied in and returns the diff, like the local engine", async () => {
    const r = await lanes(["sandbox", "run", "--host", "remote", "--diff", "--", "id -u; echo two >> src/app.txt"], {
      cwd: repo,
      env: home.env,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^1000\ndiff --git a\/src\/app.txt b\/src\/app.txt\n/);
    expect(r.stdout).toContain(" one\n+two\n");
  });

  it("keeps a detached sandbox there that exec and rm reach by id", async () => {
    const up = await lanes(["sandbox", "up", "--host", "remote", "--json"], { cwd: repo, env: home.env });
    expect(up.code, up.stderr).toBe(0);
    const { id, host } = JSON.parse(up.stdout);
    expect(host).toBe("remote");
    const ex = await lanes(["sandbox", "exec", id, "--", "cat src/app.txt; exit 4"], { cwd: repo, env: home.env });
    expect([ex.code, ex.stdout]).toEqual([4, "one\n"]);
    const ls = JSON.parse((await lanes(["sandbox", "ls", "--json"], { cwd: repo, env: home.env })).stdout);
    expect(ls.sandboxes.find((s: { id: string }) => s.id === id)).toMatchObject({
      host: "remote",
      state: "running",
      owner: "detached",
    });
    expect((await lanes(["sandbox", "rm", id], { cwd: repo, env: home.env })).code).toBe(0);
    const after = JSON.parse((await lanes(["sandbox", "ls", "--json"], { cwd: repo, env: home.env })).stdout);
    expect(after.sandboxes.some((s: { id: string }) => s.id === id)).toBe(false);
  });
});

describe("remote failures each get their own message and exit 5", () => {
  const attempt = async (url: string, cert = "client") => {
    const h = tempHome();
    withRemoteHost(h.env.LANES_CONFIG_DIR!, "far", cert);
    const cfg = JSON.parse(readFileSync(join(h.env.LANES_CONFIG_DIR!, "config.json"), "utf8"));
    cfg.hosts.far.url = url;
    (await import("node:fs")).writeFileSync(join(h.env.LANES_CONFIG_DIR!, "config.json"), JSON.stringify(cfg));
    return lanes(["hosts", "check", "far", "--timeout", "2000"], { cwd: repo, env: h.env });
  };

  it("a client certificate from another CA", async () => {
    const r = await attempt(REMOTE_URL, "wrong-client");
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("the engine rejected our client certificate");
  });
  it("a refused connection", async () => {
    const r = await attempt("tcp://10.77.0.2:2399");
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("connection refused");
  });
  it("an engine that does not answer (time-out)", async () => {
    const r = await attempt("tcp://10.77.0.2:2398");
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("timed out");
    expect(r.ms).toBeLessThan(6000);
  });
  it("registering a host with a wrong certificate fails and stores nothing", async () => {
    const h = tempHome();
    const r = await lanes(
      [
        "hosts",
        "add",
        "bad",
        "--url",
        REMOTE_URL,
        "--tls-ca",
        `${CERTS}/ca.pem`,
        "--tls-cert",
        `${CERTS}/wrong-client.pem`,
        "--tls-key",
        `${CERTS}/wrong-client-key.pem`,
      ],
      { cwd: repo, env: h.env },
    );
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("host bad was not added");
    const ls = await lanes(["hosts", "ls", "--json"], { cwd: repo, env: h.env });
    expect(JSON.parse(ls.stdout).map((x: { name: string }) => x.name)).toEqual(["local"]);
  });
});
