#!/usr/bin/env node
// Start-up benchmark: median wall time of `lanes --version` and `lanes --help` against bare
// `node -e 0`, measured interleaved in the same run (the machine is shared and noisy, so only the
// ratios mean much). Target: --version <= 1.5x bare node.
//   node bench/startup.mjs [runs]      (build first: npm run build)
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const runs = Math.max(10, Number(process.argv[2] ?? 15));
const bin = fileURLToPath(new URL("../bin/lanes.js", import.meta.url));
const cases = {
  "node -e 0": [process.execPath, ["-e", "0"]],
  "lanes --version": [process.execPath, [bin, "--version"]],
  "lanes --help": [process.execPath, [bin, "--help"]],
};
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i < runs + 2; i++) {
  for (const [name, [cmd, args]] of Object.entries(cases)) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${name} exited ${r.status}`);
    if (i >= 2) times[name].push(ms); // two warm-up rounds fill the page cache
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const base = median(times["node -e 0"]);
console.log(`startup, median of ${runs} runs (Node ${process.versions.node})`);
const result = {};
for (const [name, xs] of Object.entries(times)) {
  const m = median(xs);
  result[name] = { medianMs: +m.toFixed(1), ratio: +(m / base).toFixed(2) };
  console.log(`  ${name.padEnd(18)} ${m.toFixed(1).padStart(7)} ms   ${(m / base).toFixed(2)}x bare node`);
}
const ok = result["lanes --version"].ratio <= 1.5;
console.log(`target --version <= 1.5x: ${ok ? "met" : "MISSED"}`);
console.log(JSON.stringify({ bench: "startup", runs, ...result }));
