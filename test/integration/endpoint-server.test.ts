/**
 * `lanes endpoints up|down` with the real llama-server the tests build: started health-gated,
 * recorded, added to lanes.yaml, shown live by ls and check, idempotent, stopped by down; a file
 * that is no model fails with the server's own words.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { parse } from "yaml";
import { lanes, project } from "../helpers/cli.js";
import { llamaPaths } from "../helpers/llama.js";
import { health } from "../../src/adapters/models/llama.js";

const yaml = "tiers:\n  local:\n    endpoints: []\nlanes:\n  small: { tiers: [local], check: 'true' }\n";

it("up starts a health-gated server, records it and adds it to lanes.yaml; ls and check see it; down stops it", async () => {
  const { server, model } = llamaPaths();
  const p = project(yaml);
  const o = { cwd: p.repo, env: { ...p.env, LANES_LLAMA_SERVER: server }, timeoutMs: 120_000 };
  const up = await lanes(
    ["endpoints", "up", "tiny", "--model", model, "--slots", "2", "--ctx", "1024", "--yes", "--json"],
    o,
  );
  expect(up.code, up.stderr).toBe(0);
  const rec = JSON.parse(up.stdout);
  expect(rec).toMatchObject({ name: "tiny", slots: 2, ctx: 1024, gpu: false, addedToConfig: true, server });
  try {
    expect((await health(rec.url)).state).toBe("ok");
    const config = parse(readFileSync(join(p.repo, "lanes.yaml"), "utf8"));
    expect(config.tiers.local.endpoints).toEqual([
      { id: "tiny", baseURL: rec.url, model: "tiny.gguf", price: { gpuHourUsd: 0 } },
    ]);

    const ls = JSON.parse((await lanes(["endpoints", "ls", "--json"], o)).stdout);
    expect(ls.find((r: { endpoint: string }) => r.endpoint === "tiny")).toMatchObject({
      contextWindow: 1024,
      live: { contextWindow: 1024, slots: { total: 2, busy: 0 } },
      managed: { pid: rec.pid, alive: true },
    });
    const check = await lanes(["endpoints", "check", "tiny", "--json"], o);
    expect(check.code, check.stdout).toBe(0);

    const again = await lanes(["endpoints", "up", "tiny", "--model", model, "--json"], o);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ pid: rec.pid, already: true });
  } finally {
    const down = await lanes(["endpoints", "down", "tiny", "--json"], o);
    expect(down.code, down.stderr).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({ name: "tiny", result: "stopped" });
  }
  expect(running(rec.pid)).toBe(false);
  expect((await health(rec.url)).state).toBe("down");
  const twice = await lanes(["endpoints", "down", "tiny"], o);
  expect(twice.code).toBe(2);
  expect(twice.stderr).toContain("no endpoint tiny was started by lanes");
}, 180_000);

it("a file that is no model: up fails (exit 6) with the end of the server's log, and records nothing", async () => {
  const { server } = llamaPaths();
  const p = project(yaml);
  const bad = join(p.dir, "bad.gguf");
  writeFileSync(bad, "not a model\n");
  const o = { cwd: p.repo, env: p.env, timeoutMs: 60_000 };
  const r = await lanes(["endpoints", "up", "bad", "--model", bad, "--server", server], o);
  expect(r.code).toBe(6);
  expect(r.stderr).toContain("llama-server stopped");
  expect(r.stderr).toMatch(/its log \(.*bad\.log\) ends:/);
  expect(JSON.parse((await lanes(["endpoints", "ls", "--json"], o)).stdout)).toEqual([]);
  const missing = await lanes(["endpoints", "up", "x", "--model", join(p.dir, "nope.gguf")], o);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain("model file not found");
}, 90_000);

/** Alive and not a zombie (the server's parent exited: whoever adopted it may not reap it at once). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
