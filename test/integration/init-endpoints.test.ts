/** `lanes init` finds the endpoints a user has: a real llama.cpp server and an OpenAI key. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitRepo, lanes, tempHome } from "../helpers/cli.js";
import { startLlama, type Llama } from "../helpers/llama.js";

let llama: Llama;
beforeAll(async () => {
  llama = await startLlama();
}, 900_000);
afterAll(() => llama?.stop());

describe("endpoints in the first minute", () => {
  it("init --yes writes the local llama.cpp server and OPENAI_API_KEY as endpoints, and plan works at once", async () => {
    const home = tempHome();
    const repo = gitRepo(home.dir);
    const env = { ...home.env, OPENAI_API_KEY: "sk-test-not-a-real-key", LANES_USER: "ana" };
    const r = await lanes(["init", "--yes", "--local-url", llama.url, "--json"], { cwd: repo, env });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.endpoints.added).toEqual(["llama", "openai"]);
    const yaml = readFileSync(join(repo, "lanes.yaml"), "utf8");
    expect(yaml).toContain(`baseURL: ${llama.url}`);
    // The keyed endpoint goes to the user's settings, bound to its URL; never into the repository.
    expect(yaml).not.toMatch(/^\s*[^#\s].*apiKeyEnv/m);
    const settings = readFileSync(join(home.env.LANES_CONFIG_DIR!, "config.json"), "utf8");
    expect(JSON.parse(settings).tiers.standard.endpoints[0]).toMatchObject({
      id: "openai",
      apiKeyEnv: "OPENAI_API_KEY",
      baseURL: expect.stringMatching(/^https:\/\//),
    });
    expect(yaml + settings).not.toContain("sk-test-not-a-real-key");
    expect(yaml).toContain("# Tiers are classes of model endpoints"); // the comments are kept
    const plan = await lanes(["plan", "fix the failing test", "--json"], { cwd: repo, env });
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout)).toMatchObject({ tier: "local", endpoint: { id: "llama", baseURL: llama.url } });
    const check = await lanes(["endpoints", "check", "llama", "--json"], { cwd: repo, env });
    expect(JSON.parse(check.stdout).endpoints[0]).toMatchObject({ ok: true, modelServed: true });
    const doctor = JSON.parse((await lanes(["doctor", "--json"], { cwd: repo, env })).stdout);
    expect(doctor.checks.find((c: { name: string }) => c.name === "lane async")).toMatchObject({ ok: true });
  });

  it("without a terminal and without --yes, init finds but does not add; endpoints add --yes adds later", async () => {
    const home = tempHome();
    const repo = gitRepo(home.dir);
    const env = { ...home.env, OPENAI_API_KEY: "sk-test-not-a-real-key" };
    const r = await lanes(["init", "--local-url", llama.url], { cwd: repo, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/found llama\.cpp at .* serving/);
    expect(r.stdout).toContain("pass --yes");
    expect(readFileSync(join(repo, "lanes.yaml"), "utf8")).not.toContain(llama.url);
    const add = await lanes(["endpoints", "add", "--local-url", llama.url, "--yes", "--json"], { cwd: repo, env });
    expect(add.code, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout).added).toEqual(["llama", "openai"]);
    const again = await lanes(["endpoints", "add", "--local-url", llama.url, "--yes", "--json"], { cwd: repo, env });
    expect(JSON.parse(again.stdout).added).toEqual([]); // ids already there are left alone
  });
});
