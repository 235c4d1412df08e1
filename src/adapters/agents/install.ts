/**
 * Installing an external agent into an image without a registry: its npm package is fetched on
 * this machine (`npm pack`, through the host's npm configuration and CA), the files it needs are
 * taken out of the tarball into lanes' cache (keyed by the pinned version), and a Dockerfile
 * copies them onto the profile's image as one layer.
 */
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { spawn } from "node:child_process";
import tar from "tar-stream";
import { LanesError } from "../../core/errors.js";
import { cacheDir } from "../config/paths.js";
import { AGENT_DIR, type ExternalAgent } from "./adapters.js";

/** The build context for an agent's layer (fetched once per version); returns its directory. */
export async function stageAgent(agent: ExternalAgent, onLine?: (line: string) => void): Promise<string> {
  const pkg = agent.pkg;
  if (!pkg) throw new LanesError("usage", `agent ${agent.name} has nothing to install`);
  const dir = join(cacheDir(), "agents", `${agent.name}-${pkg.version}`);
  if (existsSync(join(dir, "Dockerfile"))) return dir;
  mkdirSync(join(cacheDir(), "agents"), { recursive: true });
  const tmp = mkdtempSync(join(cacheDir(), "agents", `.${agent.name}-`));
  try {
    onLine?.(`fetching ${pkg.spec} from the npm registry`);
    await npmPack(pkg.spec, tmp);
    const tgz = readdirSync(tmp).find((f) => f.endsWith(".tgz"));
    if (!tgz) throw new LanesError("failed", `npm pack ${pkg.spec} left no tarball`);
    const files = join(tmp, "files");
    mkdirSync(files);
    const found = await extract(join(tmp, tgz), pkg.files, files);
    const missing = Object.keys(pkg.files).filter((f) => !found.has(f));
    if (missing.length) throw new LanesError("failed", `${pkg.spec} has no ${missing.join(", ")}`);
    rmSync(join(tmp, tgz));
    writeFileSync(join(tmp, "Dockerfile"), `ARG BASE\nFROM \${BASE}\nCOPY files/ ${AGENT_DIR}/${agent.name}/\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    return dir;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function npmPack(spec: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn("npm", ["pack", spec, "--pack-destination", dest, "--silent"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    p.stderr.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    p.on("error", (e) => reject(new LanesError("failed", `npm could not be run: ${e.message}`)));
    p.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(
            new LanesError("failed", `npm pack ${spec} failed (exit ${code}): ${err.trim()}`, {
              hint: "the npm registry must be reachable from this machine (npm config get registry)",
            }),
          ),
    );
  });
}

/** Write the wanted entries of a .tgz under `dest` (executable); returns the ones found. */
function extract(tgz: string, wanted: Record<string, string>, dest: string): Promise<Set<string>> {
  return new Promise((resolve, reject) => {
    const found = new Set<string>();
    const ex = tar.extract();
    ex.on("entry", (header, stream, next) => {
      const name = wanted[header.name];
      if (!name) {
        stream.on("end", next);
        return stream.resume();
      }
      // Streamed to disk: an agent's binary can be hundreds of MB.
      const out = createWriteStream(join(dest, name), { mode: 0o755 });
      out.on("finish", () => {
        found.add(header.name);
        next();
      });
      out.on("error", reject);
      stream.pipe(out);
    });
    ex.on("finish", () => resolve(found));
    ex.on("error", reject);
    createReadStream(tgz).pipe(createGunzip()).on("error", reject).pipe(ex);
  });
}
