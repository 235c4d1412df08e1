import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, tempHome } from "../helpers/cli.js";

describe("the packed package", () => {
  it("runs through npx from the tarball and prints its version", () => {
    const { dir } = tempHome("lanes-pack-");
    // --ignore-scripts: prepack's build would empty dist/ while the other test files run from it
    // (they failed with "Cannot find module dist/cli/main.js"); setup.sh built it already.
    const pack = spawnSync("npm", ["pack", "--pack-destination", dir, "--silent", "--ignore-scripts"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(pack.status, pack.stderr).toBe(0);
    const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"))!;
    expect(tarball).toMatch(/^lanes-\d+\.\d+\.\d+\.tgz$/);
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    // Its own npm cache dir keeps this test from reusing a stale copy of the package. Installing
    // fetches every dependency from the registry and compiles better-sqlite3: a failed fetch is
    // tried once more (npm's own retry), and the message carries npm's output.
    const install = () =>
      spawnSync("npx", ["--yes", `./${tarball}`, "--version"], {
        cwd: dir,
        encoding: "utf8",
        timeout: 360_000,
        env: {
          ...process.env,
          npm_config_cache: join(dir, "npm-cache"),
          npm_config_update_notifier: "false",
          npm_config_fetch_retries: "4",
        },
      });
    let npx = install();
    if (npx.status !== 0) npx = install();
    expect(npx.status, `${npx.stdout}\n${npx.stderr}`.slice(-3000)).toBe(0);
    expect(npx.stdout.trim()).toBe(version);
    // --version is answered by the launcher alone: a command must load dist/ (commander, the
    // configuration loader, zod, the org-policy layer) to show that the package is complete. It
    // runs the copy npx installed (a second npx of a tarball would install it all again).
    const npxDir = join(dir, "npm-cache", "_npx");
    const installed = readdirSync(npxDir)
      .map((h) => join(npxDir, h, "node_modules", ".bin", "lanes"))
      .find((f) => existsSync(f))!;
    expect(installed).toBeDefined();
    const home = tempHome("lanes-pack-home-");
    const get = spawnSync(installed, ["config", "get", "lanes.async.budget.capUsd", "--explain", "--json"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
      env: home.env,
    });
    expect(get.status, get.stderr).toBe(0);
    expect(JSON.parse(get.stdout)).toMatchObject({
      key: "lanes.async.budget.capUsd",
      value: 0.5,
      from: "(built-in defaults)",
    });
  }, 420_000);
});
