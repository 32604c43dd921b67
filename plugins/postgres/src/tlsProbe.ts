import { Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';

/** SSLRequest: int32 length 8, int32 code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** What a TLS handshake with the server showed. */
export interface TlsSession {
  protocol: string;
  cipher: string;
  /** Whether the certificate passed verification (always true when verification was required). */
  authorized: boolean;
  /** Why verification failed, when it was not required. */
  authorizationError?: string;
  subjectCn?: string;
  issuerCn?: string;
  /** `notAfter` of the certificate as OpenSSL prints it. */
  validTo?: string;
}

/** The server's answer to an SSLRequest, and the TLS session when one was made. */
export type TlsProbe =
  | { answer: 'S'; session: TlsSession }
  | { answer: 'N' }
  /** Anything else: an ErrorResponse from a very old server, or not PostgreSQL at all. */
  | { answer: 'other'; byte: number };

/**
 * Opens a TCP connection, sends the PostgreSQL SSLRequest and reads the one-byte answer;
 * on 'S' makes the TLS handshake with `tlsOptions` over the same socket and reports the
 * session. Always closes the socket. Rejects with the TLS error (its `code` names a
 * certificate problem) or the socket error, or `signal.reason` when the signal fires.
 */
export async function probeTls(address: string, port: number, tlsOptions: ConnectionOptions, signal: AbortSignal): Promise<TlsProbe> {
  const { socket, answer } = await sslRequest(address, port, signal);
  if (answer !== 0x53 /* 'S' */) {
    socket.destroy();
    return answer === 0x4e /* 'N' */ ? { answer: 'N' } : { answer: 'other', byte: answer };
  }
  const secure = await handshake(socket, tlsOptions, signal);
  try {
    const cert = secure.getPeerCertificate();
    return {
      answer: 'S',
      session: {
        protocol: secure.getProtocol() ?? 'unknown',
        cipher: secure.getCipher()?.name ?? 'unknown',
        authorized: secure.authorized,
        authorizationError: secure.authorizationError ? String(secure.authorizationError) : undefined,
        subjectCn: firstOf(cert?.subject?.CN),
        issuerCn: firstOf(cert?.issuer?.CN),
        validTo: cert?.valid_to,
      },
    };
  } finally {
    secure.destroy();
  }
}

function firstOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function sslRequest(address: string, port: number, signal: AbortSignal): Promise<{ socket: Socket; answer: number }> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const socket = new Socket();
    const done = () => {
      signal.removeEventListener('abort', onAbort);
      socket.off('data', onData).off('error', fail).off('close', onClose);
    };
    const fail = (error: unknown) => {
      done();
      socket.destroy();
      reject(error);
    };
    const onAbort = () => fail(signal.reason);
    const onClose = () => fail(Object.assign(new Error('the server closed the connection before answering the SSLRequest'), { code: 'ECONNRESET' }));
    const onData = (chunk: Buffer) => {
      socket.pause();
      // After 'S' the server must say nothing more until the handshake: bytes here would be
      // injected by someone in the middle (CVE-2021-23214), so refuse them.
      if (chunk[0] === 0x53 && chunk.length > 1) {
        return fail(Object.assign(new Error('the server sent unencrypted data after accepting TLS'), { code: 'EPROTO' }));
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

function handshake(socket: Socket, options: ConnectionOptions, signal: AbortSignal): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({ ...options, socket });
    const done = () => signal.removeEventListener('abort', onAbort);
    const onAbort = () => {
      secure.destroy();
      socket.destroy();
      reject(signal.reason);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    secure.once('secureConnect', () => {
      done();
      resolve(secure);
    });
    // `on`, not `once`: a late second error after the first must not go unhandled.
    secure.on('error', (error) => {
      done();
      secure.destroy();
      socket.destroy();
      reject(error);
    });
  });
}
