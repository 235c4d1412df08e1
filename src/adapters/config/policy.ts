/**
 * The org policy: configuration in the same schema as lanes.yaml, set by a platform team above
 * every repository. It comes from /etc/lanes/policy.yaml when that file exists (always: an
 * environment variable cannot switch it off) and from LANES_POLICY (a file path, or an https://
 * URL that must be pinned by LANES_POLICY_SHA256 or a `#sha256=HEX` suffix). Its values are
 * floors: see floors.ts.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { LanesError } from "../../core/errors.js";

export const SYSTEM_POLICY_FILE = "/etc/lanes/policy.yaml";

type Env = Record<string, string | undefined>;

export interface PolicyText {
  /** The file path or URL (without its #sha256= pin), as shown to the user. */
  source: string;
  text: string;
  sha256: string;
}

interface Location {
  location: string;
  url: boolean;
  pin: string | undefined;
}

const MAX_POLICY_BYTES = 1024 * 1024;

function locations(env: Env): Location[] {
  const out: Location[] = [];
  if (existsSync(SYSTEM_POLICY_FILE)) out.push({ location: SYSTEM_POLICY_FILE, url: false, pin: undefined });
  const raw = env.LANES_POLICY?.trim();
  if (raw) {
    const [location, fragment] = raw.split("#", 2) as [string, string | undefined];
    const fromFragment = fragment?.startsWith("sha256=") ? fragment.slice("sha256=".length) : undefined;
    const pin = (fromFragment ?? env.LANES_POLICY_SHA256)?.trim().toLowerCase() || undefined;
    out.push({ location, url: /^[a-z]+:\/\//i.test(location), pin });
  }
  return out;
}

const fetchedOnce = new Map<string, Promise<Map<string, string>>>();

/**
 * Fetch the URL policies (the only asynchronous part of loading configuration), once per process
 * and LANES_POLICY: a command that loads configuration and then opens the store reads the same one.
 */
export function fetchPolicies(env: Env = process.env): Promise<Map<string, string>> {
  const key = `${env.LANES_POLICY ?? ""}#${env.LANES_POLICY_SHA256 ?? ""}`;
  let p = fetchedOnce.get(key);
  if (!p) fetchedOnce.set(key, (p = fetchNow(env)));
  return p;
}

async function fetchNow(env: Env): Promise<Map<string, string>> {
  const fetched = new Map<string, string>();
  for (const loc of locations(env).filter((l) => l.url)) {
    const url = checkUrl(loc);
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(10_000), redirect: "error" });
    } catch (err) {
      throw new LanesError("config", `cannot fetch the org policy ${loc.location}: ${(err as Error).message}`, {
        hint: "the policy is required when LANES_POLICY names it; check the URL and the network",
      });
    }
    if (!res.ok) throw new LanesError("config", `cannot fetch the org policy ${loc.location}: HTTP ${res.status}`);
    const text = await res.text();
    if (text.length > MAX_POLICY_BYTES) throw new LanesError("config", `the org policy ${loc.location} is over 1 MB`);
    fetched.set(loc.location, text);
  }
  return fetched;
}

/** Every policy in force, read and checked against its pin. */
export function readPolicies(env: Env, fetched: Map<string, string> = new Map()): PolicyText[] {
  return locations(env).map((loc) => {
    let text: string;
    if (loc.url) {
      checkUrl(loc);
      const got = fetched.get(loc.location);
      if (got === undefined) throw new LanesError("config", `the org policy ${loc.location} was not fetched`);
      text = got;
    } else {
      try {
        text = readFileSync(loc.location, "utf8");
      } catch (err) {
        throw new LanesError("config", `cannot read the org policy ${loc.location}: ${(err as Error).message}`, {
          hint: "LANES_POLICY names a policy file that must exist",
        });
      }
    }
    const sha256 = createHash("sha256").update(text).digest("hex");
    if (loc.pin && loc.pin !== sha256) {
      throw new LanesError(
        "config",
        `the org policy ${loc.location} does not match its pinned sha256 (pinned ${loc.pin.slice(0, 12)}…, got ${sha256.slice(0, 12)}…)`,
        {
          hint: "the policy changed since it was pinned: ask its owners for the new hash",
        },
      );
    }
    return { source: loc.location, text, sha256 };
  });
}

/** Policies come over https, or plain http to this machine only (a local policy service). */
function checkUrl(loc: Location): string {
  const url = new URL(loc.location);
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new LanesError("config", `the org policy URL ${loc.location} must use https://`);
  }
  if (!loc.pin) {
    throw new LanesError("config", `the org policy URL ${loc.location} is not pinned`, {
      hint: "set LANES_POLICY_SHA256, or append #sha256=HEX to LANES_POLICY",
    });
  }
  return url.toString();
}
