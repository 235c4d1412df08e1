/** The second Docker engine (scripts/remote-docker.sh): tcp + mutual TLS in a network namespace. */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const REMOTE_URL = "tcp://10.77.0.2:2376";
export const CERTS = process.env.LANES_REMOTE_STATE
  ? join(process.env.LANES_REMOTE_STATE, "certs")
  : "/tmp/lanes-remote/certs";

export function requireRemote(): void {
  const r = spawnSync(
    "curl",
    [
      "-sf",
      "--max-time",
      "3",
      "--cacert",
      `${CERTS}/ca.pem`,
      "--cert",
      `${CERTS}/client.pem`,
      "--key",
      `${CERTS}/client-key.pem`,
      "https://10.77.0.2:2376/_ping",
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error("the remote TLS engine is not up; start it with scripts/remote-docker.sh up");
}

/** User settings with the remote host registered, as `lanes hosts add` would write them. */
export function withRemoteHost(configDir: string, name = "remote", certPrefix = "client"): void {
  mkdirSync(configDir, { recursive: true });
  writeFileSync(
    join(configDir, "config.json"),
    JSON.stringify({
      hosts: {
        [name]: {
          url: REMOTE_URL,
          tls: { ca: `${CERTS}/ca.pem`, cert: `${CERTS}/${certPrefix}.pem`, key: `${CERTS}/${certPrefix}-key.pem` },
        },
      },
    }),
  );
}
