/**
 * TLS helpers every connector shares, so the three `tls` checks report the same facts and
 * the same failures in the same words. Databases negotiate TLS inside their own protocol
 * (PostgreSQL's SSLRequest, MySQL's SSLRequest packet after the greeting) or from the first
 * byte (MongoDB), then hand the socket to an ordinary TLS handshake. The probes make that
 * handshake without letting Node reject the certificate, so the check can report every fact
 * about it and then decide itself, by the data source's mode, whether it passes.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import {
  checkServerIdentity,
  connect as tlsConnect,
  type Certificate,
  type CipherNameAndProtocol,
  type ConnectionOptions,
  type DetailedPeerCertificate,
  type PeerCertificate,
  type TLSSocket,
} from 'node:tls';
import { failed, passed, warning, type CheckResult } from '../validation/Check';
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

/** Days before a server certificate's expiry from which {@link describeTlsSession} warns. */
export const CERT_EXPIRY_WARNING_DAYS = 30;

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

/**
 * Checks the client certificate and key locally, before any connection: that both parse and
 * that the key belongs to the certificate, and that the certificate is within its validity.
 * Returns the `tls` check's failure, or undefined when they are fine (or not given).
 */
export function checkClientKeyPair(tls: TlsArgs): CheckResult | undefined {
  if (!tls.cert || !tls.key) return undefined;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(tls.cert);
  } catch (error) {
    return failed(
      `the client certificate (ssl_config.cert) is not a readable X.509 certificate: ${(error as Error).message}`,
      'Give the client certificate as PEM text (-----BEGIN CERTIFICATE-----), a path to such a file, or a secret reference holding it.',
      { client_cert: 'unreadable' },
    );
  }
  const details = { 'client_cert.subject': oneLine(cert.subject), 'client_cert.valid_to': cert.validTo };
  let key;
  try {
    key = createPrivateKey(tls.key.reveal());
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return failed(
      `the client key (ssl_config.key) is not a readable private key${typeof code === 'string' ? ` (${code})` : ''}`,
      'Give the unencrypted private key as PEM text (-----BEGIN PRIVATE KEY-----), a path to such a file, or a secret reference holding it; an encrypted key must be decrypted first (openssl pkey -in key.pem -out plain.pem).',
      { ...details, client_cert: 'key unreadable' },
    );
  }
  if (!cert.checkPrivateKey(key)) {
    return failed(
      'the client key (ssl_config.key) does not match the client certificate (ssl_config.cert)',
      'Give the private key that the client certificate was issued for; compare `openssl x509 -noout -pubkey -in cert.pem` with `openssl pkey -pubout -in key.pem`.',
      { ...details, client_cert: 'key does not match' },
    );
  }
  const now = Date.now();
  if (Date.parse(cert.validTo) < now) {
    return failed(`the client certificate expired on ${cert.validTo}`, 'Ask for a new client certificate and give it in ssl_config.cert and ssl_config.key.', {
      ...details,
      client_cert: 'expired',
    });
  }
  if (Date.parse(cert.validFrom) > now) {
    return failed(
      `the client certificate is not valid before ${cert.validFrom}`,
      "Check the clock of the daemon's host, or wait until the certificate is valid.",
      { ...details, client_cert: 'not yet valid' },
    );
  }
  return undefined;
}

/**
 * The `tls` check's result for a probe's session, judged by the data source's mode:
 * protocol, cipher, the certificate (subject, issuer, SANs, validity), the host name check and
 * the client certificate in the details. It fails when the chain does not verify (verify-ca,
 * verify-full), the host name does not match (verify-full), the certificate expired or is not
 * valid yet, or the server refused the client certificate; it warns when the certificate
 * expires within {@link CERT_EXPIRY_WARNING_DAYS} days or when `require` skips verification
 * of a bad certificate.
 */
