/**
 * Docker's multiplexed attach/exec stream (Tty false): frames of [type, 0, 0, 0, size (4 bytes,
 * big-endian)] + payload; type 1 is stdout, 2 stderr. Parsed here rather than with
 * modem.demuxStream, which never ends its outputs (docker-modem's own notes).
 */
import type { Readable } from "node:stream";

export function onFrames(stream: Readable, handle: (type: number, payload: Buffer) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  stream.on("data", (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      handle(pending[0]!, pending.subarray(8, 8 + size));
      pending = pending.subarray(8 + size);
    }
  });
}
