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
import { FrameReader } from "./frame-reader.js";
import { ownFile } from "../own-files.js";

const SOURCE = readFileSync(ownFile("adapters/docker/tunnel.py"), "utf8");
const OPEN = 1;
const DATA = 2;
const CLOSE = 3;

/** The relay's frames: op (1 byte), connection id (4), length (4), payload of at most 1 MiB. */
export const MAX_TUNNEL_FRAME = 2 ** 20;
/** nobody: neither root nor the sandbox user (1000) the agent's commands run as. */
const RELAY_USER = "65534:65534";

/** A parser of the relay's frames; a bad one (too big) calls `onBad` and nothing after it is read. */
export function tunnelFrames(
  onFrame: (op: number, id: number, data: Buffer) => void,
  onBad: (why: string) => void,
): FrameReader {
  return new FrameReader(
    { headerBytes: 9, sizeAt: 5, maxPayload: MAX_TUNNEL_FRAME },
    (head, payload) => onFrame(head[0]!, head.readUInt32BE(1), payload),
    onBad,
  );
}

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
    // Not the agent's uid (1000): the agent cannot open the relay's descriptors to forge frames.
    User: RELAY_USER,
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
  let stderr = "";
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const onFrame = (op: number, id: number, data: Buffer) => {
    if (op === 0) return ready();
    if (op === OPEN) {
      const s = connect(target.port, target.host);
      conns.set(id, s);
      s.on("data", (d: Buffer) => write(DATA, id, d));
      // What the gateway cannot take yet waits in the relay, not in this process's memory.
      s.on("drain", () => stream.resume());
      s.on("end", () => write(CLOSE, id));
      s.on("close", () => conns.delete(id));
      s.on("error", () => write(CLOSE, id));
    } else if (op === DATA) {
      const s = conns.get(id);
      if (s && !s.write(data)) stream.pause();
    } else if (op === CLOSE) conns.get(id)?.end();
  };
  const frames = tunnelFrames(onFrame, (why) => {
    stderr = `the relay sent ${why}: tunnel closed`;
    close();
  });
  onFrames(stream, (type, payload) => {
    if (type === 2) return void (stderr = (stderr + payload.toString("utf8")).slice(-2000));
    frames.push(payload);
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
