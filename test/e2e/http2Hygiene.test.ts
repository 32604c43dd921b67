/**
 * Issue 15, item 8, replayed against a `sourced serve` process: idle TCP sockets and clients
 * that send only the HTTP/2 preface are closed; one peer's idle sockets cannot use up the
 * daemon's file descriptors (with the default per-peer cap and a low descriptor limit, health
 * checks from another address still answer); connections carry a stream limit, keepalive pings
 * and a maximum age (GOAWAY).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect as http2Connect, constants as h2, type ClientHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { closedWithin, healthCheck, rawSocket, startConfiguredDaemon, type ConfiguredDaemon } from './support/hardenedDaemon';

/** The HTTP/2 client preface and an empty SETTINGS frame: all a preface-only client ever sends. */
const PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

describe('HTTP/2 connection hygiene (a daemon process)', () => {
  const daemons: ConfiguredDaemon[] = [];
  const sockets: Socket[] = [];
  afterAll(async () => {
    sockets.forEach((s) => s.destroy());
    await Promise.all(daemons.map((d) => d.stop()));
  });

  it('closes idle sockets and preface-only clients', async () => {
    const d = await startConfiguredDaemon({ server: { maxConnectionIdleMs: 1_000, handshakeTimeoutMs: 1_000 } });
    daemons.push(d);
    const idle = await rawSocket(d.daemon.address);
    const preface = await rawSocket(d.daemon.address);
    preface.write(PREFACE);
    sockets.push(idle, preface);
    const [idleClosed, prefaceClosed] = await Promise.all([closedWithin(idle, 10_000), closedWithin(preface, 10_000)]);
    expect({ idleClosed, prefaceClosed }).toEqual({ idleClosed: true, prefaceClosed: true });
    expect(await healthCheck(d.daemon.address)).toBe('SERVING');
  });

  it("one peer's idle sockets do not shut out health checks from another, under a low descriptor limit (default settings)", async () => {
    const d = await startConfiguredDaemon({});
    daemons.push(d);
    const pid = d.daemon.child.pid!;
    // Room for 150 more descriptors than the daemon has open now: fewer than the sockets below.
    const limit = readdirSync(`/proc/${pid}/fd`).length + 150;
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${limit}:${limit}`]);
    const flood: Promise<Socket | undefined>[] = [];
    for (let i = 0; i < 300; i++) flood.push(rawSocket(d.daemon.address, '127.0.0.2').catch(() => undefined));
    for (const s of await Promise.all(flood)) if (s) sockets.push(s);
    // Let the daemon accept (and refuse) what it will.
    await new Promise((r) => setTimeout(r, 500));
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await healthCheck(d.daemon.address));
    expect(answers).toEqual(['SERVING', 'SERVING', 'SERVING']);
    expect(readdirSync(`/proc/${pid}/fd`).length).toBeLessThan(limit);
    expect(d.daemon.logs().some((l) => l.msg === 'connection refused: the peer has its maximum of connections open' && l.peer === '127.0.0.2')).toBe(true);
  });

  it('limits the streams of a connection, sends keepalive pings, and ages connections out with a GOAWAY', async () => {
    const d = await startConfiguredDaemon({ server: { maxConcurrentStreams: 4, keepaliveTimeMs: 300, keepaliveTimeoutMs: 5_000, maxConnectionAgeMs: 1_500 } });
    daemons.push(d);
    const session: ClientHttp2Session = http2Connect(`http://${d.daemon.address}`);
    session.on('error', () => undefined);
    try {
      const settings = await new Promise<{ maxConcurrentStreams?: number }>((r) => session.once('remoteSettings', r));
      expect(settings.maxConcurrentStreams).toBe(4);
      const pinged = new Promise<boolean>((r) => {
        session.once('ping', () => r(true));
        setTimeout(() => r(false), 10_000).unref();
      });
      const goaway = new Promise<number | undefined>((r) => {
        session.once('goaway', (code: number) => r(code));
        setTimeout(() => r(undefined), 10_000).unref();
      });
      expect(await pinged).toBe(true);
      expect(await goaway).toBe(h2.NGHTTP2_NO_ERROR);
    } finally {
      session.destroy();
    }
  });
});
