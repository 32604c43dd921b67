import { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { inspectTlsSession, startTlsOnSocket, type TargetPolicy, type TlsSession } from '@sourced/core';

/**
 * Connects to `address:port` (through `targets`, the daemon's target policy, when given) and makes a TLS handshake straight away (MongoDB speaks TLS
 * from the first byte, with no negotiation inside its protocol), then reports the session.
 * Always closes the connection. Rejects with the socket or TLS error (a certificate problem
 * has its `code`), or `signal.reason` when the signal fires.
 */
export async function probeTls(address: string, port: number, options: ConnectionOptions, signal: AbortSignal, targets?: TargetPolicy): Promise<TlsSession> {
  const socket = await tcpConnect(address, port, signal, targets);
  const started = performance.now();
  const secure = await startTlsOnSocket(socket, options, signal);
  try {
    return await inspectTlsSession(secure, signal, performance.now() - started);
  } finally {
    secure.destroy();
  }
}

function tcpConnect(address: string, port: number, signal: AbortSignal, targets?: TargetPolicy): Promise<Socket> {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted(); // a throw in the executor rejects with signal.reason
    // Through the target policy when there is one: `address` may be a seed's host name.
    const socket = targets ? targets.socket() : new Socket();
    const onAbort = () => {
      socket.destroy();
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rejects with signal.reason unchanged, as callers expect
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      socket.on('error', () => undefined); // the TLS layer reports errors from here on
      resolve(socket);
    });
    socket.once('error', (error) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(error);
    });
    socket.connect(port, address);
  });
}
