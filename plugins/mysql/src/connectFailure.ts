import {
  describeCertificateError,
  scrubbedErrorText,
  type ConnectionArgs,
  connectFailureToError,
  type ConnectFailure,
  targetDeniedFailure,
} from '@sourced/core';
import { tlsErrorCode } from './driver';
import { errorCode, isConnectionError, serverErrno } from './mysqlErrors';

/** Server error numbers (the same in MySQL and MariaDB unless noted). */
const ER = {
  DBACCESS_DENIED: 1044,
  ACCESS_DENIED: 1045,
  BAD_DB: 1049,
  CON_COUNT: 1040,
  HOST_IS_BLOCKED: 1129,
  HOST_NOT_PRIVILEGED: 1130,
  TOO_MANY_USER_CONNECTIONS: 1203,
  USER_LIMIT_REACHED: 1226,
  NOT_SUPPORTED_AUTH_MODE: 1251,
  ACCESS_DENIED_NO_PASSWORD: 1698,
  MUST_CHANGE_PASSWORD: 1820,
  MUST_CHANGE_PASSWORD_LOGIN: 1862,
  SERVER_SHUTDOWN: 1053,
  /** MySQL 8 (require_secure_transport). */
  SECURE_TRANSPORT_REQUIRED: 3159,
  /** MySQL 8. */
  MYSQL_ACCOUNT_LOCKED: 3118,
  /** MariaDB 10.4+. */
  MARIADB_USER_BLOCKED: 4150,
  /** MariaDB 10.4+. */
  MARIADB_ACCOUNT_LOCKED: 4151,
} as const;

const TLS_HINT =
  'Turn TLS on in the server (MariaDB and MySQL: ssl_cert and ssl_key in the server configuration), or, on a trusted network only, set ssl_config.mode to SSL_MODE_DISABLE.';

/**
 * Classifies an error from opening a connection: the server's error number first (access
 * denied, unknown database, TLS required, too many connections), then authentication
 * plugins, TLS and socket errors. The message is scrubbed of the password and the client key.
 */
