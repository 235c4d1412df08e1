/**
 * Entry point. The only place that turns errors into exit codes (via process.exitCode, so
 * streams flush and ink unmounts), and the only top-level catch.
 */
import { readFileSync } from "node:fs";
import { CommanderError } from "commander";
import { buildProgram, outcome } from "./program.js";
import { packageFile } from "../adapters/own-files.js";

const { version } = JSON.parse(readFileSync(packageFile("package.json"), "utf8")) as {
  version: string;
};
const argv = process.argv.slice(2);
// If the event loop ever drains while a command is still waiting (a prompt nobody can answer, a
// promise nothing settles), Node would exit 0 as if all went well: say so and fail instead.
let finished = false;
process.once("exit", () => {
  if (finished) return;
  process.stderr.write("internal error: lanes stopped before the command finished (nothing was left to wait for)\n");
  process.exitCode = 1;
});
// `lanes … | head`: the reader went away. That is not an error worth a stack trace: what is
// still written goes nowhere, and the command ends as it would have.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
});
const program = buildProgram(version);

try {
  if (argv.length === 0) program.outputHelp();
  else {
    await program.parseAsync(process.argv);
    process.exitCode = outcome.exitCode;
  }
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end through here too, with exit code 0.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
    if (err.exitCode !== 0 && !["commander.help", "commander.helpDisplayed"].includes(err.code))
      process.stderr.write("run `lanes --help` for usage\n");
  } else {
    const { reportError } = await import("./report-error.js");
    process.exitCode = reportError(err, { json: argv.includes("--json"), debug: argv.includes("--debug") });
  }
}
finished = true;
