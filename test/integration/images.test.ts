import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { gitRepo, lanes, tempHome, userSettings } from "../helpers/cli.js";
import { requireImage } from "../helpers/docker.js";

beforeAll(() => requireImage());

describe("images without a registry", () => {
  it("builds the sandbox image from the template on the offline base", async () => {
    const { dir, env } = tempHome();
    const repo = gitRepo(dir);
    const tag = `lanes-sandbox:test-${process.pid}`;
    try {
      const r = await lanes(["images", "build", "--tag", tag, "--json"], { cwd: repo, env, timeoutMs: 180_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, image: tag, host: "local" });
      const user = spawnSync("docker", ["run", "--rm", "--network", "none", tag, "id", "-u"], { encoding: "utf8" });
      expect(user.stdout).toBe("1000\n");
    } finally {
      spawnSync("docker", ["rmi", "-f", tag]);
    }
  }, 200_000);

  it("builds a project's .lanes/sandbox/Dockerfile FROM lanes' image, with network: a Debian package added", async () => {
    const { dir, env } = tempHome();
    const repo = gitRepo(dir);
    const init = await lanes(["init"], { cwd: repo, env: { ...env, OPENAI_API_KEY: "" } });
    expect(init.code, init.stderr).toBe(0);
    const file = join(repo, ".lanes/sandbox/Dockerfile");
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace(
        "USER 1000:1000",
        "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq" +
          " >/dev/null && rm -rf /var/lib/apt/lists/*\nUSER 1000:1000",
      ),
    );
    const tag = `lanes-project:test-${process.pid}`;
    // As on a fresh machine after `lanes init`: lanes' own image (the FROM) is not there yet.
    spawnSync("docker", ["rmi", "lanes-sandbox:lanes"]);
    try {
      const r = await lanes(["images", "build", "--tag", tag, "--json"], { cwd: repo, env, timeoutMs: 300_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(spawnSync("docker", ["image", "inspect", "lanes-sandbox:lanes"]).status).toBe(0);
      const run = spawnSync(
        "docker",
        ["run", "--rm", "--network", "none", tag, "sh", "-c", "jq --version; node --version; id -u"],
        {
          encoding: "utf8",
        },
      );
      expect(run.stdout).toMatch(/^jq-1\.\d+\nv24\.\d+\.\d+\n1000\n$/);
    } finally {
      spawnSync("docker", ["rmi", "-f", tag]);
    }
  }, 320_000);

  it("a repository's own image gets its own tag (per repository and content), never lanes-sandbox:latest", async () => {
    const { dir, env } = tempHome();
    const repo = gitRepo(dir);
    expect((await lanes(["init"], { cwd: repo, env: { ...env, OPENAI_API_KEY: "" } })).code).toBe(0);
    const shared = () =>
      spawnSync("docker", ["image", "inspect", "-f", "{{.Id}}", "lanes-sandbox:latest"], { encoding: "utf8" }).stdout;
    const before = shared();
    const build = async () => {
      const r = await lanes(["images", "build", "--json"], { cwd: repo, env, timeoutMs: 300_000 });
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout).image as string;
    };
    const first = await build();
    const file = join(repo, ".lanes/sandbox/Dockerfile");
    writeFileSync(file, readFileSync(file, "utf8").replace("USER 1000:1000", 'LABEL changed="yes"\nUSER 1000:1000'));
    const second = await build();
    try {
      expect(first).toMatch(/^lanes-repo-[0-9a-f]{12}:[0-9a-f]{16}$/);
      expect(second.split(":")[0]).toBe(first.split(":")[0]); // the same repository
      expect(second).not.toBe(first); // another content, another tag
      expect(shared()).toBe(before); // everyone else's image is untouched
    } finally {
      spawnSync("docker", ["rmi", "-f", first, second]);
    }
  }, 320_000);

  it("names the command that builds a missing image, with exit 5", async () => {
    const { dir, env } = tempHome();
    const repo = gitRepo(dir);
    userSettings({ env }, "sandbox:\n  profiles:\n    default: { image: 'lanes-missing:0' }\n");
    const r = await lanes(["sandbox", "run", "--", "true"], { cwd: repo, env });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("image lanes-missing:0 is not on host local");
    expect(r.stderr).toContain("lanes images build");
  });

  it("refuses to push an image the local engine does not have", async () => {
    const { dir, env } = tempHome();
    const repo = gitRepo(dir);
    userSettings({ env }, "hosts:\n  other: { url: 'unix:///var/run/docker.sock' }\n");
    const r = await lanes(["images", "push", "lanes-missing:0", "--host", "other"], { cwd: repo, env });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("image lanes-missing:0 is not on the local engine");
  });
});
