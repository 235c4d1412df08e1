/**
 * The output mode, decided once at start-up. Interactive needs a terminal on both ends and no CI;
 * everything else is plain text or JSON, and never waits for input.
 */
import { isCI } from "../core/ci.js";

export type OutputKind = "interactive" | "plain" | "json";

export interface GlobalFlags {
  json?: boolean;
  quiet?: boolean;
  color?: boolean; // commander's --no-color sets this to false
  debug?: boolean;
  repo?: string;
  lane?: string;
  tier?: string;
  yes?: boolean;
}

export interface Mode {
  kind: OutputKind;
  color: boolean;
  quiet: boolean;
  debug: boolean;
  yes: boolean;
  repo: string;
  lane: string | undefined;
  tier: string | undefined;
}

export interface Terminal {
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  env: Record<string, string | undefined>;
}

export { isCI };

export function decideMode(flags: GlobalFlags, term: Terminal, cwd: string): Mode {
  const kind: OutputKind = flags.json
    ? "json"
    : term.stdinIsTTY && term.stdoutIsTTY && !isCI(term.env)
      ? "interactive"
      : "plain";
  const color =
    flags.color !== false &&
    !("NO_COLOR" in term.env) &&
    term.env.TERM !== "dumb" &&
    (kind === "interactive" || term.env.FORCE_COLOR !== undefined);
  return {
    kind,
    color,
    quiet: flags.quiet === true,
    debug: flags.debug === true,
    yes: flags.yes === true,
    repo: flags.repo ?? cwd,
    lane: flags.lane,
    tier: flags.tier,
  };
}