export function describeTlsSession(session: TlsSession, tls: TlsArgs, host: string): CheckResult {
  const mode = tls.mode;
  const name = tls.servername ?? host;
  const details: Record<string, string> = {
    mode,
    'tls.protocol': session.protocol,
    'tls.cipher': session.cipher,
    'cert.verified': session.authorized ? 'yes' : `no (${session.authorizationError ?? 'not verified'})`,
  };
  if (session.subjectCn) details['cert.subject_cn'] = session.subjectCn;
  if (session.issuerCn) details['cert.issuer_cn'] = session.issuerCn;
  if (session.subject) details['cert.subject'] = session.subject;
  if (session.issuer) details['cert.issuer'] = session.issuer;
  if (session.subjectAltNames) details['cert.san'] = session.subjectAltNames;
  if (session.validFrom) details['cert.valid_from'] = session.validFrom;
  if (session.validTo) details['cert.valid_to'] = session.validTo;
  const daysLeft = session.validTo ? Math.floor((Date.parse(session.validTo) - Date.now()) / 86_400_000) : NaN;
  if (Number.isFinite(daysLeft)) details['cert.expires_in_days'] = String(daysLeft);

  // Host name: checked in verify-full only, as libpq does.
  let hostError: Error | undefined;
  if (mode === 'verify-full' && session.peer) {
    hostError = checkServerIdentity(name, session.peer);
    details['host_name'] = hostError ? `mismatch (${name})` : `matched (${name})`;
  } else {
    details['host_name'] = `not checked (mode ${mode})`;
  }
  details['client_cert'] = clientCertFact(session, tls);

  const about = `${session.protocol} with ${session.cipher}${session.subjectCn ? `, certificate CN=${session.subjectCn}` : ''}${session.issuerCn ? ` issued by ${session.issuerCn}` : ''}`;
  const verifies = mode !== 'require';

  // Validity first: an expired certificate is the root cause whatever else is wrong.
  const chainCode = session.authorizationError;
  const validity = validityProblem(session);
  if (validity) {
    const d = describeCertificateError({ code: validity }, name);
    if (d) {
      if (verifies) return failed(d.message, d.hint, { ...details, code: d.code });
      return warning(`${about}; ${d.message} (mode require does not verify the certificate)`, d.hint, { ...details, code: d.code });
    }
  }
  if (verifies && chainCode) {
    const d = describeCertificateError({ code: chainCode }, name, tls) ?? {
      code: chainCode,
      message: `the server's certificate did not verify (${chainCode})`,
      hint: 'Check ssl_config.ca and the certificate chain the server sends.',
    };
    return failed(d.message, d.hint, { ...details, code: d.code });
  }
  if (hostError) {
    const d = describeCertificateError(hostError, name);
    // checkServerIdentity's errors are ERR_TLS_CERT_ALTNAME_INVALID, which has a description.
    if (!d) throw new Error(`internal error: no description of the host-name check's error ${String((hostError as { code?: unknown }).code)}`);
    return failed(d.message, d.hint, { ...details, code: d.code });
  }
  if (session.clientCertRefused) {
    const d = describeCertificateError({ code: session.clientCertRefused }, name, tls);
    return failed(d?.message ?? `the server refused the client certificate (${session.clientCertRefused})`, d?.hint ?? CLIENT_CERT_REFUSED_HINT, {
      ...details,
      code: session.clientCertRefused,
    });
  }
  if (Number.isFinite(daysLeft) && daysLeft < CERT_EXPIRY_WARNING_DAYS) {
    return warning(`${about}; the certificate expires in ${daysLeft} days (${session.validTo})`, 'Renew the server certificate before it expires.', details);
  }
  const clientNote = session.clientCertPresented ? '; client certificate accepted' : '';
  if (!session.authorized && mode === 'require') {
    return passed(`${about}; the certificate was not verified (mode require)${clientNote}`, details);
  }
  return passed(`${about}${clientNote}`, details);
}

/**
 * The `tls` check's failure for an error thrown by a probe's handshake (the server refused
 * the client certificate, does not speak TLS, or something else broke). `text` is the error's
 * scrubbed message.
 */
export function describeTlsHandshakeFailure(error: unknown, tls: TlsArgs, host: string, port: number, text: string): CheckResult {
  const name = tls.servername ?? host;
  const details: Record<string, string> = { mode: tls.mode };
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') details.code = code;
  const d = describeCertificateError(error, name, tls);
  if (d) return failed(d.message, d.hint, { ...details, code: d.code });
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || /before secure TLS connection|wrong version number/i.test(text)) {
    return failed(
      `the server at ${host}:${port} does not speak TLS (it ${code === 'ERR_SSL_WRONG_VERSION_NUMBER' ? 'answered the TLS handshake with something else' : 'closed the connection at the TLS handshake'})`,
      'Turn TLS on in the server, check that the port is the TLS port, or, on a trusted network only, set ssl_config.mode to SSL_MODE_DISABLE.',
      details,
    );
  }
  return failed(
    `the TLS handshake with ${host}:${port} failed: ${text}`,
    "Check ssl_config (mode, CA, client certificate and key) and the server's TLS settings (protocol versions, ciphers).",
    details,
  );
}

/** Certificate verification errors of Node's TLS that mean "not signed by a CA we trust". */
const UNTRUSTED_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
]);

/** Alerts a server sends when it wants a client certificate and got none. */
const CLIENT_CERT_REQUIRED_CODES = new Set(['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED']);
/** Alerts a server sends when it does not accept the client certificate it got. */
const CLIENT_CERT_REFUSED_CODES = new Set([
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
  'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR',
]);

