// Writes the table of docs/trust.md from the built trust table (dist/adapters/config/trust.js),
// between its BEGIN/END markers; test/unit/trust.test.ts fails when the two differ.
import { readFileSync, writeFileSync } from "node:fs";
import { trustTableMarkdown } from "../dist/adapters/config/trust.js";

const file = new URL("../docs/trust.md", import.meta.url);
const doc = readFileSync(file, "utf8");
const [begin, end] = ["<!-- BEGIN trust table -->", "<!-- END trust table -->"];
const before = doc.slice(0, doc.indexOf(begin) + begin.length);
const after = doc.slice(doc.indexOf(end));
writeFileSync(file, `${before}\n${trustTableMarkdown()}\n${after}`);
