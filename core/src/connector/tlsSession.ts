/**
 * TLS helpers every connector shares, so the three `tls` checks report the same facts and
 * the same failures in the same words. Databases negotiate TLS inside their own protocol
 * (PostgreSQL's SSLRequest, MySQL's SSLRequest packet after the greeting) or from the first
 * byte (MongoDB), then hand the socket to an ordinary TLS handshake. The probes make that
 * handshake without letting Node reject the certificate, so the check can report every fact
 * about it and then decide itself, by the data source's mode, whether it passes.
 *
 * This file makes the handshake and reads its facts ({@link TlsSession}); `tlsCheck.ts` judges
 * them as the `tls` check's result, and `certificateErrors.ts` words the TLS errors.
 */
import type { Socket } from 'node:net';
import {
  connect as tlsConnect,
  type Certificate,
  type CipherNameAndProtocol,
  type ConnectionOptions,
  type DetailedPeerCertificate,
  type PeerCertificate,
  type TLSSocket,
} from 'node:tls';
import { toNodeTlsOptions, type TlsArgs } from './ConnectionArgs';

/** What a TLS handshake with a server showed. */
export interface TlsSession {
  /** The negotiated protocol, for example `TLSv1.3`; `unknown` when Node cannot tell. */
  protocol: string;
  /** The negotiated cipher suite (OpenSSL name), for example `TLS_AES_256_GCM_SHA384`. */
  cipher: string;
  /** Whether the certificate chain passed OpenSSL's verification against the CA given (or the system's). */
  authorized: boolean;
  /** Why chain verification failed (an OpenSSL code such as `CERT_HAS_EXPIRED`). */
  authorizationError?: string;
  /** The common name of the server certificate's subject; undefined when it has none. */
  subjectCn?: string;
  /** The common name of the certificate's issuer; undefined when it has none. */
  issuerCn?: string;
  /** The whole subject and issuer, `CN=localhost, O=Example`. */
  subject?: string;
  /** The certificate's whole issuer, like `subject`. */
  issuer?: string;
  /** Subject alternative names as OpenSSL prints them: `DNS:localhost, IP Address:127.0.0.1`. */
  subjectAltNames?: string;
  /** `notBefore` and `notAfter` as OpenSSL prints them. */
  validFrom?: string;
  /** When the certificate expires (`notAfter`), as OpenSSL prints it. */
  validTo?: string;
  /** The server asked for a client certificate (a CertificateRequest came in the handshake). */
  clientCertRequested?: boolean;
  /** A client certificate was configured and sent because the server asked. */
  clientCertPresented?: boolean;
  /** The server refused the client certificate after the handshake (TLS 1.3 sends its verdict late): the alert's code. */
  clientCertRefused?: string;
  /** The certificate, for the host name check. */
  peer?: PeerCertificate;
}

/**
 * Makes a TLS handshake over an already connected socket (after the database agreed to TLS).
 * Resolves with the secure socket; rejects with the TLS error (its `code` names a certificate
 * problem, see {@link describeCertificateError}) or `signal.reason`. On failure both sockets
 * are destroyed.
 */
export function startTlsOnSocket(socket: Socket, options: ConnectionOptions, signal: AbortSignal): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({ ...options, socket });
    const done = () => signal.removeEventListener('abort', onAbort);
    const onAbort = () => {
      secure.destroy();
      socket.destroy();
      // The daemon aborts with errors (an AbortedError, a DOMException from AbortSignal.timeout).
      reject(signal.reason as Error);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    secure.once('secureConnect', () => {
      done();
      resolve(secure);
    });
    // `on`, not `once`: a late second error after the first must not go unhandled.
    secure.on('error', (error: Error) => {
      done();
      secure.destroy();
      socket.destroy();
      reject(error);
    });
  });
}

/**
 * Node TLS options for a probe of the `tls` check: the data source's CA, client certificate,
 * key and server name, but with Node's own rejection off, so the handshake completes and
 * {@link describeTlsSession} can report the certificate and judge it by the mode. A probe
 * sends no credential besides the client certificate.
 */
