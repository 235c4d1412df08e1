/**
 * A llama-server that lanes starts and stops (`lanes endpoints up|down`): found, spawned in its
 * own session so it outlives the command, gated on /health, and recorded under
 * LANES_HOME/endpoints/NAME.json (with its log next to it) so `down`, `ls` and `check` find it.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { mkdirSync, writeFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { LanesError } from "../../core/errors.js";
import { cacheDir, dataDir } from "../config/paths.js";
import { health } from "./llama.js";

export interface ServerRecord {
  name: string;
  pid: number;
  url: string;
  port: number;
  model: string;
  server: string;
  slots: number;
  /** Context per slot (what one run gets). */
  ctx: number;
  gpu: boolean;
  log: string;
  startedAt: string;
}

const dir = () => join(dataDir(), "endpoints");
const recordFile = (name: string) => join(dir(), `${name}.json`);

export function readRecord(name: string): ServerRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordFile(name), "utf8")) as ServerRecord;
  } catch {
    return undefined;
  }
}

/** Every recorded server, with whether its process still runs. */
export function records(): (ServerRecord & { alive: boolean })[] {
  if (!existsSync(dir())) return [];
  return readdirSync(dir())
    .filter((f) => f.endsWith(".json"))
    .map((f) => readRecord(f.slice(0, -5)))
    .filter((r): r is ServerRecord => r !== undefined)
    .map((r) => ({ ...r, alive: isOurs(r) }));
}

/** The process runs and is still the recorded server (a pid can be reused). */
export function isOurs(r: ServerRecord): boolean {
  try {
    const cmd = readFileSync(`/proc/${r.pid}/cmdline`, "utf8").split("\0");
    const state = /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${r.pid}/stat`, "utf8"))?.[1];
    return state !== "Z" && cmd.includes(String(r.port)) && cmd.includes(r.model);
  } catch {
    return false;
  }
}

/** --server, LANES_LLAMA_SERVER, `llama-server` on PATH, else the one scripts/llama-server.sh built. */
export function findServer(explicit?: string, env = process.env): string {
  const candidates = [explicit, env.LANES_LLAMA_SERVER].filter((c): c is string => !!c);
  if (candidates.length) {
    const c = resolve(candidates[0]!);
    if (!isExecutable(c)) throw new LanesError("usage", `llama-server not found or not executable: ${c}`);
    return c;
  }
  for (const d of (env.PATH ?? "").split(delimiter).filter(Boolean)) {
    if (isExecutable(join(d, "llama-server"))) return join(d, "llama-server");
  }
  const cache = cacheDir(env);
  const built = existsSync(cache)
    ? readdirSync(cache)
        .filter((d) => d.startsWith("llama-"))
        .map((d) => join(cache, d, "bin", "llama-server"))
        .filter(isExecutable)
        .sort()
        .reverse()
    : [];
  if (built[0]) return built[0];
  throw new LanesError("usage", "no llama-server found", {
    hint:
      "build one from llama.cpp's source with scripts/llama-server.sh (from lanes' repository), put llama-server " +
      "on PATH, or pass --server PATH",
  });
}

function isExecutable(p: string): boolean {
  try {
    return statSync(p).isFile() && (statSync(p).mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

export interface StartOptions {
  name: string;
  model: string;
  server: string;
  port: number;
  slots: number;
  ctx: number;
  gpu: boolean;
  timeoutMs: number;
  onWait?: (seconds: number) => void;
}

export async function startServer(o: StartOptions): Promise<ServerRecord> {
  mkdirSync(dir(), { recursive: true });
  const log = join(dir(), `${o.name}.log`);
  const fd = openSync(log, "w");
  const args = ["-m", o.model, "--host", "127.0.0.1", "--port", String(o.port), "--jinja"];
  // -c is the whole KV cache, split evenly between the slots: each slot gets --ctx.
  args.push("-np", String(o.slots), "-c", String(o.ctx * o.slots), "-ngl", o.gpu ? "999" : "0");
  const child = spawn(o.server, args, { detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  let exited: string | undefined;
  child.once("exit", (code, sig) => (exited = sig ?? `exit code ${code}`));
  child.once("error", (err) => (exited = err.message));
  const record: ServerRecord = {
    name: o.name,
    pid: child.pid ?? -1,
    url: `http://127.0.0.1:${o.port}/v1`,
    port: o.port,
    model: o.model,
    server: o.server,
    slots: o.slots,
    ctx: o.ctx,
    gpu: o.gpu,
    log,
    startedAt: new Date().toISOString(),
  };
  const started = Date.now();
  let lastSaid = 0;
  while (true) {
    if (exited) throw failed(`llama-server stopped (${exited}) before it was ready`, log);
    const h = await health(record.url, AbortSignal.timeout(2000));
    if (h.state === "ok") break;
    if (Date.now() - started > o.timeoutMs) {
      process.kill(-record.pid, "SIGKILL");
      throw failed(`llama-server was not ready within ${Math.round(o.timeoutMs / 1000)} s (${h.state})`, log);
    }
    const s = Math.floor((Date.now() - started) / 1000);
    if (s >= lastSaid + 5) o.onWait?.((lastSaid = s));
    await new Promise((r) => setTimeout(r, 100));
  }
  child.unref();
  writeFileSync(recordFile(o.name), JSON.stringify(record, null, 2));
  return record;
}

function failed(message: string, log: string): LanesError {
  const tail = readFileSync(log, "utf8").trim().split("\n").slice(-8).join("\n");
  return new LanesError("endpoint", message, { hint: `its log (${log}) ends:\n${tail}` });
}

/** Stop a recorded server: SIGTERM, then SIGKILL after 10 s; the record goes either way. */
export async function stopServer(r: ServerRecord): Promise<"stopped" | "was not running"> {
  const alive = isOurs(r);
  if (alive) {
    process.kill(r.pid, "SIGTERM");
    const end = Date.now() + 10_000;
    while (isOurs(r) && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
    if (isOurs(r)) process.kill(r.pid, "SIGKILL");
  }
  rmSync(recordFile(r.name), { force: true });
  return alive ? "stopped" : "was not running";
}
