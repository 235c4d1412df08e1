/**
 * The gateway's tunnel into a sandbox, against the agent: the relay runs as a uid the agent's
 * commands do not have, and a forged frame (even from the relay's own uid) costs this process
 * little CPU and memory before the tunnel closes.
 */
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../../src/core/sandbox.js";
import { requireImage } from "../helpers/docker.js";
import { fixtureRepo, localHost, profile } from "../helpers/sandbox.js";
import { tunnelFrames, MAX_TUNNEL_FRAME } from "../../src/adapters/docker/tunnel.js";

let sb: Sandbox;
let echo: Server;
let echoPort: number;
const host = localHost();

beforeAll(async () => {
  requireImage();
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  echoPort = (echo.address() as { port: number }).port;
  sb = await host.acquire({
    profileName: "default",
    profile: profile({ memory: "256m", disk: "64m" }),
    repo: fixtureRepo(),
  });
});
afterAll(async () => {
  await sb?.release();
  echo?.close();
});

const sh = (command: string, timeoutMs = 15_000) => sb.exec({ command, timeoutMs });
const roundTrip = (port: number) =>
  sh(
    `python3 -c "import socket; s=socket.create_connection(('127.0.0.1', ${port}), 3); s.sendall(b'ping'); print(s.recv(4).decode())"`,
  );

describe("the gateway tunnel", () => {
  it("carries a connection; its relay is not the agent's uid, and the agent cannot write to it", async () => {
    const tunnel = await sb.tunnel!(4141, { host: "127.0.0.1", port: echoPort });
    try {
      expect((await roundTrip(4141)).stdout).toBe("ping\n");
      const r = await sh(
        // The pattern is written so that this command's own line does not match it.
        "for p in /proc/[0-9]*; do if grep -qa 'gateway[ ]tunnel' $p/cmdline 2>/dev/null; then " +
          'echo "uid $(stat -c %u $p)"; printf x > $p/fd/1 && echo WROTE; fi; done',
      );
      expect(r.stdout).toMatch(/^uid 65534$/m);
      expect(r.stdout).not.toContain("WROTE");
      expect(r.stderr).toMatch(/Permission denied/);
    } finally {
      tunnel.close();
    }
  });

  it("a forged frame header and a 400 MB flood cost this process < 2 s of CPU and < 50 MB, and close the tunnel", async () => {
    const tunnel = await sb.tunnel!(4142, { host: "127.0.0.1", port: echoPort });
    expect((await roundTrip(4142)).stdout).toBe("ping\n");
    const cpu = process.cpuUsage();
    const rss = process.memoryUsage().rss;
    // The worst case: a process with the relay's own uid writes to its stdout.
    const flood =
      "import os,struct,glob\n" +
      "pid=[p.split('/')[2] for p in glob.glob('/proc/[0-9]*/cmdline') if b'41'+b'42' in open(p,'rb').read()][0]\n" +
      "fd=os.open('/proc/%s/fd/1'%pid, os.O_WRONLY)\n" +
      "os.write(fd, struct.pack('>BII', 2, 1, 0xFFFFFFF0))\n" +
      "chunk=b'A'*(1<<20)\n" +
      "try:\n  for _ in range(400): os.write(fd, chunk)\nexcept OSError: pass\n";
    const forger = spawnSync(
      "docker",
      ["exec", "-u", "65534", sb.info.containerId, "timeout", "10", "python3", "-c", flood],
      { encoding: "utf8", timeout: 90_000 },
    );
    expect(forger.status, forger.stderr).not.toBe(null);
    // The tunnel closed on the bad frame: the relay ended with it.
    const deadline = Date.now() + 20_000;
    let after = await roundTrip(4142);
    while (after.exitCode === 0 && Date.now() < deadline) after = await roundTrip(4142);
    expect(after.exitCode).not.toBe(0);
    const used = process.cpuUsage(cpu);
    console.log(
      `tunnel flood: ${((used.user + used.system) / 1e6).toFixed(2)} s CPU, ${((process.memoryUsage().rss - rss) / 2 ** 20).toFixed(1)} MB`,
    );
    expect((used.user + used.system) / 1e6).toBeLessThan(2);
    expect((process.memoryUsage().rss - rss) / 2 ** 20).toBeLessThan(50);
    tunnel.close();
  }, 120_000);

  it("the frame parser refuses a frame over 1 MiB at its header and reads nothing after it", () => {
    const frames: number[] = [];
    const bad: string[] = [];
    const reader = tunnelFrames(
      (_op, id) => frames.push(id),
      (why) => bad.push(why),
    );
    const head = (id: number, size: number) => {
      const h = Buffer.alloc(9);
      h.writeUInt8(2, 0);
      h.writeUInt32BE(id, 1);
      h.writeUInt32BE(size, 5);
      return h;
    };
    // A frame split across chunks at every byte still arrives whole.
    const ok = Buffer.concat([head(7, 3), Buffer.from("abc")]);
    for (const b of ok) reader.push(Buffer.from([b]));
    reader.push(Buffer.concat([head(8, MAX_TUNNEL_FRAME + 1), Buffer.alloc(16)]));
    reader.push(Buffer.concat([head(9, 0)]));
    expect(frames).toEqual([7]);
    expect(bad).toEqual([`a frame of ${MAX_TUNNEL_FRAME + 1} bytes (at most ${MAX_TUNNEL_FRAME})`]);
  });
});