export function probeTlsOptions(tls: TlsArgs, host: string): ConnectionOptions {
  return { ...toNodeTlsOptions(tls, host), host, rejectUnauthorized: false, checkServerIdentity: () => undefined };
}

/** The session facts of a connected TLS socket. */
export function tlsSessionOf(secure: TLSSocket): TlsSession {
  const cert = secure.getPeerCertificate() as DetailedPeerCertificate | null;
  const hasCert = !!cert && Object.keys(cert).length > 0;
  // On the client, OpenSSL fills the shared signature algorithms only from a CertificateRequest.
  const requested = secure.getSharedSigalgs().length > 0;
  const local = secure.getCertificate();
  // Node's types are too sure: getCipher() is null once the socket has no handle, and
  // authorizationError is null when the chain verified (else the OpenSSL code, a string).
  const cipher = secure.getCipher() as CipherNameAndProtocol | null;
  const authorizationError = secure.authorizationError as Error | string | null;
  // Decoded from the server's certificate: its subject or issuer may be missing (kept optional here).
  const subject: Certificate | undefined = cert?.subject;
  const issuer: Certificate | undefined = cert?.issuer;
  return {
    protocol: secure.getProtocol() ?? 'unknown',
    cipher: cipher?.name ?? 'unknown',
    authorized: secure.authorized,
    authorizationError: authorizationError ? String(authorizationError) : undefined,
    subjectCn: hasCert ? firstOf(subject?.CN) : undefined,
    issuerCn: hasCert ? firstOf(issuer?.CN) : undefined,
    subject: hasCert ? distinguishedName(subject) : undefined,
    issuer: hasCert ? distinguishedName(issuer) : undefined,
    subjectAltNames: hasCert ? cert.subjectaltname : undefined,
    validFrom: hasCert ? cert.valid_from : undefined,
    validTo: hasCert ? cert.valid_to : undefined,
    clientCertRequested: requested,
    clientCertPresented: requested && !!local && Object.keys(local).length > 0,
    peer: hasCert ? cert : undefined,
  };
}

/**
 * The session facts of a probe's TLS socket, once the server had its say on the client
 * certificate. In TLS 1.3 the client finishes the handshake before the server has checked the
 * client certificate; a server that refuses it (or its absence) sends an alert right after. So
 * when the server asked for a certificate this waits a little (about one more handshake's time, at most a second) for a
 * session ticket (accepted) or an alert (refused). Does not close the socket.
 */
export async function inspectTlsSession(secure: TLSSocket, signal: AbortSignal, handshakeMs = 50): Promise<TlsSession> {
  const session = tlsSessionOf(secure);
  if (!session.clientCertRequested || session.protocol !== 'TLSv1.3') return session;
  const refused = await new Promise<string | undefined>((resolve) => {
    const finish = (code: string | undefined) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      secure.off('session', onTicket).off('error', onError).off('close', onClose);
      resolve(code);
    };
    const onAbort = () => finish(undefined);
    const onTicket = () => finish(undefined);
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- an error's code is a string in Node; whatever else it is, it is read as its text
    const onError = (error: unknown) => finish(String((error as { code?: unknown }).code ?? 'ERR_TLS_ALERT'));
    const onClose = () => finish('ECONNRESET');
    const timer = setTimeout(() => finish(undefined), Math.min(1000, Math.max(50, handshakeMs * 2)));
    signal.addEventListener('abort', onAbort, { once: true });
    secure.once('session', onTicket).once('error', onError).once('close', onClose);
    secure.resume();
  });
  // Keep later errors (the probe closes the socket next) from going unhandled.
  secure.on('error', () => undefined);
  return refused ? { ...session, clientCertRefused: refused } : session;
}

function distinguishedName(name: object | undefined): string | undefined {
  if (!name) return undefined;
  const parts = Object.entries(name as Record<string, string | string[] | undefined>).flatMap(([k, v]) =>
    v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => `${k}=${x}`),
  );
  return parts.length ? parts.join(', ') : undefined;
}

function firstOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
