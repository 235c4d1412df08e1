import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

describe("architecture", () => {
  // The layers (core pure, adapters below app, nothing below cli importing it) are ESLint's
  // import-boundary rules: see eslint.config.js, run by the test command.
  it("keeps every line of src/ within 160 characters", () => {
    const long = files(join(ROOT, "src")).flatMap((f) =>
      readFileSync(f, "utf8")
        .split("\n")
        .flatMap((l, i) => (l.length > 160 ? [`${f.slice(ROOT.length)}:${i + 1} (${l.length})`] : [])),
    );
    expect(long).toEqual([]);
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