const CLIENT_CERT_HINT =
  'The server requires a client certificate: give ssl_config.cert and ssl_config.key (PEM text, a file path, or a secret reference) issued by a CA the server trusts, for this user.';
const CLIENT_CERT_REFUSED_HINT =
  "Give a client certificate issued by the CA the server trusts for clients (PostgreSQL's ssl_ca_file, MariaDB's ssl_ca, mongod's net.tls.CAFile), still valid, with its key.";

/**
 * Describes a TLS error by its `code` (certificate verification, host name, validity, the
 * server's alerts about the client certificate), or returns undefined when the error is not
 * one. `host` is the name the certificate was checked against; `tls` (when known) tells
 * whether a client certificate was configured.
 */
export function describeCertificateError(
  error: unknown,
  host: string,
  tls?: Pick<TlsArgs, 'cert'> & Partial<Pick<TlsArgs, 'ca'>>,
): { message: string; hint: string; code: string } | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (UNTRUSTED_CERT_CODES.has(code) && tls?.ca) {
    // A CA was given, and it is not the one: asking for "the CA" again would not help.
    return {
      code,
      message: `the server's certificate is not signed by the CA given in ssl_config.ca: unknown CA (${code})`,
      hint: "The CA in ssl_config.ca did not sign the server's certificate, or the server sends no intermediate certificate: give the CA (or the bundle with its intermediates) that signed it; `openssl s_client -connect HOST:PORT -showcerts` shows the chain the server sends.",
    };
  }
  if (UNTRUSTED_CERT_CODES.has(code)) {
    return {
      code,
      message: `the server's certificate is not signed by a trusted certificate authority: unknown CA (${code})`,
      hint: 'Give the CA certificate that signed the server certificate in ssl_config.ca (PEM text, a file path or a secret reference). Managed services publish theirs (for example the AWS RDS or Azure CA bundles).',
    };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const reason = (error as { reason?: unknown }).reason;
    return {
      code,
      message: `the server's certificate is not valid for the host name ${host} (host name mismatch)${typeof reason === 'string' ? `: ${reason}` : ''}`,
      hint: 'Connect with a host name the certificate names, or set ssl_config.server_name to the name it carries, or use SSL_MODE_VERIFY_CA to check the CA only.',
    };
  }
  if (code === 'CERT_HAS_EXPIRED') {
    return { code, message: "the server's certificate has expired", hint: 'Renew the server certificate.' };
  }
  if (code === 'CERT_NOT_YET_VALID') {
    return { code, message: "the server's certificate is not valid yet", hint: "Check the clocks of the server and of the daemon's host." };
  }
  const haveCert = tls ? !!tls.cert : undefined;
  if (CLIENT_CERT_REQUIRED_CODES.has(code) || (code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' && haveCert === false)) {
    return {
      code,
      message: `the server requires a client certificate and none was given${code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' ? ' (or it shares no cipher with the daemon)' : ''}`,
      hint: CLIENT_CERT_HINT,
    };
  }
  if (CLIENT_CERT_REFUSED_CODES.has(code)) {
    return { code, message: `the server refused the client certificate (${code})`, hint: CLIENT_CERT_REFUSED_HINT };
  }
  return undefined;
}

/** What happened to the client certificate, for the details. */
function clientCertFact(session: TlsSession, tls: TlsArgs): string {
  const configured = !!tls.cert;
  if (!session.clientCertRequested) return configured ? 'configured, not requested by the server' : 'not requested by the server';
  if (!configured) return session.clientCertRefused ? 'required by the server, none configured' : 'requested by the server, none configured';
  if (session.clientCertRefused) return `presented, refused (${session.clientCertRefused})`;
  return 'presented, accepted';
}

/** `CERT_HAS_EXPIRED` / `CERT_NOT_YET_VALID` from the certificate's dates, whatever the chain said. */
function validityProblem(session: TlsSession): string | undefined {
  if (session.authorizationError === 'CERT_HAS_EXPIRED' || session.authorizationError === 'CERT_NOT_YET_VALID') return session.authorizationError;
  const now = Date.now();
  if (session.validTo && Date.parse(session.validTo) < now) return 'CERT_HAS_EXPIRED';
  if (session.validFrom && Date.parse(session.validFrom) > now) return 'CERT_NOT_YET_VALID';
  return undefined;
}

function distinguishedName(name: object | undefined): string | undefined {
  if (!name) return undefined;
  const parts = Object.entries(name as Record<string, string | string[] | undefined>).flatMap(([k, v]) =>
    v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => `${k}=${x}`),
  );
  return parts.length ? parts.join(', ') : undefined;
}

function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}

function firstOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
