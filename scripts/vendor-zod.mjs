// At build time: zod as one file. Its ESM build is ~220 modules, and resolving and loading them
// is ~100 ms of every command that validates configuration (most of them); one bundled file
// loads in a fraction of that. The built files import it by relative path; the sources (and the
// tests that run them) keep importing "zod".
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "rolldown";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const out = join(dist, "vendor", "zod.js");
await build({
  input: join(root, "scripts", "zod-entry.mjs"),
  platform: "node",
  logLevel: "warn",
  output: { file: out, format: "esm" },
});

const files = (dir) =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".js") ? [p] : [];
  });
for (const file of files(dist)) {
  if (file === out) continue;
  const text = readFileSync(file, "utf8");
  if (!/from "zod"/.test(text)) continue;
  let rel = relative(dirname(file), out);
  if (!rel.startsWith(".")) rel = `./${rel}`;
  const vendored = text.replace(/import \{ z \} from "zod";/g, `import * as z from "${rel}";`);
  // The sources import zod one way only (`import { z } from "zod"`): anything else is a new form.
  if (/from "zod"/.test(vendored)) throw new Error(`${file}: an import of zod other than \`import { z }\``);
  writeFileSync(file, vendored);
}
