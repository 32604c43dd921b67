/**
 * TLS errors in a user's words: certificate verification, the host name, validity, and the
 * server's alerts about the client certificate, each with a hint naming what to change. Used
 * by the `tls` check (`tlsCheck.ts`) and by every connector's connect-failure mapping.
 */
import type { TlsArgs } from './ConnectionArgs';

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
/** The hint when the server refused the client certificate it got. */
export const CLIENT_CERT_REFUSED_HINT =
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
