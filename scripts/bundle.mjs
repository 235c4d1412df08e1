// At build time: the CLI as a few bundled chunks in dist/bundle/. Loading ~300 ES modules one
// by one (resolve, read, compile) is most of a short command's time on Node 20, which has no
// compile cache; the same code as ~90 chunks loads in a fraction of it. Dynamic imports stay
// chunk boundaries, so ink, dockerode and the gateway still load only when a command needs
// them. Native, worker-side and heavy lazily-used packages stay external (node_modules).
// The launcher (bin/lanes.js) imports the bundle; dist/ keeps the unbundled modules too (the
// store's worker and the benchmarks' breakdowns load those).
import { createHash } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "rolldown";

const dist = fileURLToPath(new URL("../dist/", import.meta.url));
rmSync(join(dist, "bundle"), { recursive: true, force: true });
const out = await build({
  input: { main: join(dist, "cli", "main.js") },
  platform: "node",
  logLevel: "warn",
  external: [
    /^node:/,
    "better-sqlite3", // native
    "pg", // loaded by the store's worker only
    "synckit",
    "libpq", // native, optional (the PostgreSQL store's driver)
    "dockerode", // CommonJS with native optional dependencies (ssh2, cpu-features)
    "ink", // with react and yoga's WebAssembly: the terminal UI, loaded only in a terminal
    "react",
    /^gpt-tokenizer/, // its BPE core, over lanes' rank tables (dist/ranks/)
    "tar-fs",
    "tar-stream",
  ],
  output: {
    dir: join(dist, "bundle"),
    format: "esm",
    chunkFileNames: "[name]-[hash].js",
    // Each bundled package that must stay off a hot path in a chunk named for it, so the tests
    // that trace which modules a command loads can see it (bundle/openai-HASH.js).
    codeSplitting: {
      groups: ["openai", "execa", "yaml", "commander", "conf"].map((name) => ({
        name,
        test: new RegExp(`node_modules[\\\\/]${name}[\\\\/]`),
      })),
    },
  },
});

// What this build is, for caches of its results (src/adapters/config/load-cache.ts): the hash of
// every chunk, so any change to the code is a new id.
const id = createHash("sha256");
for (const chunk of out.output.sort((a, b) => a.fileName.localeCompare(b.fileName)))
  id.update(chunk.fileName).update(chunk.type === "chunk" ? chunk.code : chunk.source);
writeFileSync(join(dist, "bundle", "build-id"), `${id.digest("hex")}\n`);
