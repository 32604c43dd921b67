/**
 * The `tls` check's verdicts, shared by every connector: the client certificate and key
 * checked locally before any connection ({@link checkClientKeyPair}), a probe's session judged
 * by the data source's mode ({@link describeTlsSession}), and a failed handshake described
 * ({@link describeTlsHandshakeFailure}). The session's facts come from `tlsSession.ts`.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { checkServerIdentity } from 'node:tls';
import { failed, passed, warning, type CheckResult } from '../validation/Check';
import { CLIENT_CERT_REFUSED_HINT, describeCertificateError } from './certificateErrors';
import type { TlsArgs } from './ConnectionArgs';
import type { TlsSession } from './tlsSession';

/** Days before a server certificate's expiry from which {@link describeTlsSession} warns. */
export const CERT_EXPIRY_WARNING_DAYS = 30;
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

function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}
