/** `--json`: one event of the stream per line on stdout, and nothing else there. */
import type { LanesEvent } from "../core/run-events.js";

export function writeEvent(e: LanesEvent): void {
  process.stdout.write(`${JSON.stringify(e)}\n`);
}
