/**
 * What the agent is told: the system prompt and the tool schemas. The planner counts exactly
 * these tokens, so the first call of a run costs what its plan said.
 */
import type { Message, ToolSpec } from "./models.js";

export const SYSTEM_PROMPT = `You are a coding agent working in a sandboxed copy of a repository at /workspace.
Work in small steps: inspect, change, verify. Use the tools; every command runs in the sandbox
with a time limit, and long output is cut in the middle. When the task is done (or cannot be
done), call finish with a one-paragraph summary of what you changed and why.`;

export const TOOLS: ToolSpec[] = [
  {
    name: "bash",
    description: "Run a shell command in /workspace. Returns exit code, stdout and stderr.",
    parameters: {
      type: "object",
      properties: {
        command: { type: "string", description: "the command line" },
        background: {
          type: "boolean",
          description: "keep it running after this call (a server); otherwise all it started ends with it",
        },
      },
      required: ["command"],
      additionalProperties: false,
    },
  },
  {
    name: "read_file",
    description: "Read a text file in the workspace.",
    parameters: {
      type: "object",
      properties: { path: { type: "string" } },
      required: ["path"],
      additionalProperties: false,
    },
  },
  {
    name: "write_file",
    description: "Create or overwrite a file in the workspace with the given content.",
    parameters: {
      type: "object",
      properties: { path: { type: "string" }, content: { type: "string" } },
      required: ["path", "content"],
      additionalProperties: false,
    },
  },
  {
    name: "edit_file",
    description:
      "Replace one exact occurrence of old_string with new_string in a file. Fails if old_string is absent or appears more than once.",
    parameters: {
      type: "object",
      properties: { path: { type: "string" }, old_string: { type: "string" }, new_string: { type: "string" } },
      required: ["path", "old_string", "new_string"],
      additionalProperties: false,
    },
  },
  {
    name: "finish",
    description: "End the task with a summary of what was done.",
    parameters: {
      type: "object",
      properties: { summary: { type: "string" } },
      required: ["summary"],
      additionalProperties: false,
    },
  },
];

/** The first call's messages: system prompt, then the task with a short view of the repository. */
export function firstMessages(task: string, repoFiles: string[]): Message[] {
  const shown = repoFiles.slice(0, 200);
  const listing =
    shown.join("\n") + (repoFiles.length > shown.length ? `\n… and ${repoFiles.length - shown.length} more files` : "");
  return [
    { role: "system", content: SYSTEM_PROMPT },
    { role: "user", content: `Task:\n${task}\n\nFiles in the repository (${repoFiles.length}):\n${listing}` },
  ];
}
