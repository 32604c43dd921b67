import { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { inspectTlsSession, startTlsOnSocket, type TargetPolicy, type TlsSession } from '@sourced/core';

export type { TlsSession } from '@sourced/core';

/** SSLRequest: int32 length 8, int32 code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** The server's answer to an SSLRequest, and the TLS session when one was made. */
export type TlsProbe =
  | { answer: 'S'; session: TlsSession }
  | { answer: 'N' }
  /** Anything else: an ErrorResponse from a very old server, or not PostgreSQL at all. */
  | { answer: 'other'; byte: number };

/**
 * Opens a TCP connection (through `targets`, the daemon's target policy, when given), sends the PostgreSQL SSLRequest and reads the one-byte answer;
 * on 'S' makes the TLS handshake with `tlsOptions` over the same socket and reports the
 * session. Always closes the socket. Rejects with the TLS error (its `code` names a
 * certificate problem) or the socket error, or `signal.reason` when the signal fires.
 */
export async function probeTls(address: string, port: number, tlsOptions: ConnectionOptions, signal: AbortSignal, targets?: TargetPolicy): Promise<TlsProbe> {
  const { socket, answer } = await sslRequest(address, port, signal, targets);
  if (answer !== 0x53 /* 'S' */) {
    socket.destroy();
    return answer === 0x4e /* 'N' */ ? { answer: 'N' } : { answer: 'other', byte: answer };
  }
  const started = performance.now();
  const secure = await startTlsOnSocket(socket, tlsOptions, signal);
  try {
    return { answer: 'S', session: await inspectTlsSession(secure, signal, performance.now() - started) };
  } finally {
    secure.destroy();
  }
}

function sslRequest(address: string, port: number, signal: AbortSignal, targets?: TargetPolicy): Promise<{ socket: Socket; answer: number }> {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted(); // a throw in the executor rejects with signal.reason
    const socket = targets ? targets.socket() : new Socket();
    const done = () => {
      signal.removeEventListener('abort', onAbort);
      socket.off('data', onData).off('error', fail).off('close', onClose);
    };
    const fail = (error: unknown) => {
      done();
      socket.destroy();
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes the socket's error or signal.reason on unchanged, as documented
      reject(error);
    };
    const onAbort = () => fail(signal.reason);
    const onClose = () => fail(Object.assign(new Error('the server closed the connection before answering the SSLRequest'), { code: 'ECONNRESET' }));
    const onData = (chunk: Buffer) => {
      socket.pause();
      // After 'S' the server must say nothing more until the handshake: bytes here would be
      // injected by someone in the middle (CVE-2021-23214), so refuse them.
      if (chunk[0] === 0x53 && chunk.length > 1) {
        fail(Object.assign(new Error('the server sent unencrypted data after accepting TLS'), { code: 'EPROTO' }));
        return;
      }
      done();
      resolve({ socket, answer: chunk[0] });
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData).once('error', fail).once('close', onClose);
    socket.once('connect', () => socket.write(SSL_REQUEST));
    socket.connect(port, address);
  });
}
