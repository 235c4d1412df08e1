/**
 * Token counting on the other core: loading an encoding is ~180 ms of parsing, so `lanes plan`
 * starts this worker first and it loads while the main thread reads config, git and the ledger.
 */
import { parentPort, workerData } from "node:worker_threads";
import { countPieces } from "./token-pieces.js";

const { encoding } = workerData as { encoding: "o200k_base" | "cl100k_base" };
const mod =
  encoding === "o200k_base"
    ? await import("gpt-tokenizer/encoding/o200k_base")
    : await import("gpt-tokenizer/encoding/cl100k_base");
const plain = { disallowedSpecial: new Set<string>() };
parentPort!.on("message", (msg: { id: number; parts: string[] }) => {
  const counts = msg.parts.map((p) => countPieces((t) => mod.encode(t, plain), p));
  parentPort!.postMessage({ id: msg.id, counts });
});
parentPort!.postMessage({ ready: true });
