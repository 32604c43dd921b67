import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from '@sourced/core';
import type { DaemonConfig } from '../config/DaemonConfig';

/** The connection settings of `server` (README "Configuration"). */
export type ConnectionSettings = Pick<
  DaemonConfig['server'],
  | 'maxConnections'
  | 'maxConnectionsPerPeer'
  | 'maxConcurrentStreams'
  | 'keepaliveTimeMs'
  | 'keepaliveTimeoutMs'
  | 'maxConnectionIdleMs'
  | 'maxConnectionAgeMs'
  | 'maxConnectionAgeGraceMs'
  | 'handshakeTimeoutMs'
>;

/**
 * grpc-js's server options for the HTTP/2 side of the settings: keepalive pings (a peer that
 * does not answer is dropped), idle connections closed, connections aged out with a GOAWAY
 * (their calls finish first, within the grace period when one is set), and the streams one
 * connection may have open at once. 0 leaves an option at grpc-js's default (none).
 */
export function http2ServerOptions(s: ConnectionSettings): Record<string, number> {
  const options: Record<string, number> = {};
  if (s.keepaliveTimeMs > 0) {
    options['grpc.keepalive_time_ms'] = s.keepaliveTimeMs;
    options['grpc.keepalive_timeout_ms'] = s.keepaliveTimeoutMs;
  }
  if (s.maxConnectionIdleMs > 0) options['grpc.max_connection_idle_ms'] = s.maxConnectionIdleMs;
  if (s.maxConnectionAgeMs > 0) options['grpc.max_connection_age_ms'] = s.maxConnectionAgeMs;
  if (s.maxConnectionAgeGraceMs > 0) options['grpc.max_connection_age_grace_ms'] = s.maxConnectionAgeGraceMs;
  if (s.maxConcurrentStreams > 0) options['grpc.max_concurrent_streams'] = s.maxConcurrentStreams;
  return options;
}

/** The daemon's listening socket, in front of grpc-js. */
export interface GuardedListener {
  port: number;
  /** Connections open now. */
  readonly connections: number;
  /** Stops accepting connections (open ones are grpc-js's to drain). */
  close(): void;
}

/** An IPv4 peer seen through an IPv6 socket (`::ffff:10.0.0.1`) counts as that IPv4 address. */
function peerKey(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Listens on `host:port` with a socket of our own and hands each accepted connection to
 * grpc-js (`createConnectionInjector`, which does TLS and HTTP/2 as for a bound port), so that
 * connections are counted before grpc-js spends anything on them: past `maxConnections` in
 * all (Node's own check) or `maxConnectionsPerPeer` from one address a connection is closed at
 * once, so one peer's idle sockets cannot use up the daemon's file descriptors and shut out
 * health checks and other callers. A connection that has sent nothing within
 * `handshakeTimeoutMs` is closed too (no TLS ClientHello, no HTTP/2 preface); one that did
 * and then idles is grpc-js's `max_connection_idle_ms`.
 */
export function listenGuarded(
  server: Server,
  credentials: ServerCredentials,
  where: { host: string; port: number },
  settings: ConnectionSettings,
  logger: Logger,
): Promise<GuardedListener> {
  const injector = server.createConnectionInjector(credentials);
  const perPeer = new Map<string, number>();
  // One warning per peer per minute, so that a flood of refused connections is not a flood of log lines.
  const warned = new Map<string, number>();
  let open = 0;
  const net: NetServer = createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 }, (socket: Socket) => {
    const peer = peerKey(socket.remoteAddress);
    const mine = perPeer.get(peer) ?? 0;
    if (settings.maxConnectionsPerPeer > 0 && mine >= settings.maxConnectionsPerPeer) {
      socket.destroy();
      const now = Date.now();
      if ((warned.get(peer) ?? 0) < now - 60_000) {
        if (warned.size > 10_000) warned.clear();
        warned.set(peer, now);
        logger.warn('connection refused: the peer has its maximum of connections open', {
          peer,
          limit: settings.maxConnectionsPerPeer,
          setting: 'server.maxConnectionsPerPeer',
        });
      }
      return;
    }
    perPeer.set(peer, mine + 1);
    open += 1;
    let silent: NodeJS.Timeout | undefined;
    if (settings.handshakeTimeoutMs > 0) {
      silent = setTimeout(() => {
        if (socket.bytesRead === 0) socket.destroy();
      }, settings.handshakeTimeoutMs);
      silent.unref();
    }
    socket.once('close', () => {
      clearTimeout(silent);
      open -= 1;
      const left = (perPeer.get(peer) ?? 1) - 1;
      if (left <= 0) perPeer.delete(peer);
      else perPeer.set(peer, left);
    });
    // A reset before grpc-js has its listeners on the socket must not become an uncaught error.
    socket.on('error', () => undefined);
    injector.injectConnection(socket);
  });
  if (settings.maxConnections > 0) net.maxConnections = settings.maxConnections;
  net.on('drop', (drop?: { remoteAddress?: string }) => {
    const now = Date.now();
    if ((warned.get('*') ?? 0) < now - 60_000) {
      warned.set('*', now);
      logger.warn('connection refused: the daemon has its maximum of connections open', {
        peer: peerKey(drop?.remoteAddress),
        limit: settings.maxConnections,
        setting: 'server.maxConnections',
      });
    }
  });
  const host = where.host.startsWith('[') ? where.host.slice(1, -1) : where.host;
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      injector.destroy();
      reject(new Error(`cannot listen on ${where.host}:${where.port}: ${error.message}`));
    };
    net.once('error', onError);
    net.listen({ host, port: where.port }, () => {
      net.off('error', onError);
      net.on('error', (error) => logger.warn('listening socket error', { error: error.message }));
      resolve({
        port: (net.address() as { port: number }).port,
        get connections() {
          return open;
        },
        close: () => {
          if (net.listening) net.close();
        },
      });
    });
  });
}