export function describeConnectFailure(error: unknown, args: ConnectionArgs): ConnectFailure {
  const denied = targetDeniedFailure(error);
  if (denied) return denied;
  const text = scrubbedErrorText(error, [args.password, args.tls?.key]);
  const target = `${args.host}:${args.port}`;
  const user = args.user ?? '';
  const errno = serverErrno(error);
  const code = errno !== undefined ? String(errno) : errorCode(error);
  const passwordSource = args.credentialSources.password;
  const noTls = !args.tls;

  switch (errno) {
    case ER.ACCESS_DENIED: {
      const usedPassword = !/using password: NO/.test(text);
      const hints = [
        !usedPassword
          ? 'The data source has no password: give credentials.password (an inline value or a reference such as env://, aws-sm://, azure-kv://).'
          : passwordSource
            ? `Check the user name and the password; the password came from ${passwordSource}: check that it holds the current password of this user.`
            : 'Check the user name and the password.',
        `MySQL matches accounts by user and client host: an account must exist for the daemon's address ('${user}'@'%' or '${user}'@'<daemon address>'), with this password.`,
      ];
      if (noTls) hints.push('If the account requires TLS (REQUIRE SSL/X509) or the server sets require_secure_transport, set ssl_config.mode.');
      else if (!args.tls?.cert) {
        hints.push(
          "If the account requires a client certificate (REQUIRE X509, ISSUER or SUBJECT), give ssl_config.cert and ssl_config.key (PEM text, a file path or a secret reference) issued by the CA in the server's ssl_ca.",
        );
      } else hints.push("If the account requires ISSUER or SUBJECT, check that the client certificate's issuer and subject are the ones the account names.");
      return { reason: 'AUTHENTICATION_FAILED', kind: 'not-allowed', code, message: text, hint: hints.join(' ') };
    }
    case ER.ACCESS_DENIED_NO_PASSWORD:
      return {
        reason: 'AUTH_PLUGIN_NOT_SUPPORTED',
        kind: 'not-allowed',
        code,
        message: text,
        hint: `The account authenticates with a method that works only locally (for example unix_socket): create an account for the daemon with a password, for example CREATE USER '${user}'@'%' IDENTIFIED BY '...'.`,
      };
    case ER.DBACCESS_DENIED:
      return {
        reason: 'DATABASE_NOT_ALLOWED',
        kind: 'not-allowed',
        code,
        message: text,
        // The server gives this answer also for a database that does not exist, so as not to
        // tell an account without privileges which databases exist.
        hint: `Check the database name: it may not exist (SHOW DATABASES lists those the account may see). If it exists, grant access to it (GRANT SELECT, SHOW VIEW ON \`${args.database ?? '<database>'}\`.* TO '${user}'@'%'), or leave primary.database empty: discovery needs no default database.`,
      };
    case ER.BAD_DB:
      return {
        reason: 'DATABASE_NOT_FOUND',
        kind: 'not-found',
        code,
        message: `database "${args.database ?? ''}" does not exist on ${target}`,
        hint: 'Check the database name (it is case-sensitive on most servers; list them with SHOW DATABASES), or leave primary.database empty: discovery needs no default database.',
      };
    case ER.SECURE_TRANSPORT_REQUIRED:
      return {
        reason: 'TLS_REQUIRED',
        kind: 'not-allowed',
        code,
        message: `the server at ${target} accepts only TLS connections (require_secure_transport)`,
        hint: "Set ssl_config.mode (SSL_MODE_VERIFY_FULL with the server's CA in ssl_config.ca).",
      };
    case ER.HOST_NOT_PRIVILEGED:
      return {
        reason: 'HOST_NOT_ALLOWED',
        kind: 'not-allowed',
        code,
        message: text,
        hint: `No account on the server matches the daemon's address. Ask the DBA to create one for it ('${user}'@'%' or '${user}'@'<daemon address>').`,
      };
    case ER.HOST_IS_BLOCKED:
      return {
        reason: 'HOST_BLOCKED',
        kind: 'unavailable',
        code,
        message: text,
        hint: "The server blocked the daemon's address after too many failed connections (max_connect_errors): run FLUSH HOSTS (mariadb-admin / mysqladmin flush-hosts) on the server.",
      };
    case ER.CON_COUNT:
    case ER.TOO_MANY_USER_CONNECTIONS:
    case ER.USER_LIMIT_REACHED:
      return {
        reason: 'TOO_MANY_CONNECTIONS',
        kind: 'unavailable',
        code,
        message: `the server refused the connection: ${text}`,
        hint: 'The server reached max_connections (or the account its MAX_USER_CONNECTIONS / resource limits). Retry later or close idle sessions.',
      };
    case ER.NOT_SUPPORTED_AUTH_MODE:
      return {
        reason: 'AUTH_PLUGIN_NOT_SUPPORTED',
        kind: 'not-allowed',
        code,
        message: text,
        hint: 'The account uses an authentication method the daemon does not speak. Supported: mysql_native_password, caching_sha2_password, sha256_password, ed25519 (MariaDB), and mysql_clear_password over TLS.',
      };
    case ER.MUST_CHANGE_PASSWORD:
    case ER.MUST_CHANGE_PASSWORD_LOGIN:
      return {
        reason: 'PASSWORD_EXPIRED',
        kind: 'not-allowed',
        code,
        message: text,
        hint: "The account's password has expired: set a new one (ALTER USER ... IDENTIFIED BY ...) and update the data source.",
      };
    case ER.MYSQL_ACCOUNT_LOCKED:
    case ER.MARIADB_ACCOUNT_LOCKED:
      return { reason: 'ACCOUNT_LOCKED', kind: 'not-allowed', code, message: text, hint: `Unlock the account: ALTER USER '${user}'@'...' ACCOUNT UNLOCK.` };
    case ER.MARIADB_USER_BLOCKED:
      return {
        reason: 'ACCOUNT_LOCKED',
        kind: 'not-allowed',
        code,
        message: text,
        hint: 'The account is blocked after too many wrong passwords (max_password_errors): fix the password, then FLUSH PRIVILEGES or ALTER USER on the server.',
      };
    case ER.SERVER_SHUTDOWN:
      return { reason: 'SERVER_NOT_READY', kind: 'unavailable', code, message: `the server is shutting down: ${text}`, hint: 'Retry in a moment.' };
  }
  if (errno !== undefined && /secure transport|insecure transport|require.*ssl/i.test(text)) {
    return {
      reason: 'TLS_REQUIRED',
      kind: 'not-allowed',
      code,
      message: text,
      hint: "Set ssl_config.mode (SSL_MODE_VERIFY_FULL with the server's CA in ssl_config.ca).",
    };
  }
  if (errno !== undefined) {
    return { reason: 'CONNECT_FAILED', kind: 'unavailable', code, message: `the server refused the connection: ${text}` };
  }

  const plugin = /unknown plugin (\S+?)\.?(?:\s|$)/.exec(text)?.[1];
  if (plugin) {
    return {
      reason: 'AUTH_PLUGIN_NOT_SUPPORTED',
      kind: 'not-allowed',
      code: 'AUTH_PLUGIN_NOT_SUPPORTED',
      message: `the server asks for the authentication plugin ${plugin}, which the daemon does not support`,
      hint: `Give the account a method the daemon speaks (mysql_native_password, caching_sha2_password, sha256_password or ed25519), for example ALTER USER '${user}'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('...') on MariaDB.`,
    };
  }
  if (code === 'MYSQL_CLEAR_PASSWORD_NOT_ENABLED') {
    return {
      reason: 'TLS_REQUIRED',
      kind: 'not-allowed',
      code,
      message: 'the server asks for the password in clear text (mysql_clear_password, as PAM and LDAP accounts do), and the connection is not encrypted',
      hint: 'The daemon sends a clear-text password only over TLS: set ssl_config.mode (SSL_MODE_VERIFY_FULL with the CA in ssl_config.ca).',
    };
  }
  if (code === 'HANDSHAKE_NO_SSL_SUPPORT') {
    return { reason: 'TLS_NOT_OFFERED', kind: 'invalid', code, message: `the server at ${target} does not offer TLS`, hint: TLS_HINT };
  }
  const tlsCode = tlsErrorCode(error);
  // TLS misconfigurations are not outages: retrying does not help (FAILED_PRECONDITION).
  const cert = describeCertificateError({ code: tlsCode, reason: (error as { reason?: unknown }).reason }, args.tls?.servername ?? args.host, args.tls);
  if (cert) return { reason: 'TLS_CERTIFICATE_REJECTED', kind: 'invalid', ...cert };
  if (code === 'HANDSHAKE_SSL_ERROR') {
    return {
      reason: 'TLS_FAILED',
      kind: 'unavailable',
      code: tlsCode ?? code,
      message: `the TLS handshake with ${target} failed: ${text}`,
      hint: "Check ssl_config (mode, CA, client certificate and key) and the server's TLS settings (tls_version, ssl_cipher).",
    };
  }
  if (code === 'ETIMEDOUT') {
    return {
      reason: 'CONNECT_TIMEOUT',
      kind: 'unavailable',
      code: 'TIMEOUT',
      message: `no MySQL handshake with ${target} within ${args.connectTimeoutMs} ms`,
      hint: 'The server or a firewall in between is slow or drops packets; raise connection_properties.connect_timeout_seconds if it is merely slow.',
    };
  }
  if (code === 'ECONNREFUSED') {
    return {
      reason: 'CONNECTION_REFUSED',
      kind: 'unavailable',
      code,
      message: `connection refused by ${target}`,
      hint: 'Check the port, and that the server runs and listens on this interface (bind_address, skip_networking).',
    };
  }
  if (code === 'HANDSHAKE_UNKNOWN_ERROR' || code === 'PROTOCOL_INCORRECT_PACKET_SEQUENCE') {
    return {
      reason: 'NOT_MYSQL',
      kind: 'unavailable',
      code,
      message: `${target} did not answer with the MySQL protocol: ${text}`,
      hint: 'Check that the port is a MySQL or MariaDB server (and not, for example, a proxy for another protocol).',
    };
  }
  if (isConnectionError(error)) {
    return { reason: 'CONNECTION_FAILED', kind: 'unavailable', code, message: `the connection to ${target} failed: ${text}` };
  }
  return { reason: 'CONNECT_FAILED', kind: 'unavailable', code, message: `could not connect to ${target}: ${text}` };
}

/** The semantic error discovery raises when a connection cannot be opened. */
export function toConnectError(error: unknown, args: ConnectionArgs): Error {
  return connectFailureToError(error, (e) => describeConnectFailure(e, args));
}
