/** A real llama-server (scripts/llama-server.sh builds it and the tiny model, cached). */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { ROOT } from "./cli.js";
import { closedPort } from "./endpoints.js";
import { health } from "../../src/adapters/models/llama.js";

let paths: { server: string; model: string } | undefined;
export function llamaPaths() {
  if (paths) return paths;
  const r = spawnSync("bash", [`${ROOT}/scripts/llama-server.sh`], { encoding: "utf8", timeout: 900_000 });
  if (r.status !== 0) throw new Error(`scripts/llama-server.sh failed: ${r.stderr.slice(-500)}`);
  const env = Object.fromEntries(
    r.stdout
      .trim()
      .split("\n")
      .map((l) => l.split("=") as [string, string]),
  );
  paths = { server: env.LLAMA_SERVER!, model: env.LLAMA_MODEL! };
  return paths;
}

export interface Llama {
  url: string;
  port: number;
  proc: ChildProcess;
  /** /health states seen while it started ("loading" while the model loads). */
  startup: string[];
  stop(): void;
}

export async function startLlama(args: string[] = []): Promise<Llama> {
  const { server, model } = llamaPaths();
  const port = await closedPort();
  const proc = spawn(
    server,
    ["-m", model, "--port", String(port), "--host", "127.0.0.1", "--jinja", "-c", "2048", ...args],
    { stdio: "ignore" },
  );
  const startup: string[] = [];
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    // lanes' own reading of /health, so the test sees how it maps the real server's 503.
    const state = (await health(`http://127.0.0.1:${port}/v1`)).state;
    if (startup[startup.length - 1] !== state) startup.push(state);
    if (state === "ok")
      return { url: `http://127.0.0.1:${port}/v1`, port, proc, startup, stop: () => proc.kill("SIGKILL") };
    await new Promise((r) => setTimeout(r, 2));
  }
  proc.kill("SIGKILL");
  throw new Error("llama-server did not become healthy within 30 s");
}
