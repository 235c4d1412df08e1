// Loaded with `node --import`: records every module URL the process resolves into
// $LANES_TRACE_FILE, so tests can assert what a command did (and did not) load.
import { register } from "node:module";
register("./trace-hooks.mjs", import.meta.url);
