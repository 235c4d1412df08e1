/**
 * The commander program: global flags and the commands that exist. Each command's code is
 * imported only when that command runs, so `--version` and `--help` load commander alone.
 */
import { Command, Option } from "commander";
import { contextFrom, type CommandContext } from "./context.js";
import { endpointCommands } from "./program-endpoints.js";

/** A command returns nothing, or the exit code its outcome calls for (e.g. doctor with failed checks). */
type Handler = (ctx: CommandContext<any>) => Promise<number | void>;
type Loader = () => Promise<Record<string, unknown>>;

/** The exit code the command asked for; main.ts applies it. */
export const outcome: { exitCode: number } = { exitCode: 0 };

const commands: Record<string, Loader> = {
  config: () => import("./commands/config.js"),
  init: () => import("./commands/init.js"),
  doctor: () => import("./commands/doctor.js"),
  sandbox: () => import("./commands/sandbox.js"),
  hosts: () => import("./commands/hosts.js"),
  images: () => import("./commands/images.js"),
  endpoints: () => import("./commands/endpoints.js"),
  "endpoint-server": () => import("./commands/endpoint-server.js"),
  plan: () => import("./commands/plan.js"),
  approve: () => import("./commands/approve.js"),
  quota: () => import("./commands/quota.js"),
  audit: () => import("./commands/audit.js"),
  run: () => import("./commands/run.js"),
  runs: () => import("./commands/runs.js"),
  batch: () => import("./commands/batch.js"),
  report: () => import("./commands/report.js"),
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
    .description(
      "Execution lanes for coding agents: sandboxes, tiered models, cost classes, quotas and approvals before anything runs.",
    )
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
    .addHelpText(
      "after",
      examples("lanes init", "lanes doctor", "lanes config validate --json", "lanes config get lanes.async"),
    );

  const config = program.command("config").description("show, change and validate configuration");
  config
    .command("get")
    .argument("[key]", "dotted path, e.g. lanes.async.budget.capUsd (default: everything)")
    .option("--explain", "say which layer set the value and which org policy floor applies")
    .description("print the effective configuration (all layers merged)")
    .addHelpText(
      "after",
      examples(
        "lanes config get defaults.lane",
        "lanes config get lanes.premium --json",
        "lanes config get lanes.async.budget.capUsd --explain",
      ),
    )
    .action(lazy("config", "get"));
  config
    .command("set")
    .argument("<key>", "dotted path, e.g. defaults.lane")
    .argument("<value>", "the value, as YAML (e.g. 2, true, premium, [local, standard])")
    .option("--project", "write to lanes.yaml (keeping its comments) instead of your user settings")
    .description(
      "set a value in your user settings (or lanes.yaml with --project); refuses values that do not validate",
    )
    .addHelpText(
      "after",
      examples("lanes config set identity.team platform", "lanes config set --project lanes.async.budget.capUsd 0.25"),
    )
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
    .option("--local-url <url>", "a local OpenAI-compatible server to use (default: probe the usual ports)")
    .addHelpText(
      "after",
      "\nIt also looks for endpoints you have: a llama.cpp, Ollama, vLLM or LM Studio server on its usual port,\n" +
        "and OPENAI_API_KEY / OPENAI_BASE_URL / ANTHROPIC_API_KEY in the environment; it asks before adding\n" +
        "them to lanes.yaml (--yes accepts).\n" +
        examples("lanes init", "lanes init --yes", "lanes init --local-url http://127.0.0.1:8081/v1 --yes"),
    )
    .action(lazy("init", "init"));

  program
    .command("doctor")
    .description("check Node, configuration, Docker hosts and model endpoints, with the next step for each failure")
    .addOption(new Option("--timeout <ms>", "time limit per check").default("5000"))
    .addHelpText("after", examples("lanes doctor", "lanes doctor --json"))
    .action(lazy("doctor", "doctor"));

  program
    .command("plan")
    .argument("<task>", "the task: text, or @file")
    .option("--out <file>", "save the plan (approve it with `lanes approve FILE`, run it with `lanes run --plan FILE`)")
    .option("--check", "exit with the verdict: 0 allow, 3 ask or policy deny, 4 quota deny or delay (a CI pre-check)")
    .option("--endpoint <name>", "plan on this endpoint id, or on replay:FILE (a replay script; no API key needed)")
    .option("--set <key=value...>", "a task template's variables (TASK is then the template's name)")
    .option("--agent <name>", "plan for this agent: lanes (default) or codex; --agent-cmd for your own")
    .option("--agent-cmd <command>", "plan for your own agent command behind the gateway")
    .description(
      "show the lane, tier, cost class (p50–p90, cap), quota impact and the policy decision — spends and reserves nothing",
    )
    .addHelpText(
      "after",
      examples(
        'lanes plan "fix the failing test"',
        "lanes plan @task.md --lane premium --json",
        'lanes plan "bump deps" --out plan.json --check',
      ),
    )
    .action(lazy("plan", "plan"));
  program
    .command("run")
    .argument("[task]", "the task: text, @file, or a task template name (with --set key=value)")
    .option("--plan <file>", "run a saved, approved plan (refused when stale)")
    .option("--endpoint <name>", "an endpoint id, or replay:FILE to replay a script (no API key needed)")
    .option("--record-history", "let a replay run teach the estimator (replays are free and not learned from)")
    .option("--agent <name>", "who runs the task: lanes (own loop, default), codex (Codex CLI behind the gateway)")
    .option("--agent-cmd <command>", "run your own agent command behind the gateway (OPENAI_BASE_URL etc. are set)")
    .option("--set <key=value...>", "template variables")
    .option("--apply", "apply the patch to the working tree (refused if the tree changed meanwhile)")
    .option("--branch <name>", "commit the patch on a new branch (the working tree is not touched)")
    .option(
      "--wait <duration>",
      "when the plan is delayed (lane full, window closed, slots busy), wait up to this long (e.g. 90s, 10m)",
    )
    .description("plan, decide, reserve, run the agent in a hardened sandbox, check, and bring back a patch")
    .addHelpText(
      "after",
      examples(
        'lanes run "fix the failing test" --yes',
        "lanes run fix-failing-test --set test_command='npm test' --apply",
        "lanes run --plan plan.json --json",
        "lanes run @task.md --endpoint replay:examples/demo/fix.replay.yaml",
        'lanes run "fix the failing test" --agent codex --yes',
      ),
    )
    .action(lazy("run", "run"));
  program
    .command("batch")
    .argument("[file]", "batch file (YAML): tasks, or a matrix of repositories x a task or template")
    .option("--concurrency <n>", "sandboxes at once (capped by the lane's concurrency)")
    .option("--resume <id>", "resume a batch after a crash: runs only what did not finish")
    .option("--dry-run", "print the aggregated plan and exit")
    .option("--fail-fast", "stop scheduling after the first failed task")
    .option("--agent <name>", "who runs every task: lanes (default) or codex")
    .option("--agent-cmd <command>", "run your own agent command behind the gateway for every task")
    .option("--apply", "apply each passing task's patch to its repository's working tree")
    .option("--branch <name>", "commit each passing task's patch on a new branch in its repository")
    .description("one plan, one approval and one budget for many tasks in parallel sandboxes")
    .addHelpText(
      "after",
      examples(
        "lanes batch refactor.yaml --dry-run",
        "lanes batch refactor.yaml --yes --concurrency 4 --json",
        "lanes batch refactor.yaml --yes --branch lanes/refactor",
        "lanes batch --resume b1k2x3y4z5",
      ),
    )
    .action(lazy("batch", "batch"));
  const runs = program.command("runs").description("past runs: status, cost against projection, timeline");
  runs.command("ls").description("recent runs").action(lazy("runs", "ls"));
  runs
    .command("show")
    .argument("<id>", "run id (a prefix is enough)")
    .description("the timeline of a run: model, tool and sandbox time, tokens, tool calls, cost")
    .action(lazy("runs", "show"));
  program
    .command("approve")
    .argument("<plan>", "a plan file from `lanes plan --out`")
    .description(
      "approve a saved plan (in a terminal; without one, --yes) — records who, signs with LANES_APPROVAL_KEY when set",
    )
    .addHelpText("after", examples("lanes approve plan.json", "LANES_APPROVAL_KEY=… lanes approve plan.json --yes"))
    .action(lazy("approve", "approve"));
  program
    .command("quota")
    .description("every quota bucket: used, held, limit, level, when it resets")
    .action(lazy("quota", "quota"));
  const audit = program.command("audit").description("the decision trail (append-only, hash-chained)");
  audit
    .command("ls")
    .option("--since <when>", "30m, 12h, 7d or a date")
    .description("list records")
    .action(lazy("audit", "ls"));
  audit
    .command("verify")
    .option("--repair", "set aside partial or unanchored lines (kept in a side file, and recorded)")
    .description("check the hash chain against the head anchored in the ledger; exit 1 naming the first bad record")
    .addHelpText("after", examples("lanes audit verify", "lanes audit verify --repair --json"))
    .action(lazy("audit", "verify"));

  const sandbox = program
    .command("sandbox")
    .description("hardened Docker sandboxes by hand (the agent runs in the same ones)");
  const placement = (c: Command) =>
    c
      .option("--host <name>", "Docker host (default: the profile's)")
      .option("--profile <name>", "sandbox profile (default: the lane's)")
      .option("--no-workspace", "do not copy the repository in");
  placement(sandbox.command("up"))
    .description("start a sandbox with a copy of the repository; it lives until its TTL or `sandbox rm`")
    .addHelpText("after", examples("lanes sandbox up", "lanes sandbox up --host gpu-box --profile compat --json"))
    .action(lazy("sandbox", "up"));
  sandbox
    .command("exec")
    .argument("<id>", "sandbox id (from `sandbox up` or `sandbox ls`)")
    .argument("<command...>", "command (after --); one argument is run as a shell line")
    .option("--timeout <duration>", "time limit, enforced inside the sandbox", "10m")
    .description("run a command in a sandbox; passes its output through and exits with its code")
    .addHelpText(
      "after",
      examples("lanes sandbox exec 3f9c2a1b7e -- npm test", "lanes sandbox exec 3f9c2a1b7e -- 'ls -la | head'"),
    )
    .action(lazy("sandbox", "exec"));
  placement(sandbox.command("run"))
    .argument("<command...>", "command (after --)")
    .option("--timeout <duration>", "time limit, enforced inside the sandbox", "10m")
    .option("--diff", "print the workspace diff afterwards")
    .description("run one command in a fresh sandbox holding a copy of the repository, then remove it")
    .addHelpText(
      "after",
      examples("lanes sandbox run -- npm test", "lanes sandbox run --diff -- 'sed -i s/foo/bar/ src/x.js'"),
    )
    .action(lazy("sandbox", "run"));
  sandbox.command("ls").description("list lanes sandboxes on every configured host").action(lazy("sandbox", "ls"));
  sandbox
    .command("rm")
    .argument("<id...>", "sandbox ids")
    .description("remove sandboxes (container, workspace volume, network)")
    .action(lazy("sandbox", "rm"));
  sandbox
    .command("gc")
    .option("--all", "remove every lanes sandbox (and every setup cache), not only expired and orphaned ones")
    .option("--deps-older-than <duration>", "remove setup caches (lanes-deps:*) built longer ago than this", "30d")
    .description(
      "remove expired and orphaned sandboxes now (this also runs at the start of every sandbox command), and old setup caches",
    )
    .action(lazy("sandbox", "gc"));

  const hosts = program
    .command("hosts")
    .description("Docker engines sandboxes run on (local socket, tcp + mutual TLS, ssh)");
  hosts
    .command("add")
    .argument("<name>", "a name for the host")
    .requiredOption("--url <url>", "tcp://ADDR:2376, ssh://USER@HOST or unix:///path")
    .option("--tls-ca <file>", "CA that signed the engine's certificate")
    .option("--tls-cert <file>", "client certificate")
    .option("--tls-key <file>", "client key")
    .option("--capacity <n>", "most sandboxes at once on this host")
    .option("--no-check", "add it without connecting first")
    .description("register a Docker host in your user settings (checked first)")
    .addHelpText(
      "after",
      examples(
        "lanes hosts add gpu-box --url tcp://10.0.0.5:2376 --tls-ca ca.pem --tls-cert cert.pem --tls-key key.pem",
      ),
    )
    .action(lazy("hosts", "add"));
  hosts.command("ls").description("list configured hosts").action(lazy("hosts", "ls"));
  hosts
    .command("check")
    .argument("[name]", "host (default: all)")
    .option("--timeout <ms>", "time limit", "5000")
    .description("reachability, Docker and API version, images present, running sandboxes, capacity")
    .action(lazy("hosts", "check"));
  hosts
    .command("rm")
    .argument("<name>", "host")
    .description("remove a host from your user settings")
    .action(lazy("hosts", "rm"));

  const images = program.command("images").description("sandbox images without a registry");
  images
    .command("build")
    .option("--host <name>", "build on this host (default: the profile's)")
    .option("--profile <name>", "profile whose image to build (default: the lane's)")
    .option(
      "--base <image>",
      "base image (BASE build arg); default: the offline base lanes-base:bookworm-3 for lanes' own Dockerfile, lanes-sandbox:lanes for a project's",
    )
    .option("--tag <image>", "tag (default: the profile's image)")
    .option("--deps", "instead: run the lane's setup once and cache its dependencies (before a batch, in CI)")
    .option("--agent <name>", "instead: add an external agent (codex) to the profile's image, from the npm registry")
    .description("build the sandbox image from .lanes/sandbox (or lanes' template)")
    .addHelpText(
      "after",
      examples(
        "lanes images build",
        "lanes images build --host gpu-box --base debian:bookworm-slim",
        "lanes images build --deps --lane ci-fix --yes",
        "lanes images build --agent codex",
      ),
    )
    .action(lazy("images", "build"));
  images
    .command("push")
    .argument("<image>", "image on the local engine")
    .requiredOption("--host <name>", "remote host to copy it to")
    .description("stream an image from the local engine to a remote one (save → load)")
    .addHelpText("after", examples("lanes images push lanes-sandbox:latest --host gpu-box"))
    .action(lazy("images", "push"));

  program
    .command("report")
    .option("--since <duration>", "period to report, back from now (30d, 12h)", "30d")
    .option("--by <groups>", "group by any of team, user, project, lane, tier, day (comma-separated)", "team,lane")
    .option("--md", "Markdown (for a CI step summary or a wiki page)")
    .description("spend and usage from the store by team, user, project, lane, tier and day, with estimate accuracy")
    .addHelpText(
      "after",
      examples(
        "lanes report",
        "lanes report --since 7d --by user,day --json",
        "lanes report --md >> $GITHUB_STEP_SUMMARY",
      ),
    )
    .action(lazy("report", "report"));

  endpointCommands(program, lazy, examples);

  return program;
}
