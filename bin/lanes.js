#!/usr/bin/env node
// Tiny launcher; everything lives in dist/. `lanes --version` is answered here without loading
// the CLI at all, and Node's compile cache (Node >= 22.1) speeds up every later start.
import * as nodeModule from "node:module";
import { existsSync, readFileSync } from "node:fs";

const args = process.argv.slice(2);
// The top-level help, written at build time (scripts/gen-help.mjs) for 80 columns: printed as it
// is to a pipe or a terminal at least that wide; a narrower terminal gets commander's own.
const help =
  (args.length === 0 || (args.length === 1 && (args[0] === "--help" || args[0] === "-h"))) &&
  (!process.stdout.isTTY || process.stdout.columns >= 80) &&
  readHelp();
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  process.stdout.write(`${JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version}\n`);
} else if (help) {
  process.stdout.write(help);
} else {
  nodeModule.enableCompileCache?.();
  // The bundled CLI (scripts/bundle.mjs); the unbundled modules where only tsc has run.
  const bundled = existsSync(new URL("../dist/bundle/main.js", import.meta.url));
  await import(bundled ? "../dist/bundle/main.js" : "../dist/cli/main.js");
}

function readHelp() {
  try {
    return readFileSync(new URL("../dist/help.txt", import.meta.url), "utf8");
  } catch {
    return undefined; // not built by `npm run build`: commander writes it
  }
}
