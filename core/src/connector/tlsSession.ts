/**
 * TLS helpers every SQL connector needs: databases negotiate TLS inside their own protocol
 * (PostgreSQL's SSLRequest, MySQL's SSLRequest packet after the server greeting), then hand
 * the socket to an ordinary TLS handshake. These turn that handshake, its session and its
 * certificate errors into check results and messages for people.
 */
import type { Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { passed, warning, type CheckResult } from '../validation/Check';

/** What a TLS handshake with a server showed. */
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

/** Days before a server certificate's expiry from which {@link describeTlsSession} warns. */
export const CERT_EXPIRY_WARNING_DAYS = 14;

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

/** The session facts of a connected TLS socket. */
export function tlsSessionOf(secure: TLSSocket): TlsSession {
  const cert = secure.getPeerCertificate();
  return {
    protocol: secure.getProtocol() ?? 'unknown',
    cipher: secure.getCipher()?.name ?? 'unknown',
    authorized: secure.authorized,
    authorizationError: secure.authorizationError ? String(secure.authorizationError) : undefined,
    subjectCn: firstOf(cert?.subject?.CN),
    issuerCn: firstOf(cert?.issuer?.CN),
    validTo: cert?.valid_to,
  };
}

/**
 * The `tls` check's result for a session: protocol, cipher and certificate in the details,
 * a warning when the certificate expires within {@link CERT_EXPIRY_WARNING_DAYS} days.
 */
export function describeTlsSession(session: TlsSession, mode: string): CheckResult {
  const details: Record<string, string> = {
    mode,
    'tls.protocol': session.protocol,
    'tls.cipher': session.cipher,
    'cert.verified': session.authorized ? 'yes' : `no (${session.authorizationError ?? 'not verified'})`,
  };
  if (session.subjectCn) details['cert.subject_cn'] = session.subjectCn;
  if (session.issuerCn) details['cert.issuer_cn'] = session.issuerCn;
  if (session.validTo) details['cert.valid_to'] = session.validTo;
  const message = `${session.protocol} with ${session.cipher}${session.subjectCn ? `, certificate CN=${session.subjectCn}` : ''}`;
  const expires = session.validTo ? Date.parse(session.validTo) : NaN;
  if (Number.isFinite(expires)) {
    const days = Math.floor((expires - Date.now()) / 86_400_000);
    if (days < CERT_EXPIRY_WARNING_DAYS) {
      return warning(`${message}; the certificate expires in ${days} days`, 'Renew the server certificate before it expires.', details);
    }
  }
  if (!session.authorized && mode === 'require') {
    return passed(`${message}; the certificate was not verified (mode require)`, details);
  }
  return passed(message, details);
}

/** Certificate verification errors of Node's TLS that mean "not signed by a CA we trust". */
const UNTRUSTED_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
]);

/**
 * Describes a TLS certificate verification error (by its `code`), or returns undefined when
 * the error is not one. `host` is the name the certificate was checked against.
 */
export function describeCertificateError(error: unknown, host: string): { message: string; hint: string; code: string } | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (UNTRUSTED_CERT_CODES.has(code)) {
    return {
      code,
      message: `the server's certificate is not signed by a trusted certificate authority (${code})`,
      hint: 'Give the CA certificate that signed the server certificate in ssl_config.ca (PEM text or a file path). Managed services publish theirs (for example the AWS RDS or Azure CA bundles).',
    };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const reason = (error as { reason?: unknown }).reason;
    return {
      code,
      message: `the server's certificate is not valid for the host name ${host}${typeof reason === 'string' ? `: ${reason}` : ''}`,
      hint: 'Connect with a host name the certificate names, or set ssl_config.server_name to the name it carries, or use SSL_MODE_VERIFY_CA to check the CA only.',
    };
  }
  if (code === 'CERT_HAS_EXPIRED') {
    return { code, message: "the server's certificate has expired", hint: 'Renew the server certificate.' };
  }
  if (code === 'CERT_NOT_YET_VALID') {
    return { code, message: "the server's certificate is not valid yet", hint: "Check the clocks of the server and of the daemon's host." };
  }
  return undefined;
}

function firstOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
