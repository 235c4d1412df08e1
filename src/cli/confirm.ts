/** A yes/no question in a terminal (Enter alone keeps the default). Only called in interactive mode. */
import { createInterface } from "node:readline/promises";

export async function confirm(question: string, defaultYes: boolean): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const reply = (await rl.question(`${question} ${defaultYes ? "[Y/n]" : "[y/N]"} `)).trim();
    return reply ? /^y(es)?$/i.test(reply) : defaultYes;
  } finally {
    rl.close();
  }
}
