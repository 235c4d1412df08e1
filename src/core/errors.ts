import { EXIT_CODE_OF_KIND, type ErrorKind, type ExitCodeValue } from "./exit-codes.js";

/**
 * Typed errors. Anything that is not the task's own failure (a broken config, an unreachable
 * Docker host or endpoint, an approval not given, a quota) is a LanesError carrying its exit code
 * (exit-codes.ts) and a hint saying what to do next. Only src/cli/main.ts turns them into exit codes.
 */
export { ExitCode, type ErrorKind, type ExitCodeValue } from "./exit-codes.js";

/** One problem in a configuration file, located for the user. */
export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the field, e.g. `lanes.async.budget.capUsd`; empty for a syntax error. */
  path: string;
  message: string;
}

export class LanesError extends Error {
  readonly kind: ErrorKind;
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  /** Extra machine-readable fields for `--json` output. */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    kind: ErrorKind,
    message: string,
    opts: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "LanesError";
    this.kind = kind;
    this.exitCode = EXIT_CODE_OF_KIND[kind];
    this.hint = opts.hint;
    this.details = opts.details;
  }
}

/** A configuration file (or several) failed validation; every problem is listed. */
export class ConfigError extends LanesError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[], hint = "fix the file(s) above; `lanes config validate` re-checks them") {
    const first = problems[0];
    const summary = first
      ? `${formatProblem(first)}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ""}`
      : "invalid configuration";
    super("config", summary, { hint, details: { errors: problems } });
    this.problems = problems;
  }
}

export function formatProblem(p: ConfigProblem): string {
  // Environment variables and flags have no position: just their name.
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}
