// At build time: gpt-tokenizer's o200k_base and cl100k_base ranks as lanes' binary rank tables
// (dist/ranks/*.bin, see src/adapters/models/rank-table.ts), so counting tokens never loads the
// library's 2.4 MB rank arrays at run time.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildRankTable } from "../dist/adapters/models/rank-table.js";

const out = fileURLToPath(new URL("../dist/ranks/", import.meta.url));
mkdirSync(out, { recursive: true });
for (const encoding of ["o200k_base", "cl100k_base"]) {
  const { default: ranks } = await import(`gpt-tokenizer/bpeRanks/${encoding}`);
  writeFileSync(join(out, `${encoding}.bin`), buildRankTable(ranks));
}
