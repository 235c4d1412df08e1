import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

const FORBIDDEN = /from ["'](ink|react|commander|dockerode|openai|execa|conf|better-sqlite3|yaml|zod|node:fs|fs|node:child_process|child_process|node:http|node:net)["'/]/;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

describe("architecture", () => {
  it("keeps src/core pure: no UI, CLI, Docker, model client, database or I/O imports", () => {
    const offenders = files(join(ROOT, "src/core")).filter((f) => FORBIDDEN.test(readFileSync(f, "utf8")));
    expect(offenders).toEqual([]);
  });
  it("keeps every source file under 400 lines", () => {
    const big = files(join(ROOT, "src")).filter((f) => readFileSync(f, "utf8").split("\n").length > 400);
    expect(big).toEqual([]);
  });
  it("exits only from the launcher and main: no process.exit() elsewhere", () => {
    const offenders = files(join(ROOT, "src")).filter((f) => /process\.exit\(/.test(readFileSync(f, "utf8")));
    expect(offenders).toEqual([]);
  });
});
