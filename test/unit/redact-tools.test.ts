import { describe, expect, it } from "vitest";
import { redact } from "../../src/core/redact.js";
import { clip, runTool } from "../../src/core/tools.js";
import type { Sandbox } from "../../src/core/sandbox.js";

describe("redact", () => {
  it.each([
    ["openai_key", "key = sk-proj-abcdefghijklmnopqrstuvwx1234"],
    ["aws_access_key", "AKIAIOSFODNN7EXAMPLE"],
    ["github_token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"],
    ["private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"],
    ["password_assignment", 'password: "hunter2hunter2"'],
    ["high_entropy", "token Zx9Qw3Er7Ty1Ui5Op2As8Df4Gh6Jk0LmNbVc"],
  ])("removes %s", (kind, text) => {
    const r = redact(text);
    expect(r.text).toContain(`[REDACTED:${kind}]`);
    expect(r.count).toBeGreaterThanOrEqual(1);
  });
  it("leaves code, paths and git hashes alone", () => {
    const text =
      "src/components/UserProfileSettingsPanel.tsx\ncommit 9fceb02d0ae598e95dc970b74767f19372d61af8\nexport const add = (a, b) => a + b;";
    expect(redact(text)).toEqual({ text, count: 0, kinds: {} });
  });
});

function fakeFs(files: Record<string, string>): Sandbox {
  return {
    info: {} as Sandbox["info"],
    ready: async () => {},
    exec: async () => ({ exitCode: 0, stdout: "", stderr: "", durationMs: 0, timedOut: false, truncatedBytes: 0 }),
    readFile: async (p) => {
      if (!(p in files))
        throw Object.assign(new (await import("../../src/core/errors.js")).LanesError("failed", `no such file: ${p}`));
      return Buffer.from(files[p]!);
    },
    writeFile: async (p, c) => void (files[p] = c.toString()),
    diff: async () => "",
    release: async () => {},
  };
}
const call = (name: string, args: unknown) => ({ id: "c", name, arguments: JSON.stringify(args) });

describe("tools", () => {
  it("edit_file replaces exactly one occurrence, and says clearly when the text is absent or ambiguous", async () => {
    const files = { "a.js": "x = 1;\ny = 1;\n" };
    const sb = fakeFs(files);
    expect(
      (await runTool(sb, call("edit_file", { path: "a.js", old_string: "x = 1;", new_string: "x = 2;" }), 1000))
        .content,
    ).toBe("edited a.js: replaced 1 occurrence");
    expect(files["a.js"]).toBe("x = 2;\ny = 1;\n");
    expect(
      await runTool(sb, call("edit_file", { path: "a.js", old_string: "z", new_string: "q" }), 1000),
    ).toMatchObject({ error: "not_found", content: expect.stringContaining("was not found in a.js") });
    expect(
      await runTool(sb, call("edit_file", { path: "a.js", old_string: " = ", new_string: "=" }), 1000),
    ).toMatchObject({ error: "ambiguous", content: expect.stringContaining("appears 2 times") });
    expect(files["a.js"]).toBe("x = 2;\ny = 1;\n");
  });
  it("reports a missing file and an unknown tool as observations, not exceptions", async () => {
    const sb = fakeFs({});
    expect(await runTool(sb, call("read_file", { path: "nope" }), 1000)).toMatchObject({
      error: "failed",
      content: "error: no such file: nope",
    });
    expect(await runTool(sb, call("rm_rf", {}), 1000)).toMatchObject({ error: "unknown_tool" });
  });
  it("turns null, wrongly typed or missing arguments into an observation naming the field", async () => {
    const sb = fakeFs({ "a.js": "x\n" });
    expect(await runTool(sb, { id: "c", name: "bash", arguments: "null" }, 1000)).toMatchObject({
      error: "bad_arguments",
      content: expect.stringContaining("bad arguments for bash (command:"),
    });
    expect(await runTool(sb, call("write_file", { path: "a.js", content: null }), 1000)).toMatchObject({
      error: "bad_arguments",
      content: expect.stringContaining("content:"),
    });
    expect(await runTool(sb, call("read_file", [1, 2]), 1000)).toMatchObject({ error: "bad_arguments" });
    expect(await runTool(sb, call("bash", { command: "ls", background: "yes" }), 1000)).toMatchObject({
      error: "bad_arguments",
      content: expect.stringContaining("background:"),
    });
  });
  it("clips long text head+tail, marking the cut", () => {
    const { text, cut } = clip("a".repeat(100) + "b".repeat(100), 50);
    expect(cut).toBe(150);
    expect(text).toBe(`${"a".repeat(25)}\n[... lanes: 150 characters truncated ...]\n${"b".repeat(25)}`);
  });
});
