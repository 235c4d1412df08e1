/**
 * The agent's tools, on the Sandbox port. A failing command or a missing file is an observation
 * for the model, never an exception; only a broken sandbox throws.
 */
import { z } from "zod";
import { LanesError } from "./errors.js";
import type { ToolCall } from "./models.js";
import { truncationMarker, type Sandbox } from "./sandbox.js";

export interface ToolResult {
  content: string;
  exitCode?: number;
  error?: string;
  truncatedBytes?: number;
}

export const MAX_OBSERVATION = 20_000;

/** Keep the head and the tail of a long text, marking the cut. */
export function clip(text: string, max = MAX_OBSERVATION): { text: string; cut: number } {
  if (text.length <= max) return { text, cut: 0 };
  const half = Math.floor(max / 2);
  const cut = text.length - 2 * half;
  return { text: `${text.slice(0, half)}${truncationMarker(cut, "characters")}${text.slice(-half)}`, cut };
}

/** What each tool accepts; anything else is an observation for the model, never a crash. */
const ARGS = {
  bash: z.object({ command: z.string().min(1), background: z.boolean().optional() }),
  read_file: z.object({ path: z.string().min(1) }),
  write_file: z.object({ path: z.string().min(1), content: z.string() }),
  edit_file: z.object({ path: z.string().min(1), old_string: z.string().min(1), new_string: z.string() }),
};
type ToolName = keyof typeof ARGS;
type Parsed = { [K in ToolName]: { name: K; args: z.infer<(typeof ARGS)[K]> } }[ToolName];

function parseArgs(call: ToolCall): Parsed | ToolResult {
  if (!(call.name in ARGS))
    return {
      content: `error: there is no tool named ${call.name}; use bash, read_file, write_file, edit_file or finish`,
      error: "unknown_tool",
    };
  let raw: unknown;
  try {
    raw = JSON.parse(call.arguments || "{}");
  } catch (err) {
    return { content: `error: the arguments are not valid JSON (${(err as Error).message})`, error: "bad_arguments" };
  }
  const name = call.name as ToolName;
  const parsed = ARGS[name].safeParse(raw ?? {});
  if (parsed.success) return { name, args: parsed.data } as Parsed;
  const why = parsed.error.issues.map((i) => `${i.path.join(".") || "arguments"}: ${i.message}`).join("; ");
  return { content: `error: bad arguments for ${name} (${why})`, error: "bad_arguments" };
}

export async function runTool(
  sandbox: Sandbox,
  call: ToolCall,
  commandTimeoutMs: number,
  signal?: AbortSignal,
): Promise<ToolResult> {
  const parsed = parseArgs(call);
  if ("content" in parsed) return parsed;
  try {
    switch (parsed.name) {
      case "bash": {
        const { command, background } = parsed.args;
        const o = await sandbox.exec(
          {
            command,
            timeoutMs: commandTimeoutMs,
            maxOutputBytes: MAX_OBSERVATION,
            ...(background ? { background } : {}),
          },
          signal,
        );
        const parts = [
          `exit code: ${o.exitCode}${o.timedOut ? ` (stopped after the ${commandTimeoutMs / 1000} s time limit)` : ""}`,
        ];
        if (o.stdout) parts.push(`stdout:\n${o.stdout}`);
        if (o.stderr) parts.push(`stderr:\n${o.stderr}`);
        return { content: parts.join("\n"), exitCode: o.exitCode, truncatedBytes: o.truncatedBytes };
      }
      case "read_file": {
        const { path } = parsed.args;
        const { text, cut } = clip((await sandbox.readFile(path)).toString("utf8"));
        return { content: text, truncatedBytes: cut };
      }
      case "write_file": {
        const { path, content } = parsed.args;
        await sandbox.writeFile(path, content);
        return { content: `wrote ${Buffer.byteLength(content)} bytes to ${path}` };
      }
      case "edit_file": {
        const { path, old_string: from, new_string: to } = parsed.args;
        const text = (await sandbox.readFile(path)).toString("utf8");
        const count = text.split(from).length - 1;
        if (count === 0)
          return {
            content: `error: old_string was not found in ${path}; read the file and copy the text exactly`,
            error: "not_found",
          };
        if (count > 1)
          return {
            content: `error: old_string appears ${count} times in ${path}; include more surrounding lines so it is unique`,
            error: "ambiguous",
          };
        await sandbox.writeFile(
          path,
          text.replace(from, () => to),
        );
        return { content: `edited ${path}: replaced 1 occurrence` };
      }
    }
  } catch (err) {
    // A file-level failure is the model's to see; a broken sandbox is everybody's problem.
    if (err instanceof LanesError && err.kind === "failed")
      return { content: `error: ${err.message}`, error: "failed" };
    throw err;
  }
}
