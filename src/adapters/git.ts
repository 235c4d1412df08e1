/**
 * git on the host. Plain node:child_process rather than execa: these calls sit on the start-up
 * path of every plan, and importing execa alone costs ~100 ms there.
 */
import { execFile } from "node:child_process";

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function git(args: string[], cwd: string): Promise<GitResult> {
  return new Promise((resolve) => {
    execFile("git", args, { cwd, maxBuffer: 256 * 1024 * 1024, encoding: "utf8" }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === "number"
          ? (err as { code: number }).code
          : 127
        : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
