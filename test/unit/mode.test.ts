import { describe, expect, it } from "vitest";
import { decideMode, isCI } from "../../src/cli/mode.js";

const tty = { stdinIsTTY: true, stdoutIsTTY: true };

describe("decideMode", () => {
  it.each([
    ["a terminal on both ends", {}, tty, {}, "interactive"],
    ["--json, even in a terminal", { json: true }, tty, {}, "json"],
    ["CI=true, even in a terminal", {}, tty, { CI: "true" }, "plain"],
    ["stdout piped", {}, { stdinIsTTY: true, stdoutIsTTY: false }, {}, "plain"],
    ["stdin closed or piped", {}, { stdinIsTTY: false, stdoutIsTTY: true }, {}, "plain"],
    ["CI=false in a terminal", {}, tty, { CI: "false" }, "interactive"],
  ])("with %s is %s", (_, flags, term, env, kind) => {
    expect(decideMode(flags, { ...term, env }, "/x").kind).toBe(kind);
  });
  it("turns colour off for --no-color, NO_COLOR and non-terminals", () => {
    expect(decideMode({}, { ...tty, env: {} }, "/x").color).toBe(true);
    expect(decideMode({ color: false }, { ...tty, env: {} }, "/x").color).toBe(false);
    expect(decideMode({}, { ...tty, env: { NO_COLOR: "" } }, "/x").color).toBe(false);
    expect(decideMode({}, { stdinIsTTY: false, stdoutIsTTY: false, env: {} }, "/x").color).toBe(false);
  });
  it("uses --repo or else the working directory", () => {
    expect(decideMode({ repo: "/r" }, { ...tty, env: {} }, "/x").repo).toBe("/r");
    expect(decideMode({}, { ...tty, env: {} }, "/x").repo).toBe("/x");
  });
});

describe("isCI", () => {
  it("treats empty, 0 and false as not CI", () => {
    expect([
      isCI({}),
      isCI({ CI: "" }),
      isCI({ CI: "0" }),
      isCI({ CI: "false" }),
      isCI({ CI: "1" }),
      isCI({ CI: "true" }),
    ]).toEqual([false, false, false, false, true, true]);
  });
});
