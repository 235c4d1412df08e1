/**
 * `lanes doctor`: a list of independent checks (Node, configuration, data directory, each Docker
 * host, each profile's image, each endpoint), each ending in ok or a failure with the next step.
 * Checks run concurrently, each under its own time limit, and report as they finish.
 */
import { accessSync, constants, mkdirSync } from "node:fs";
import { ConfigError, ExitCode, LanesError, formatProblem } from "../core/errors.js";
import { loadConfig, type ConfigFlags } from "../adapters/config/load.js";
import { dataDir } from "../adapters/config/paths.js";
import { configSchema, type Config } from "../adapters/config/schema.js";
import { BUILTIN_CONFIG } from "../adapters/config/defaults.js";
import { AGENTS, agentImage } from "../adapters/agents/adapters.js";

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  hint?: string;
}

export interface Check {
  name: string;
  /** Exit code a failure of this check stands for. */
  exitCode: number;
  run(signal: AbortSignal): Promise<Omit<CheckResult, "name">>;
}

const MIN_NODE = [20, 19] as const;

export function planChecks(opts: {
  repo: string;
  flags: ConfigFlags;
  fetchedPolicies?: Map<string, string> | undefined;
}): Check[] {
  const checks: Check[] = [nodeCheck()];
  let config: Config;
  try {
    const loaded = loadConfig({
      repo: opts.repo,
      flags: opts.flags,
      ...(opts.fetchedPolicies ? { fetchedPolicies: opts.fetchedPolicies } : {}),
    });
    config = loaded.config;
    checks.push({
      name: "config",
      exitCode: ExitCode.usage,
      run: async () => ({ ok: true, detail: `valid (${loaded.projectFile ?? "no lanes.yaml: built-in defaults"})` }),
    });
    const policies = loaded.policies.map((p) => `${p.source} (sha256 ${p.sha256.slice(0, 16)}…)`).join(", ");
    checks.push({
      name: "org policy",
      exitCode: ExitCode.usage,
      run: async () => ({ ok: true, detail: policies || "none (no /etc/lanes/policy.yaml; LANES_POLICY is not set)" }),
    });
  } catch (err) {
    if (err instanceof LanesError && !(err instanceof ConfigError) && err.kind === "config") {
      // The org policy could not be read or did not match its pin: fail closed, and say so.
      checks.push({
        name: "org policy",
        exitCode: ExitCode.usage,
        run: async () => ({ ok: false, detail: err.message, ...(err.hint ? { hint: err.hint } : {}) }),
      });
      config = configSchema.parse(structuredClone(BUILTIN_CONFIG));
      return [
        ...checks,
        dataDirCheck(),
        ...Object.entries(config.hosts).map(([name, host]) => hostCheck(name, host, config)),
      ];
    }
    if (!(err instanceof ConfigError)) throw err;
    const first = err.problems[0];
    checks.push({
      name: "config",
      exitCode: ExitCode.usage,
      run: async () => ({
        ok: false,
        detail: `${err.problems.length} problem(s); first: ${first ? formatProblem(first) : err.message}`,
        hint: "run `lanes config validate` for the full list and fix the file",
      }),
    });
    // Still check Docker and the data directory with the built-in defaults.
    config = configSchema.parse(structuredClone(BUILTIN_CONFIG));
  }
  checks.push(dataDirCheck(), storeCheck(opts.fetchedPolicies));
  for (const [name, host] of Object.entries(config.hosts)) checks.push(hostCheck(name, host, config));
  for (const [tierName, tier] of Object.entries(config.tiers)) {
    for (const ep of tier.endpoints)
      checks.push(endpointCheck(tierName, tier.kind ?? (tierName === "local" ? "local" : "hosted"), ep));
  }
  // The default lane must be able to plan: a tier of it needs an endpoint.
  const laneName = config.defaults.lane;
  const lane = config.lanes[laneName];
  if (lane) {
    const usable = lane.tiers.filter((t) => config.tiers[t]?.endpoints.length);
    checks.push({
      name: `lane ${laneName}`,
      exitCode: ExitCode.endpoint,
      run: async () =>
        usable.length
          ? { ok: true, detail: `endpoints in ${usable.join(", ")}` }
          : {
              ok: false,
              detail: `no endpoint in its tiers (${lane.tiers.join(", ")}): nothing can be planned or run`,
              hint:
                `add one under tiers.${lane.tiers[0]}.endpoints in lanes.yaml (an id, a baseURL, a model, and ` +
                "apiKeyEnv for a hosted API), or try lanes with: lanes run TASK --endpoint replay:FILE",
            },
    });
  }
  return checks;
}

