/**
 * Length-prefixed frames read from a stream whose far end may be hostile: a frame's size is
 * bounded (a forged header cannot make us wait for, or buffer, gigabytes), and bytes are
 * buffered as the chunks that came, joined once per frame (never re-copied on every chunk).
 */
export interface FrameFormat {
  /** Bytes before the payload, and where in them the payload's size (uint32, big-endian) is. */
  headerBytes: number;
  sizeAt: number;
  /** The largest payload accepted; a bigger one is a bad frame. */
  maxPayload: number;
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private broken = false;

  constructor(
    private readonly format: FrameFormat,
    private readonly onFrame: (head: Buffer, payload: Buffer) => void,
    private readonly onBad: (why: string) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.broken) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
    const { headerBytes, sizeAt, maxPayload } = this.format;
    while (this.length >= headerBytes) {
      const size = this.peek(headerBytes).readUInt32BE(sizeAt);
      if (size > maxPayload) {
        this.broken = true;
        this.chunks = [];
        this.length = 0;
        return this.onBad(`a frame of ${size} bytes (at most ${maxPayload})`);
      }
      if (this.length < headerBytes + size) return;
      const frame = this.take(headerBytes + size);
      this.onFrame(frame.subarray(0, headerBytes), frame.subarray(headerBytes));
    }
  }

  /** The first `n` bytes (n is a header's size: cheap even when split across chunks). */
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    const parts: Buffer[] = [];
    let have = 0;
    for (const c of this.chunks) {
      if (have >= n) break;
      parts.push(c);
      have += c.length;
    }
    return Buffer.concat(parts);
  }

  /** Remove and return the first `n` bytes, joining chunks only when the frame spans several. */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    this.length -= n;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const c = this.chunks[0]!;
      if (c.length <= need) {
        parts.push(c);
        this.chunks.shift();
        need -= c.length;
      } else {
        parts.push(c.subarray(0, need));
        this.chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    return Buffer.concat(parts, n);
  }
}
