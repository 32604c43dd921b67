import type { Duplex } from 'node:stream';

/**
 * Idle time before TCP keep-alive's first probe on a connection that has it, ms. The kernel's
 * default (2 hours) would notice a dead link long after any caller gave up.
 */
export const KEEPALIVE_IDLE_MS = 10_000;
/** Time between keep-alive probes that go unanswered, ms (the kernel's default is 75 s). */
export const KEEPALIVE_INTERVAL_MS = 5_000;
/** Unanswered keep-alive probes after which the connection is dropped (the kernel's default is 9). */
export const KEEPALIVE_COUNT = 3;
/**
 * How long data the server sent may go unacknowledged before the server drops the connection,
 * ms (PostgreSQL `tcp_user_timeout`, server side): a dead link is noticed as soon while results
 * are in flight as when idle (idle + interval × count = 25 s).
 */
export const TCP_USER_TIMEOUT_MS = 30_000;

/** What {@link applyKeepAlive} could set on a socket. */
export interface KeepAliveApplied {
  /** Keep-alive is on, with {@link KEEPALIVE_IDLE_MS}. */
  idle: boolean;
  /** The probe interval and count are {@link KEEPALIVE_INTERVAL_MS} and {@link KEEPALIVE_COUNT}; false: the kernel's apply. */
  probes: boolean;
}

type NetKeepAlive = typeof import('net-keepalive');
let netKeepAlive: NetKeepAlive | null | undefined;

/**
 * `net-keepalive` (setsockopt through the `ffi-rs` prebuilt binary), loaded on first use; null
 * where it does not load (a platform without a prebuilt binary): the kernel's interval and
 * count apply there, and nothing else changes.
 */
function loadNetKeepAlive(): NetKeepAlive | null {
  if (netKeepAlive === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily so that a platform without ffi-rs's binary still runs
      netKeepAlive = require('net-keepalive') as NetKeepAlive;
    } catch {
      netKeepAlive = null;
    }
  }
  return netKeepAlive;
}

/** A connected `net.Socket` as `net-keepalive` reads it: its handle's file descriptor. */
interface SocketWithFd {
  setKeepAlive(enable: boolean, initialDelay: number): unknown;
  _handle: { fd: number };
}

/** The TCP socket with a file descriptor under `stream` (itself, or the socket a TLS socket wraps). */
function tcpSocketOf(stream: Duplex): SocketWithFd | undefined {
  for (let s: unknown = stream, depth = 0; s && depth < 4; s = (s as { _parent?: unknown })._parent, depth++) {
    const candidate = s as Partial<SocketWithFd> & { _handle?: { fd?: unknown } | null };
    const fd = candidate._handle?.fd;
    if (typeof fd === 'number' && fd >= 0 && typeof candidate.setKeepAlive === 'function') return candidate as SocketWithFd;
  }
  return undefined;
}

/**
 * Turns TCP keep-alive on for a connected socket (or the TCP socket under a TLS one): the first
 * probe after {@link KEEPALIVE_IDLE_MS} idle (Node's `setKeepAlive`), then one every
 * {@link KEEPALIVE_INTERVAL_MS}, the connection dropped after {@link KEEPALIVE_COUNT} unanswered
 * (TCP_KEEPINTVL and TCP_KEEPCNT through `net-keepalive`: Node 20 sets only the idle time), so a
 * dead link is noticed after 25 s instead of 10 s + 75 s × 9. Never throws: what could not be
 * set is reported, and the kernel's values apply to it.
 */
export function applyKeepAlive(stream: Duplex): KeepAliveApplied {
  const socket = tcpSocketOf(stream);
  if (!socket) return { idle: false, probes: false };
  socket.setKeepAlive(true, KEEPALIVE_IDLE_MS);
  const lib = loadNetKeepAlive();
  if (!lib) return { idle: true, probes: false };
  try {
    const target = socket as unknown as Parameters<NetKeepAlive['setKeepAliveInterval']>[0];
    return { idle: true, probes: lib.setKeepAliveInterval(target, KEEPALIVE_INTERVAL_MS) && lib.setKeepAliveProbes(target, KEEPALIVE_COUNT) };
  } catch {
    return { idle: true, probes: false };
  }
}
