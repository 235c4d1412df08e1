/** `lanes endpoints …`: the model endpoints' commands (registered by program.ts). */
import type { Command } from "commander";

type Lazy = (module: "endpoints" | "endpoint-server", fn: string) => (...args: unknown[]) => Promise<void>;

export function endpointCommands(program: Command, lazy: Lazy, examples: (...lines: string[]) => string): void {
  const endpoints = program
    .command("endpoints")
    .description("model endpoints of every tier (llama.cpp, hosted OpenAI-compatible APIs)");
  endpoints
    .command("ls")
    .description("tier, endpoint, model, price (or unpriced) and context window")
    .action(lazy("endpoints", "ls"));
  endpoints
    .command("calibrate")
    .argument("[name]", "endpoint id (default: every local endpoint)")
    .description("measure a local llama.cpp endpoint's prompt and generation speed; plans then use it")
    .addHelpText("after", examples("lanes endpoints calibrate", "lanes endpoints calibrate llama --json"))
    .action(lazy("endpoints", "calibrate"));
  endpoints
    .command("check")
    .argument("[name]", "endpoint id or tier (default: all)")
    .option("--timeout <ms>", "time limit per endpoint", "5000")
    .description(
      "reachable, latency, model served, context window; llama.cpp health and slots. Exit 6 when one is down",
    )
    .addHelpText("after", examples("lanes endpoints check", "lanes endpoints check local --json"))
    .action(lazy("endpoints", "check"));
  endpoints
    .command("add")
    .option("--local-url <url>", "a local OpenAI-compatible server to add (default: probe the usual ports)")
    .description(
      "find endpoints you have (local servers on their usual ports, API keys in the environment) and add them to lanes.yaml",
    )
    .addHelpText(
      "after",
      examples("lanes endpoints add", "lanes endpoints add --local-url http://127.0.0.1:8081/v1 --yes"),
    )
    .action(lazy("endpoints", "add"));
  endpoints
    .command("up")
    .argument("<name>", "endpoint id (in lanes.yaml's local tier, or added there)")
    .option("--model <file>", "GGUF model file to serve")
    .option("--gpu", "offload every layer to the GPU (llama-server -ngl 999)")
    .option("--slots <n>", "parallel requests (llama-server -np)", "1")
    .option("--ctx <n>", "context window per slot, in tokens", "8192")
    .option("--port <n>", "port (default: the one in lanes.yaml, else any free one)")
    .option("--server <path>", "llama-server binary (default: LANES_LLAMA_SERVER, PATH, then lanes' own build)")
    .option("--timeout <s>", "seconds to wait for the model to load", "180")
    .description("start a local llama.cpp server, wait until it is healthy, and record it (down stops it)")
    .addHelpText(
      "after",
      examples(
        "lanes endpoints up llama --model ~/models/qwen2.5-coder-7b-q4_k_m.gguf --gpu --slots 4 --ctx 16384 --yes",
        "lanes endpoints up llama --model ./tiny.gguf --json",
      ),
    )
    .action(lazy("endpoint-server", "up"));
  endpoints
    .command("down")
    .argument("<name>", "endpoint id started with `lanes endpoints up`")
    .description("stop a local llama.cpp server that `lanes endpoints up` started")
    .addHelpText("after", examples("lanes endpoints down llama"))
    .action(lazy("endpoint-server", "down"));
  endpoints
    .command("replay")
    .argument("<file>", "replay script (YAML or JSON; see the README)")
    .option("--port <n>", "port (default: any free one)")
    .option("--host <addr>", "address to listen on", "127.0.0.1")
    .description("serve a replay script as an OpenAI-compatible endpoint; prints its URL")
    .addHelpText("after", examples("lanes endpoints replay examples/demo/fix-add.replay.yaml --port 8099"))
    .action(lazy("endpoints", "replay"));
}
