import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, gitRepo, lanes, ROOT, tempHome } from "../helpers/cli.js";

const { version } = JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")) as { version: string };

describe("lanes binary basics", () => {
  it("prints the package version for --version and -V", async () => {
    for (const flag of ["--version", "-V"]) {
      const r = await lanes([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });
  it("prints help with the commands, the global flags and examples", async () => {
    const r = await lanes(["--help"]);
    expect(r.code).toBe(0);
    for (const s of [
      "config",
      "init",
      "doctor",
      "--json",
      "--quiet",
      "--no-color",
      "--debug",
      "--repo",
      "--lane",
      "--tier",
      "--yes",
      "Examples:",
    ])
      expect(r.stdout).toContain(s);
  });
  it("--help prints exactly the help commander writes, from the build (no arguments: the same)", async () => {
    const own = spawnSync(process.execPath, [join(ROOT, "dist/cli/main.js"), "--help"], { encoding: "utf8" });
    expect(own.status).toBe(0);
    const [help, none] = await Promise.all([lanes(["--help"]), lanes([])]);
    expect(help.stdout).toBe(own.stdout);
    expect(none).toMatchObject({ code: 0, stdout: own.stdout });
  });
  it("registers exactly the implemented commands", async () => {
    const r = await lanes(["--help"]);
    const commands = r.stdout
      .split("Commands:")[1]!
      .split("Examples:")[0]!
      .split("\n")
      .map((l) => /^ {2}(\S+)/.exec(l)?.[1])
      .filter(Boolean);
    expect(commands.sort()).toEqual([
      "approve",
      "audit",
      "batch",
      "config",
      "doctor",
      "endpoints",
      "help",
      "hosts",
      "images",
      "init",
      "plan",
      "quota",
      "report",
      "run",
      "runs",
      "sandbox",
    ]);
  });
  it("rejects an unknown command with exit 2 and a one-line message", async () => {
    const r = await lanes(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe("error: unknown command 'frobnicate'");
    expect(r.stdout).toBe("");
  });
  it("suggests the closest command for a typo", async () => {
    const r = await lanes(["doctr"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("(Did you mean doctor?)");
  });
  it("rejects an unknown flag with exit 2 and a one-line message", async () => {
    const r = await lanes(["doctor", "--bogus"]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe("error: unknown option '--bogus'");
  });
  it("prints help for a command with its examples", async () => {
    const r = await lanes(["config", "set", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("lanes config set identity.team platform");
  });
  it("exits quietly when its reader goes away (lanes plan --help | true)", () => {
    // `true` exits at once, so lanes writes into a pipe with no reader: EPIPE every time.
    const r = spawnSync("sh", ["-c", `'${process.execPath}' '${BIN}' plan --help | true`], { encoding: "utf8" });
    expect(r.stderr).not.toMatch(/EPIPE|Error|internal error/);
  });
  it("refuses a task over 256 KB with exit 2, before anything is counted", async () => {
    const home = tempHome();
    const repo = gitRepo(home.dir);
    writeFileSync(join(home.dir, "huge.md"), "a".repeat(300 * 1024));
    const r = await lanes(["plan", `@${join(home.dir, "huge.md")}`], { cwd: repo, env: home.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("tasks are limited to 256 KB");
  });
});
