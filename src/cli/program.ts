/**
 * The commander program: global flags and the commands that exist. Each command's code is
 * imported only when that command runs, so `--version` and `--help` load commander alone.
 */
import { Command, Option } from "commander";
import { contextFrom, type CommandContext } from "./context.js";

/** A command returns nothing, or the exit code its outcome calls for (e.g. doctor with failed checks). */
type Handler = (ctx: CommandContext<any>) => Promise<number | void>;
type Loader = () => Promise<Record<string, unknown>>;

/** The exit code the command asked for; main.ts applies it. */
export const outcome: { exitCode: number } = { exitCode: 0 };

const commands: Record<string, Loader> = {
  config: () => import("./commands/config.js"),
  init: () => import("./commands/init.js"),
  doctor: () => import("./commands/doctor.js"),
};

function lazy(module: keyof typeof commands, fn: string) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const mod = await commands[module]!();
    const code = await (mod[fn] as Handler)(contextFrom(cmd, args.slice(0, -2)));
    if (typeof code === "number") outcome.exitCode = code;
  };
}

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;
}

export function buildProgram(version: string): Command {
  const program = new Command("lanes")
    .description("Execution lanes for coding agents: sandboxes, tiered models, cost classes, quotas and approvals before anything runs.")
    .version(version, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .option("--json", "machine output (JSON) on stdout; human text goes to stderr")
    .option("-q, --quiet", "print only results and errors")
    .option("--no-color", "no colours")
    .option("--debug", "show stack traces and debug detail")
    .option("--repo <dir>", "repository to work on (default: the current directory)")
    .option("--lane <name>", "lane to use (default from config: async)")
    .option("--tier <name>", "tier to use within the lane")
    .option("-y, --yes", "approve where policy would ask (never overrides a deny)")
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (str, write) => write(`${str.trimEnd().replace(/\n+/g, " ")}\n`) })
    .addHelpText("after", examples("lanes init", "lanes doctor", "lanes config validate --json", "lanes config get lanes.async"));

  const config = program.command("config").description("show, change and validate configuration");
  config
    .command("get")
    .argument("[key]", "dotted path, e.g. lanes.async.budget.capUsd (default: everything)")
    .description("print the effective configuration (all layers merged)")
    .addHelpText("after", examples("lanes config get defaults.lane", "lanes config get lanes.premium --json"))
    .action(lazy("config", "get"));
  config
    .command("set")
    .argument("<key>", "dotted path, e.g. defaults.lane")
    .argument("<value>", "the value, as YAML (e.g. 2, true, premium, [local, standard])")
    .option("--project", "write to lanes.yaml (keeping its comments) instead of your user settings")
    .description("set a value in your user settings (or lanes.yaml with --project); refuses values that do not validate")
    .addHelpText("after", examples("lanes config set identity.team platform", "lanes config set --project lanes.async.budget.capUsd 0.25"))
    .action(lazy("config", "set"));
  config.command("path").description("print where configuration and data live").action(lazy("config", "path"));
  config
    .command("validate")
    .description("check every configuration layer; exit 2 listing each problem as file:line:col")
    .addHelpText("after", examples("lanes config validate", "lanes config validate --json"))
    .action(lazy("config", "validate"));

  program
    .command("init")
    .description("write a commented lanes.yaml, a sandbox Dockerfile and a task template into the repository")
    .option("--force", "overwrite files that already exist")
    .addHelpText("after", examples("lanes init", "lanes init --repo ../service --force"))
    .action(lazy("init", "init"));

  program
    .command("doctor")
    .description("check Node, configuration, Docker hosts and model endpoints, with the next step for each failure")
    .addOption(new Option("--timeout <ms>", "time limit per check").default("5000"))
    .addHelpText("after", examples("lanes doctor", "lanes doctor --json"))
    .action(lazy("doctor", "doctor"));

  return program;
}
