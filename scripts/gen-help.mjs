// At build time: lanes' top-level help, as commander writes it for an 80-column (or piped)
// output, saved to dist/help.txt so `lanes --help` can print it without loading the CLI.
import { readFileSync, writeFileSync } from "node:fs";

const { buildProgram } = await import("../dist/cli/program.js");
const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const program = buildProgram(version);
let text = "";
program.configureOutput({
  writeOut: (s) => (text += s),
  getOutHelpWidth: () => 80,
  getOutHasColors: () => false,
});
program.outputHelp();
writeFileSync(new URL("../dist/help.txt", import.meta.url), text);
