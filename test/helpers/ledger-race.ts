/** One process of a reservation race (ledger-worker.mjs) against a ledger; resolves with what it managed. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./cli.js";

export interface RaceResult {
  reserved: number;
  denied: number;
  charged: number;
}

/**
 * N reservations of AMOUNT against a hard team bucket of LIMIT at `where`, from LANES_HOME `home`;
 * `prefix` runs it under another command (e.g. nsenter into a network namespace).
 */
export function raceWorker(
  where: string,
  o: { n: number; amount: number; limit: number; home: string; prefix?: string[]; env?: Record<string, string> },
): Promise<RaceResult> {
  const argv = [process.execPath, join(ROOT, "test/helpers/ledger-worker.mjs"), where, String(o.n), String(o.amount)];
  const [cmd, ...args] = [...(o.prefix ?? []), ...argv, String(o.limit)];
  return new Promise((resolve, reject) => {
    const p = spawn(cmd!, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...o.env, LANES_HOME: o.home },
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as RaceResult) : reject(new Error(err))));
  });
}
