/** Print an error the way the user asked for (one or two lines, or a JSON object) and pick its exit code. */
import { ConfigError, LanesError, formatProblem } from "../core/errors.js";

export function reportError(err: unknown, opts: { json: boolean; debug: boolean }): number {
  const stderr = (s: string) => process.stderr.write(`${s}\n`);
  if (err instanceof LanesError) {
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ ok: false, error: { kind: err.kind, exitCode: err.exitCode, message: err.message, hint: err.hint }, ...err.details })}\n`,
      );
    }
    if (err instanceof ConfigError) for (const p of err.problems) stderr(formatProblem(p));
    else stderr(`error: ${err.message}`);
    if (err.hint) stderr(`hint: ${err.hint}`);
    if (opts.debug && err.stack) stderr(err.stack);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (opts.json)
    process.stdout.write(`${JSON.stringify({ ok: false, error: { kind: "internal", exitCode: 1, message } })}\n`);
  stderr(`internal error: ${message}`);
  stderr(
    opts.debug && err instanceof Error && err.stack
      ? err.stack
      : "run again with --debug for the stack trace; please report it",
  );
  return 1;
}
