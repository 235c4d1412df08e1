/** What every command receives: the output mode (decided once), the writer, and its options. */
import type { Command } from "commander";
import { decideMode, type GlobalFlags, type Mode } from "./mode.js";
import { createOutput, type Output } from "./output.js";

export interface CommandContext<O = Record<string, unknown>> {
  mode: Mode;
  out: Output;
  opts: O;
  args: string[];
}

export function contextFrom<O>(cmd: Command, args: unknown[]): CommandContext<O> {
  const mode = decideMode(
    cmd.optsWithGlobals<GlobalFlags>(),
    { stdinIsTTY: process.stdin.isTTY === true, stdoutIsTTY: process.stdout.isTTY === true, env: process.env },
    process.cwd(),
  );
  // ink colours through chalk, which reads FORCE_COLOR when it loads (lazily, after this): NO_COLOR,
  // --no-color and TERM=dumb must reach it too.
  if (!mode.color) process.env.FORCE_COLOR = "0";
  const flat = args.flat().filter((a): a is string => typeof a === "string"); // variadic arguments arrive as arrays
  return { mode, out: createOutput(mode), opts: cmd.opts<O & Record<string, unknown>>(), args: flat };
}
