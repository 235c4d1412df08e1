/**
 * The agent's tools, on the Sandbox port. A failing command or a missing file is an observation
 * for the model, never an exception; only a broken sandbox throws.
 */
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

export async function runTool(
  sandbox: Sandbox,
  call: ToolCall,
  commandTimeoutMs: number,
  signal?: AbortSignal,
): Promise<ToolResult> {
  let args: Record<string, unknown>;
  try {
    args = JSON.parse(call.arguments || "{}") as Record<string, unknown>;
  } catch (err) {
    return { content: `error: the arguments are not valid JSON (${(err as Error).message})`, error: "bad_arguments" };
  }
  const str = (k: string) => (typeof args[k] === "string" ? (args[k] as string) : undefined);
  try {
    switch (call.name) {
      case "bash": {
        const command = str("command");
        if (!command) return { content: "error: bash needs a command", error: "bad_arguments" };
        const o = await sandbox.exec({ command, timeoutMs: commandTimeoutMs, maxOutputBytes: MAX_OBSERVATION }, signal);
        const parts = [
          `exit code: ${o.exitCode}${o.timedOut ? ` (stopped after the ${commandTimeoutMs / 1000} s time limit)` : ""}`,
        ];
        if (o.stdout) parts.push(`stdout:\n${o.stdout}`);
        if (o.stderr) parts.push(`stderr:\n${o.stderr}`);
        return { content: parts.join("\n"), exitCode: o.exitCode, truncatedBytes: o.truncatedBytes };
      }
      case "read_file": {
        const path = str("path");
        if (!path) return { content: "error: read_file needs a path", error: "bad_arguments" };
        const { text, cut } = clip((await sandbox.readFile(path)).toString("utf8"));
        return { content: text, truncatedBytes: cut };
      }
      case "write_file": {
        const path = str("path");
        const content = str("content");
        if (!path || content === undefined)
          return { content: "error: write_file needs path and content", error: "bad_arguments" };
        await sandbox.writeFile(path, content);
        return { content: `wrote ${Buffer.byteLength(content)} bytes to ${path}` };
      }
      case "edit_file": {
        const [path, from, to] = [str("path"), str("old_string"), str("new_string")];
        if (!path || from === undefined || to === undefined || from === "")
          return {
            content: "error: edit_file needs path, a non-empty old_string and new_string",
            error: "bad_arguments",
          };
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
      default:
        return {
          content: `error: there is no tool named ${call.name}; use bash, read_file, write_file, edit_file or finish`,
          error: "unknown_tool",
        };
    }
  } catch (err) {
    // A file-level failure is the model's to see; a broken sandbox is everybody's problem.
    if (err instanceof LanesError && err.kind === "failed")
      return { content: `error: ${err.message}`, error: "failed" };
    throw err;
  }
}