function nodeCheck(): Check {
  return {
    name: "node",
    exitCode: ExitCode.usage,
    run: async () => {
      const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
      const ok = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
      return ok
        ? { ok, detail: `Node ${process.versions.node}` }
        : {
            ok,
            detail: `Node ${process.versions.node} is too old`,
            hint: `install Node ${MIN_NODE.join(".")} or newer`,
          };
    },
  };
}

/** The store: a SQLite file, or a PostgreSQL server — reachable, its schema version, latency. */
function storeCheck(fetched: Map<string, string> | undefined): Check {
  return {
    name: "store",
    exitCode: ExitCode.quota,
    run: async (signal) => {
      const { storeLocation } = await import("../adapters/config/store-location.js");
      const at = await storeLocation(process.env, fetched);
      if (!/^postgres(ql)?:\/\//.test(at.where)) return { ok: true, detail: `SQLite ${at.where} (${at.source})` };
      const [{ default: pg }, { redact }, { PG_MIGRATIONS }, { pgDriverName }] = await Promise.all([
        import("pg"),
        import("../adapters/store/redact-url.js"),
        import("../adapters/store/pg-schema.js"),
        import("../adapters/store/pg-libpq.js"),
      ]);
      const client = new pg.Client({ connectionString: at.where, connectionTimeoutMillis: 5000 });
      client.on("error", () => {});
      const name = `PostgreSQL ${redact(at.where)} (${at.source})`;
      try {
        signal.addEventListener("abort", () => void client.end().catch(() => {}), { once: true });
        await client.connect();
        const t = performance.now();
        await client.query("SELECT 1");
        const ms = (performance.now() - t).toFixed(1);
        const v = await client
          .query("SELECT version FROM lanes_schema")
          .then((r) => Number(r.rows[0]?.version ?? 0))
          .catch(() => 0);
        const known = PG_MIGRATIONS.length;
        if (v > known)
          return {
            ok: false,
            detail: `${name}: schema v${v}, newer than this lanes (v${known})`,
            hint: "upgrade lanes",
          };
        const driver = pgDriverName();
        return {
          ok: true,
          detail:
            `${name}: schema v${v || "(new: created on first use)"}, ${ms} ms per query, driver ${driver}` +
            (driver === "libpq" ? "" : " (install libpq's headers, e.g. libpq-dev, and reinstall lanes for libpq)"),
        };
      } catch (err) {
        return {
          ok: false,
          detail: `${name} is unreachable: ${(err as Error).message}`,
          hint: "plans say delay and runs cannot reserve until it is back; check the server and PGPASSWORD",
        };
      } finally {
        await client.end().catch(() => {});
      }
    },
  };
}

function dataDirCheck(): Check {
  return {
    name: "data directory",
    exitCode: ExitCode.usage,
    run: async () => {
      const dir = dataDir();
      try {
        mkdirSync(dir, { recursive: true });
        accessSync(dir, constants.W_OK);
        return { ok: true, detail: dir };
      } catch (err) {
        return {
          ok: false,
          detail: `${dir} is not writable (${(err as Error).message})`,
          hint: "set LANES_HOME to a writable directory",
        };
      }
    },
  };
}

function hostCheck(name: string, host: Config["hosts"][string], config: Config): Check {
  return {
    name: `docker host ${name}`,
    exitCode: ExitCode.sandbox,
    run: async (signal) => {
      const { dockerFor, engine, explainDockerError, hostLabel, imageExists } =
        await import("../adapters/docker/client.js");
      try {
        const docker = dockerFor(name, host);
        const api = engine(docker);
        await api.ping({ abortSignal: signal });
        const [version, info] = await Promise.all([
          api.version({ abortSignal: signal }),
          api.info({ abortSignal: signal }),
        ]);
        const security: string[] = info.SecurityOptions ?? [];
        const runtimes = Object.keys(info.Runtimes ?? {});
        const features = [
          `userns ${security.some((s) => s.includes("name=userns")) ? "yes" : "no"}`,
          `rootless ${security.some((s) => s.includes("name=rootless")) ? "yes" : "no"}`,
          `gVisor ${runtimes.includes("runsc") ? "yes" : "no"}`,
        ];
        const images = [
          ...new Set(
            Object.values(config.sandbox.profiles)
              .filter((p) => p.host === name)
              .map((p) => p.image),
          ),
        ];
        const missing: string[] = [];
        for (const image of images) if (!(await imageExists(docker, image, signal))) missing.push(image);
        const detail =
          `${hostLabel(name, host)}: Docker ${version.Version} (API ${version.ApiVersion}), ${info.ContainersRunning ?? 0}` +
          ` running; ${features.join(", ")}`;
        if (missing.length) {
          return {
            ok: false,
            detail: `${detail}; image ${missing.join(", ")} missing`,
            hint: "build it: lanes images build",
          };
        }
        // A lane that names an external agent needs the agent's layer on its profile's image here.
        const agents = Object.values(config.lanes).flatMap((l) => {
          const p = config.sandbox.profiles[l.sandbox];
          const agent = l.agent && l.agent !== "lanes" ? AGENTS[l.agent] : undefined;
          return p?.host === name && agent ? [{ agent: agent.name, image: agentImage(agent, p.image) }] : [];
        });
        for (const a of agents)
          if (!(await imageExists(docker, a.image, signal)))
            return {
              ok: false,
              detail: `${detail}; agent ${a.agent} not installed (${a.image} missing)`,
              hint: `lanes images build --agent ${a.agent}${name === "local" ? "" : ` --host ${name}`}`,
            };
        // A runtime that a lane's profile asks for must be registered with this engine.
        const needed = Object.values(config.lanes)
          .map((l) => config.sandbox.profiles[l.sandbox])
          .filter((p) => p?.host === name && !runtimes.includes(p.runtime));
        if (needed.length)
          return {
            ok: false,
            detail: `${detail}; runtime ${[...new Set(needed.map((p) => p!.runtime))].join(", ")} not registered`,
            hint: "install gVisor (apt-get install runsc) and register it: runsc install -- --network=host && kill -HUP $(pidof dockerd)",
          };
        return { ok: true, detail: images.length ? `${detail}; images present` : detail };
      } catch (err) {
        const e = err instanceof LanesError ? err : explainDockerError(name, host, err);
        return { ok: false, detail: e.message, hint: e.hint ?? "" };
      }
    },
  };
}

function endpointCheck(
  tierName: string,
  kind: "local" | "hosted",
  ep: Config["tiers"][string]["endpoints"][number],
): Check {
  return {
    name: `endpoint ${tierName}/${ep.id}`,
    exitCode: ExitCode.endpoint,
    run: async (signal) => {
      const url = `${ep.baseURL.replace(/\/$/, "")}/models`;
      const headers: Record<string, string> = {};
      if (ep.apiKeyEnv) {
        const key = process.env[ep.apiKeyEnv];
        if (!key)
          return {
            ok: false,
            detail: `${ep.apiKeyEnv} is not set`,
            hint: `export ${ep.apiKeyEnv}=… (the key stays in the environment; lanes never stores it)`,
          };
        headers.authorization = `Bearer ${key}`;
      }
      const started = performance.now();
      try {
        const res = await fetch(url, { headers, signal });
        const ms = Math.round(performance.now() - started);
        if (res.status === 401 || res.status === 403)
          return {
            ok: false,
            detail: `${url} answered ${res.status} (key rejected)`,
            hint: `check the key in ${ep.apiKeyEnv ?? "the apiKeyEnv variable"}`,
          };
        if (res.status === 503 && kind === "local")
          return { ok: true, detail: `${url}: loading the model (503), ${ms} ms` };
        if (res.status >= 500)
          return {
            ok: false,
            detail: `${url} answered ${res.status}`,
            hint: "the server is up but failing; check its logs",
          };
        return { ok: true, detail: `${url}: ${res.status}, ${ms} ms, model ${ep.model}` };
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
        const hint =
          kind === "local"
            ? `start llama-server on that port (llama-server -m MODEL.gguf --port ${new URL(ep.baseURL).port || 8080} --jinja)`
            : "check baseURL and your network";
        return { ok: false, detail: `${url} unreachable (${cause})`, hint };
      }
    },
  };
}

/** Run every check concurrently, each within `timeoutMs`; report each result as it lands. */
export async function runChecks(
  checks: Check[],
  timeoutMs: number,
  onResult: (index: number, result: CheckResult) => void = () => {},
): Promise<CheckResult[]> {
  return Promise.all(
    checks.map(async (check, i) => {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), timeoutMs);
      let result: CheckResult;
      try {
        const r = await Promise.race([
          check.run(ac.signal),
          new Promise<never>((_, reject) =>
            ac.signal.addEventListener("abort", () => reject(new Error("timed out")), { once: true }),
          ),
        ]);
        result = { name: check.name, ...r };
      } catch (err) {
        result = {
          name: check.name,
          ok: false,
          detail: ac.signal.aborted ? `no answer within ${timeoutMs} ms` : (err as Error).message,
          hint: "check the address and that the service is running",
        };
      } finally {
        clearTimeout(timer);
      }
      if (result.hint === "" || result.hint === undefined) delete result.hint;
      onResult(i, result);
      return result;
    }),
  );
}

/** Exit code for a finished doctor run: 0, or the code of the first failing check. */
export function doctorExitCode(checks: Check[], results: CheckResult[]): number {
  const i = results.findIndex((r) => !r.ok);
  return i < 0 ? 0 : checks[i]!.exitCode;
}
