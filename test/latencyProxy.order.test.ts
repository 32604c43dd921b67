/**
 * The latency proxy keeps the byte order of each direction whatever happens to the delay
 * and to the event loop: a proxy that reorders chunks corrupts the protocol it carries and
 * a client then waits forever for an answer the server never sends (what made the ADAPTIVE
 * suite hang on a loaded machine, issue 18).
 */
import { createConnection, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLatencyProxy, type LatencyProxy } from './harness/latencyProxy';

/** Blocks the event loop for `ms`, as a busy process (or a loaded machine) does. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    /* spin */
  }
}

describe('latency proxy', () => {
  let echo: Server;
  let proxy: LatencyProxy;
  beforeAll(async () => {
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    proxy = await startLatencyProxy({ host: '127.0.0.1', port: (echo.address() as { port: number }).port });
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise((resolve) => echo.close(resolve));
  });

  it('keeps the order of every byte while the delay changes and the event loop stalls', async () => {
    const socket = createConnection({ host: proxy.host, port: proxy.port });
    socket.setNoDelay(true);
    await new Promise((resolve) => socket.once('connect', resolve));
    const received: Buffer[] = [];
    socket.on('data', (b) => received.push(b));
    const sent: number[] = [];
    const delays = [300, 0, 120, 0, 40, 300, 0, 5, 0, 200, 0];
    for (let i = 0; i < 400; i++) {
      if (i % 20 === 0) proxy.delayMs = delays[(i / 20) % delays.length];
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(i);
      socket.write(bytes);
      sent.push(i);
      if (i % 7 === 0) busy(15 + (i % 5) * 10); // stale loop time for the timers set next
      await new Promise((resolve) => setTimeout(resolve, i % 3 === 0 ? 0 : 3));
    }
    proxy.delayMs = 0;
    const deadline = Date.now() + 20_000;
    while (Buffer.concat(received).length < sent.length * 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    socket.destroy();
    const all = Buffer.concat(received);
    const got: number[] = [];
    for (let o = 0; o + 4 <= all.length; o += 4) got.push(all.readUInt32BE(o));
    expect(got).toEqual(sent);
  }, 60_000);
});
