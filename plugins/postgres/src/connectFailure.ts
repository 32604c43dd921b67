import {
  describeCertificateError as describeTlsCertificateError,
  type ConnectionArgs,
  connectFailureToError,
  type ConnectFailure,
  targetDeniedFailure,
  type TlsArgs,
} from '@sourced/core';
import { NoPasswordError } from './connect';
import { isConnectionError, scrubbed, sqlState } from './pgErrors';

/**
 * Describes a TLS certificate verification error, or returns undefined when the error is
 * not one. Shared by the `tls` check and by connection failures; core's description with
 * PostgreSQL's setting for the certificate.
 */
export function describeCertificateError(error: unknown, host: string, tls?: TlsArgs): { message: string; hint: string; code: string } | undefined {
  const described = describeTlsCertificateError(error, host, tls);
  if (described?.code === 'CERT_HAS_EXPIRED') described.hint = 'Renew the server certificate (ssl_cert_file on the server).';
  return described;
}

/**
 * Classifies an error from opening a connection: SQLSTATE first (authentication, missing
 * database, too many connections), then TLS and socket errors. The message is scrubbed of
 * the password and the client key; PostgreSQL's own texts for these codes are safe.
 */
export function describeConnectFailure(error: unknown, args: ConnectionArgs): ConnectFailure {
  const denied = targetDeniedFailure(error);
  if (denied) return denied;
  const text = scrubbed(error, [args.password, args.tls?.key]);
  const target = `${args.host}:${args.port}`;
  const user = args.user ?? '';
  const database = args.database ?? user;
  const state = sqlState(error);
  const passwordSource = args.credentialSources.password;

  if (error instanceof NoPasswordError) {
    return {
      reason: 'PASSWORD_REQUIRED',
      kind: 'not-allowed',
      message: `the server asks user "${user}" for a password, but the data source has none`,
      hint: 'Give credentials.password (an inline value or a reference such as env://, aws-sm://, azure-kv://), or set connection_properties.password.',
    };
  }
  switch (state) {
    case '28P01':
      return {
        reason: 'AUTHENTICATION_FAILED',
        kind: 'not-allowed',
        code: state,
        message: `password authentication failed for user "${user}"`,
        hint: passwordSource
          ? `Check the user name and the password; the password came from ${passwordSource}: check that it holds the current password of this user.`
          : 'Check the user name and the password.',
      };
    case '28000': {
      const noEntry = /pg_hba\.conf/.test(text);
      const notPermitted = /not permitted to log in/.test(text);
      const noRole = /^role .* does not exist/.test(text);
      // pg_hba.conf `cert` / `clientcert=verify-*`: no client certificate, or one for another user.
      if (/requires a valid client certificate/.test(text)) {
        return {
          reason: 'CLIENT_CERTIFICATE_REQUIRED',
          kind: 'not-allowed',
          code: state,
          message: text,
          hint: args.tls?.cert
            ? "The server did not accept the client certificate given: it must be issued by the CA in the server's ssl_ca_file and still valid."
            : "The server requires a client certificate for this user: give ssl_config.cert and ssl_config.key (PEM text, a file path or a secret reference), issued by the CA in the server's ssl_ca_file with CN = the user name.",
        };
      }
      if (/certificate authentication failed|does not match user name/.test(text)) {
        return {
          reason: 'CLIENT_CERTIFICATE_REJECTED',
          kind: 'not-allowed',
          code: state,
          message: text,
          hint: `The client certificate's CN must equal the user name ("${user}"), or the DBA maps it with a pg_ident.conf map on the pg_hba.conf line.`,
        };
      }
      return {
        reason: notPermitted ? 'ROLE_CANNOT_LOGIN' : noRole ? 'ROLE_NOT_FOUND' : 'CONNECTION_NOT_ALLOWED',
        kind: 'not-allowed',
        code: state,
        message: text,
        hint: notPermitted
          ? `The role exists but lacks LOGIN: ALTER ROLE "${user}" LOGIN.`
          : noRole
            ? 'Check the user name (credentials.username); role names are case-sensitive.'
            : noEntry && !args.tls
              ? "No pg_hba.conf line lets this user in from the daemon's address without TLS; the server may accept only TLS connections (hostssl lines): set ssl_config.mode, or ask the DBA to add a pg_hba.conf entry for this user, database and address."
              : "Ask the DBA to add a pg_hba.conf entry for this user, database and the daemon's address (and to reload the configuration).",
      };
    }
    case '3D000':
      return {
        reason: 'DATABASE_NOT_FOUND',
        kind: 'not-found',
        code: state,
        message: `database "${database}" does not exist on ${target}`,
        hint: 'Check the database name (it is case-sensitive); list the databases with SELECT datname FROM pg_database (psql -l).',
      };
    case '53300':
      return {
        reason: 'TOO_MANY_CONNECTIONS',
        kind: 'unavailable',
        code: state,
        message: `the server refused the connection: ${text}`,
        hint: 'The server reached max_connections (or the role its CONNECTION LIMIT). Retry later, close idle sessions, or put a pooler in front.',
      };
    case '57P03':
      return {
        reason: 'SERVER_NOT_READY',
        kind: 'unavailable',
        code: state,
        message: `the server is not accepting connections now: ${text}`,
        hint: 'The server is starting up, shutting down or in recovery; retry in a moment.',
      };
  }
  if (state?.startsWith('08')) {
    return { reason: 'CONNECTION_FAILED', kind: 'unavailable', code: state, message: `the connection to ${target} failed: ${text}` };
  }
  if (state?.startsWith('28')) {
    return { reason: 'AUTHENTICATION_FAILED', kind: 'not-allowed', code: state, message: text, hint: 'Check the user name and credentials.' };
  }

  // TLS misconfigurations are not outages: retrying does not help (FAILED_PRECONDITION).
  const cert = describeCertificateError(error, args.tls?.servername ?? args.host, args.tls);
  if (cert) return { reason: 'TLS_CERTIFICATE_REJECTED', kind: 'invalid', ...cert };
  if (/does not support SSL/.test(text)) {
    return {
      reason: 'TLS_NOT_OFFERED',
      kind: 'invalid',
      message: `the server at ${target} does not accept TLS`,
      hint: 'Turn TLS on in the server (ssl = on with a certificate), or, on a trusted network only, set ssl_config.mode to SSL_MODE_DISABLE.',
    };
  }
  if (/^SASL:/.test(text)) {
    return {
      reason: 'AUTHENTICATION_FAILED',
      kind: 'not-allowed',
      message: `SCRAM authentication failed: ${text}`,
      hint: "The server's SCRAM exchange could not be completed; check the password, and whether a proxy between the daemon and the server changes the authentication.",
    };
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (text.startsWith('timeout expired')) {
    return {
      reason: 'CONNECT_TIMEOUT',
      kind: 'unavailable',
      code: 'TIMEOUT',
      message: `no PostgreSQL handshake with ${target} within ${args.connectTimeoutMs} ms`,
      hint: 'The server or a firewall in between is slow or drops packets; raise connection_properties.connect_timeout_seconds if it is merely slow.',
    };
  }
  if (code === 'ECONNREFUSED') {
    return {
      reason: 'CONNECTION_REFUSED',
      kind: 'unavailable',
      code,
      message: `connection refused by ${target}`,
      hint: 'Check the port, and that PostgreSQL runs and listens on this interface (listen_addresses).',
    };
  }
  if (isConnectionError(error)) {
    return {
      reason: 'CONNECTION_FAILED',
      kind: 'unavailable',
      code: typeof code === 'string' ? code : undefined,
      message: `the connection to ${target} failed: ${text}`,
    };
  }
  return {
    reason: 'CONNECT_FAILED',
    kind: 'unavailable',
    code: typeof code === 'string' ? code : undefined,
    message: `could not connect to ${target}: ${text}`,
  };
}

/** The semantic error discovery raises when a connection cannot be opened. */
export function toConnectError(error: unknown, args: ConnectionArgs): Error {
  return connectFailureToError(error, (e) => describeConnectFailure(e, args));
}
