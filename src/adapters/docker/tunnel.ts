/**
 * A loopback port inside a sandbox carried to a TCP address on lanes' side, over a Docker exec's
 * attached stdin/stdout (tunnel.py inside). The sandbox keeps `network: none`: nothing but this
 * stream leaves it, and the stream is the Engine API's own, so it works the same on a remote TLS
 * host. Closing the tunnel ends the relay and every connection through it.
 */
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import { LanesError } from "../../core/errors.js";
import { onFrames } from "./frames.js";
import { ownFile } from "../own-files.js";

const SOURCE = readFileSync(ownFile("adapters/docker/tunnel.py"), "utf8");
const OPEN = 1;
const DATA = 2;
const CLOSE = 3;

export interface Tunnel {
  close(): void;
}

export async function openTunnel(
  container: Docker.Container,
  port: number,
  target: { host: string; port: number },
): Promise<Tunnel> {
  const exec = await container.exec({
    Cmd: ["python3", "-S", "-u", "-c", SOURCE, String(port)],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  const stream = (await exec.start({ hijack: true, stdin: true, Tty: false })) as Duplex;
  const conns = new Map<number, Socket>();
  const write = (op: number, id: number, data?: Buffer) => {
    const head = Buffer.alloc(9);
    head.writeUInt8(op, 0);
    head.writeUInt32BE(id, 1);
    head.writeUInt32BE(data?.length ?? 0, 5);
    stream.write(data ? Buffer.concat([head, data]) : head);
  };
  let pending: Buffer = Buffer.alloc(0);
  let stderr = "";
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const onFrame = (op: number, id: number, data: Buffer) => {
    if (op === 0) return ready();
    if (op === OPEN) {
      const s = connect(target.port, target.host);
      conns.set(id, s);
      s.on("data", (d: Buffer) => write(DATA, id, d));
      s.on("end", () => write(CLOSE, id));
      s.on("close", () => conns.delete(id));
      s.on("error", () => write(CLOSE, id));
    } else if (op === DATA) conns.get(id)?.write(data);
    else if (op === CLOSE) conns.get(id)?.end();
  };
  onFrames(stream, (type, payload) => {
    if (type === 2) return void (stderr = (stderr + payload.toString("utf8")).slice(-2000));
    pending = pending.length ? Buffer.concat([pending, payload]) : payload;
    while (pending.length >= 9) {
      const size = pending.readUInt32BE(5);
      if (pending.length < 9 + size) break;
      onFrame(pending[0]!, pending.readUInt32BE(1), pending.subarray(9, 9 + size));
      pending = pending.subarray(9 + size);
    }
  });
  const ended = new Promise<never>((_, reject) => {
    const fail = () =>
      reject(
        new LanesError(
          "sandbox",
          `the gateway's tunnel into the sandbox did not start: ${stderr.trim() || "it ended"}`,
          {
            hint: "the sandbox image needs python3 (lanes' own images have it)",
          },
        ),
      );
    stream.on("end", fail);
    stream.on("close", fail);
  });
  ended.catch(() => {});
  const close = () => {
    for (const s of conns.values()) s.destroy();
    stream.destroy();
  };
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new LanesError("sandbox", "the gateway's tunnel did not start in 15 s")), 15_000).unref(),
  );
  try {
    await Promise.race([isReady, ended, timeout]);
  } catch (err) {
    close();
    throw err;
  }
  return { close };
}
