import { createServer, connect, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { getKeepAliveInterval, getKeepAliveProbes } from 'net-keepalive';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyKeepAlive, KEEPALIVE_COUNT, KEEPALIVE_INTERVAL_MS } from '../src';

/** Issue 24, item 2: Node 20 sets only keep-alive's idle time; applyKeepAlive sets the probe interval and count too, on the TCP socket under a TLS one as well. */
describe('applyKeepAlive', () => {
  let server: Server;
  let port = 0;
  const open: Socket[] = [];
  beforeAll(async () => {
    server = createServer((s) => open.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of open) s.destroy();
    await new Promise((r) => server.close(r));
  });
  const connected = () =>
    new Promise<Socket>((resolve) => {
      const s = connect(port, '127.0.0.1', () => resolve(s));
      open.push(s);
    });

  /** The interval and count read back from the socket (getsockopt) are the daemon's, not the kernel's 75 s × 9. */
  it('sets the interval and count on a TCP socket', async () => {
    const socket = await connected();
    expect(applyKeepAlive(socket)).toEqual({ idle: true, probes: true });
    expect(getKeepAliveInterval(socket)).toBe(KEEPALIVE_INTERVAL_MS);
    expect(getKeepAliveProbes(socket)).toBe(KEEPALIVE_COUNT);
  });

  /** A TLS socket (the handshake need not finish) has its TCP socket set. */
  it('sets them on the socket under a TLS one', async () => {
    const raw = await connected();
    const tls = tlsConnect({ socket: raw, rejectUnauthorized: false });
    tls.on('error', () => undefined);
    open.push(tls);
    expect(applyKeepAlive(tls)).toEqual({ idle: true, probes: true });
    expect(getKeepAliveInterval(raw)).toBe(KEEPALIVE_INTERVAL_MS);
    expect(getKeepAliveProbes(raw)).toBe(KEEPALIVE_COUNT);
  });

  /** A socket that is not connected has nothing to set, and applyKeepAlive says so instead of throwing. */
  it('reports a socket it cannot set', () => {
    const s = connect({ port, host: '127.0.0.1', lookup: () => undefined });
    s.on('error', () => undefined);
    open.push(s);
    expect(applyKeepAlive(s)).toEqual({ idle: false, probes: false });
  });
});
