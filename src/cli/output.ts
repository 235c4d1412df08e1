/**
 * Writing for humans and machines. In JSON mode stdout carries only machine output and every
 * human line goes to stderr; in plain and interactive mode results go to stdout.
 */
import type { Mode } from "./mode.js";

import { STYLE_CODES as codes, type Style } from "../report/style.js";

export type { Style };

export interface Output {
  mode: Mode;
  /** Emit a command's result: JSON in json mode, `plain(data)` otherwise. */
  result<T>(data: T, plain: (data: T) => string): void;
  /** A human note (progress, hints) on stderr; silenced by --quiet. */
  info(message: string): void;
  /** A warning on stderr; never silenced. */
  warn(message: string): void;
  style(style: Style, text: string): string;
}

export function createOutput(
  mode: Mode,
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
): Output {
  const style = (s: Style, text: string) => (mode.color ? `\u001b[${codes[s]}m${text}\u001b[0m` : text);
  return {
    mode,
    style,
    result(data, plain) {
      if (mode.kind === "json") stdout.write(`${JSON.stringify(data)}\n`);
      else {
        const text = plain(data);
        if (text) stdout.write(text.endsWith("\n") ? text : `${text}\n`);
      }
    },
    info(message) {
      if (!mode.quiet) stderr.write(`${message}\n`);
    },
    warn(message) {
      stderr.write(`${style("yellow", "warning:")} ${message}\n`);
    },
  };
}
