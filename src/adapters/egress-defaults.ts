/**
 * The allowlist of a `network: allowlist` sandbox: the profile's `allow` domains, plus (with
 * `allowDefaults`) the package registries the host itself uses — npm's registry
 * (`npm config get registry`) and pip's index and extra indexes (`pip config list`) where they are
 * http(s) URLs. Read once per process; the plan shows the same list the sandbox gets.
 */
import type { SandboxProfile } from "../core/sandbox.js";

let registries: Promise<string[]> | undefined;

export function egressAllowList(profile: Pick<SandboxProfile, "allow" | "allowDefaults">): Promise<string[]> {
  if (!profile.allowDefaults) return Promise.resolve([...new Set(profile.allow)]);
  registries ??= hostRegistries();
  return registries.then((r) => [...new Set([...profile.allow, ...r])]);
}

async function hostRegistries(): Promise<string[]> {
  const { execa } = await import("execa");
  const run = (cmd: string, args: string[]) =>
    execa(cmd, args, { reject: false, timeout: 10_000 }).then((r) => String(r.stdout ?? ""));
  const [npm, pip] = await Promise.all([
    run("npm", ["config", "get", "registry"]),
    run("python3", ["-m", "pip", "config", "list"]),
  ]);
  const hosts = new Set<string>();
  for (const text of [npm, pip])
    for (const url of text.match(/https?:\/\/[^\s'"]+/g) ?? []) {
      try {
        // host[:port]: the port the registry is really on (none: 443, as the proxy reads it).
        const u = new URL(url);
        const port = u.port || (u.protocol === "http:" ? "80" : "");
        hosts.add(`${u.hostname.toLowerCase()}${port && port !== "443" ? `:${port}` : ""}`);
      } catch {
        /* not a URL */
      }
    }
  return [...hosts];
}
