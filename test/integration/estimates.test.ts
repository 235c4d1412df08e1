/**
 * Estimates against the real llama.cpp server the tests build (2,048 tokens of context per
 * slot): a plan whose run cannot fit is denied with the next tier named; a run records the
 * endpoint's measured speeds and prompt-cache share, which the next plan uses and says so.
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lanes, project } from "../helpers/cli.js";
import { requireImage } from "../helpers/docker.js";
import { startLlama, type Llama } from "../helpers/llama.js";
import { closeAll, replay } from "../helpers/endpoints.js";

let server: Llama;
beforeAll(async () => {
  requireImage();
  server = await startLlama(["-np", "1"]);
}, 900_000);
afterAll(() => server?.stop());

const yaml = (url: string) =>
  `tiers:\n  local:\n    endpoints: [{ id: llama, baseURL: "${url}", model: tiny, price: { gpuHourUsd: 1 }, maxOutputTokens: 48 }]\n` +
  `  standard:\n    endpoints: [{ id: hosted, baseURL: "http://127.0.0.1:1/v1", model: gpt-4.1-mini }]\n` +
  "lanes:\n" +
  "  big: { tiers: [local, standard] }\n" +
  "  small: { tiers: [local], check: 'true', limits: { steps: 2, wallTime: 3m, commandTimeout: 30s } }\n";

const opts = (p: ReturnType<typeof project>) => ({ cwd: p.repo, env: p.env });

describe("estimates on a real llama.cpp server", () => {
  it("denies a run whose context cannot fit the server's window per slot, naming the next tier", async () => {
    const p = project(yaml(server.url));
    const plan = JSON.parse((await lanes(["plan", "fix the bug", "--lane", "big", "--json"], opts(p))).stdout);
    expect(plan.context).toMatchObject({ endpoint: "llama", window: 2048 });
    expect(plan.context.p50).toBeGreaterThan(2048);
    expect(plan.decision.verdict).toBe("deny");
    const reason = plan.decision.reasons.find((r: { rule: string }) => r.rule === "endpoint.context");
    expect(reason.message).toContain("try the lane's next tier: --tier standard");
  });

  it("a run records the endpoint's measured speeds and cache share; the next plan uses them and says so", async () => {
    const p = project(yaml(server.url));
    const env = { ...p.env, CI: "true" };
    const before = JSON.parse((await lanes(["plan", "say hi", "--lane", "small", "--json"], opts(p))).stdout);
    expect(before.cost.assumptions.join()).toContain("(default)");
    const r = await lanes(["run", "say hi", "--lane", "small", "--json", "--yes"], {
      cwd: p.repo,
      env,
      timeoutMs: 240_000,
    });
    expect(r.stdout).toContain('"type":"run_end"');
    const db = new Database(join(p.env.LANES_HOME!, "ledger.db"), { readonly: true });
    const row = db.prepare("SELECT * FROM history ORDER BY id DESC LIMIT 1").get() as Record<string, number | string>;
    db.close();
    expect(row.endpoint).toBe("llama");
    expect(Number(row.prompt_tps)).toBeGreaterThan(0);
    expect(Number(row.completion_tps)).toBeGreaterThan(0);
    expect(Number(row.cached_share)).toBeGreaterThanOrEqual(0);
    const after = JSON.parse((await lanes(["plan", "say hi", "--lane", "small", "--json"], opts(p))).stdout);
    const gpu = after.cost.assumptions.find((a: string) => a.startsWith("GPU time"));
    expect(gpu).toMatch(/\(measured on \d{4}-\d{2}-\d{2}\)/);
    expect(gpu).toMatch(/% of prompt tokens from the server's prompt cache \(measured\)/);
  }, 300_000);

  it("endpoints calibrate measures the server in well under a minute, plans then use it; ls shows it live", async () => {
    const p = project(yaml(server.url));
    const r = await lanes(["endpoints", "calibrate", "llama", "--json"], { ...opts(p), timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const [c] = JSON.parse(r.stdout).calibrations;
    expect(c).toMatchObject({ endpoint: "llama", contextWindow: 2048 });
    expect(c.sizes.length).toBeGreaterThanOrEqual(2);
    expect(c.promptTps).toBeGreaterThan(c.completionTps); // a prompt is processed far faster than text is generated
    expect(c.cachedShare).toBeGreaterThan(0.5); // a re-sent prompt comes from the cache
    expect(c.seconds).toBeLessThan(60);
    const plan = JSON.parse((await lanes(["plan", "say hi", "--lane", "small", "--json"], opts(p))).stdout);
    const gpu = plan.cost.assumptions.find((a: string) => a.startsWith("GPU time"));
    expect(gpu).toContain(
      `${Math.round(c.promptTps)} prompt and ${Math.round(c.completionTps)} completion tokens/s (measured on`,
    );
    const ls = await lanes(["endpoints", "ls", "--json"], opts(p));
    const row = JSON.parse(ls.stdout).find((e: { endpoint: string }) => e.endpoint === "llama");
    expect(row).toMatchObject({ contextWindow: 2048, live: { contextWindow: 2048, slots: { total: 1 } } });
    expect((await lanes(["endpoints", "ls"], opts(p))).stdout).toMatch(/ctx 2048 \(live\) slots 0\/1 busy serving /);
    const unknown = await lanes(["endpoints", "calibrate", "nosuch"], opts(p));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no endpoint named "nosuch"');
  }, 120_000);

  it("a hosted endpoint is calibrated only when named: two small billed calls, labelled wall-clock", async () => {
    const hosted = await replay({ model: "gpt-4.1-mini", repeatLast: true, turns: [{ say: "1 2 3 4 5 6 7 8" }] });
    const p = project(yaml(server.url).replace("http://127.0.0.1:1/v1", hosted.url));
    const r = await lanes(["endpoints", "calibrate", "hosted", "--json"], opts(p));
    expect(r.code, r.stderr).toBe(0);
    const [c] = JSON.parse(r.stdout).calibrations;
    expect(c).toMatchObject({ endpoint: "hosted", hosted: true });
    expect(c.label).toContain("wall-clock");
    expect(c.latencyMs).toBeGreaterThan(0);
    expect(c.completionTps).toBeGreaterThan(0);
    expect(c.costUsd).toBeGreaterThan(0); // gpt-4.1-mini is priced: what calibrating cost is shown
    const text = await lanes(["endpoints", "calibrate", "hosted"], opts(p));
    expect(text.stderr).toContain("(hosted: two small billed calls)");
    // Without a name only local endpoints are measured: nothing billed unasked.
    const all = JSON.parse((await lanes(["endpoints", "calibrate", "--json"], opts(p))).stdout);
    expect(all.calibrations.map((x: { endpoint: string }) => x.endpoint)).toEqual(["llama"]);
    await closeAll();
  }, 120_000);

  it("endpoints check fails (exit 6) when the server serves another model than the configured one", async () => {
    const p = project(yaml(server.url).replace("model: tiny,", "model: other-model,"));
    const r = await lanes(["endpoints", "check", "llama", "--json"], opts(p));
    expect(r.code).toBe(6);
    const [e] = JSON.parse(r.stdout).endpoints;
    expect(e).toMatchObject({ ok: false, modelServed: false });
    expect(e.hint).toContain('the server does not list model "other-model" (it serves ');
    const good = await lanes(["endpoints", "check", "llama", "--json"], opts(project(yaml(server.url))));
    expect(good.code, good.stdout).toBe(0);
  });
});
