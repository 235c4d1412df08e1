/**
 * Docker's multiplexed attach/exec stream (Tty false): frames of [type, 0, 0, 0, size (4 bytes,
 * big-endian)] + payload; type 1 is stdout, 2 stderr. Parsed here rather than with
 * modem.demuxStream, which never ends its outputs (docker-modem's own notes). Docker writes these
 * headers itself, but a frame is still bounded (frame-reader.ts) and a bad one ends the stream.
 */
import type { Readable } from "node:stream";
import { FrameReader } from "./frame-reader.js";

/** Docker frames carry one write of the process; far above any answer a shim sends. */
const MAX_DOCKER_FRAME = 64 * 2 ** 20;

export function onFrames(stream: Readable, handle: (type: number, payload: Buffer) => void): void {
  const reader = new FrameReader(
    { headerBytes: 8, sizeAt: 4, maxPayload: MAX_DOCKER_FRAME },
    (head, payload) => handle(head[0]!, payload),
    (why) => stream.destroy(new Error(`bad frame from the Docker stream: ${why}`)),
  );
  stream.on("data", (chunk: Buffer) => reader.push(chunk));
}
