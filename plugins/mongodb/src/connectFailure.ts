import {
  describeCertificateError,
  scrubbedErrorText,
  type ConnectionArgs,
  connectFailureToError,
  type ConnectFailure,
  targetDeniedFailure,
} from '@sourced/core';
import { MongoAPIError, MongoNetworkTimeoutError, MongoParseError, MongoServerSelectionError } from 'mongodb';
import type { MongoSettings } from './connect';
import { ErrorCode, errorCode, errorWithCode, isConnectionError, serverCode, underlyingError } from './mongoErrors';

/** What else is known when a connection fails (from earlier checks). */
export interface FailureContext {
  /** The `tls` check found that the server speaks TLS. */
  serverOffersTls?: boolean;
  /** Whether the user exists in the auth source (from hello's saslSupportedMechs), when known. */
  userExists?: boolean;
  /** The time the client was given (a check's: within its own limit, which may be below the connect timeout). */
  timeoutMs?: number;
  /** The check's own time limit, when a check opened the client. */
  checkLimitMs?: number;
}

/**
 * Classifies an error from opening a client: authentication (code 18), then what the
 * monitor saw when no server could be selected (refused, TLS certificate, TLS mismatch,
 * timeout). The text is scrubbed of the password and client key.
 */
export function describeConnectFailure(error: unknown, args: ConnectionArgs, settings: MongoSettings, known: FailureContext = {}): ConnectFailure {
  const denied = targetDeniedFailure(error);
  if (denied) return denied;
  const target = settings.srv ? `mongodb+srv://${settings.host}` : `${args.host}:${args.port}`;
  const cause = underlyingError(error);
  const text = scrubbedErrorText(cause, [args.password, args.tls?.key]);
  const code = serverCode(cause);
  const user = args.user ?? '';
  const authSource = settings.authSource ?? 'admin';

  if (code === ErrorCode.AuthenticationFailed) {
    const passwordSource = args.credentialSources.password;
    if (known.userExists === false) {
      return {
        reason: 'USER_NOT_FOUND',
        kind: 'not-allowed',
        code: String(code),
        message: `authentication failed: there is no user "${user}" in the authentication database "${authSource}"`,
        hint: `Check the user name, and set connection_properties.auth_source to the database the user was created in (users are usually created in "admin").`,
      };
    }
    return {
      reason: 'AUTHENTICATION_FAILED',
      kind: 'not-allowed',
      code: String(code),
      message: `authentication failed for user "${user}" (auth source "${authSource}", ${settings.authMechanism === 'DEFAULT' ? 'SCRAM' : settings.authMechanism})`,
      hint: known.userExists
        ? `The user exists in "${authSource}", so the password is wrong${passwordSource ? ` (it came from ${passwordSource}: check that it holds the current password of this user)` : ''}.`
        : `Check the user name and the password${passwordSource ? ` (it came from ${passwordSource})` : ''}; if the user was created in another database, set connection_properties.auth_source to it.`,
    };
  }
  if (code !== undefined) {
    return { reason: 'SERVER_ERROR', kind: 'unavailable', code: String(code), message: `${target} refused the connection: ${text}` };
  }
  if (error instanceof MongoParseError || (error instanceof MongoAPIError && !isConnectionError(error))) {
    return {
      reason: 'INVALID_CONNECTION_OPTIONS',
      kind: 'invalid',
      message: `the connection options are not valid for the MongoDB driver: ${text}`,
      hint: 'Check the host (an SRV name takes no port), connection_properties and ssl_config.',
    };
  }

  // TLS misconfigurations are not outages: retrying does not help (FAILED_PRECONDITION).
  const cert = describeCertificateError(errorWithCode(cause), args.tls?.servername ?? (settings.srv ? settings.host : args.host), args.tls);
  if (cert) return { reason: 'TLS_CERTIFICATE_REJECTED', kind: 'invalid', ...cert };

  const socketCode = errorCode(cause);
  if (socketCode === 'ECONNREFUSED') {
    return {
      reason: 'CONNECTION_REFUSED',
      kind: 'unavailable',
      code: socketCode,
      message: `connection refused by ${target}`,
      hint: 'Check the port, and that mongod (or mongos) runs and listens on this interface (net.bindIp).',
    };
  }
  if (socketCode === 'ENOTFOUND' || socketCode === 'ENODATA' || socketCode === 'ESERVFAIL') {
    return {
      reason: 'HOST_NOT_FOUND',
      kind: 'unavailable',
      code: socketCode,
      message: `${settings.srv ? `the SRV seed list of ${settings.host} (or one of its hosts)` : `host ${args.host}`} does not resolve (${socketCode})`,
      hint: settings.srv
        ? `Check that _mongodb._tcp.${settings.host} has SRV records, or connect to a host and port without SRV.`
        : 'Check the spelling of the host.',
    };
  }
  if (args.tls && /before secure TLS connection|ECONNRESET|EPROTO|wrong version number|packet length too long/i.test(`${socketCode} ${text}`)) {
    return {
      reason: 'TLS_NOT_OFFERED',
      kind: 'invalid',
      code: socketCode,
      message: `the server at ${target} closed the connection during the TLS handshake: it does not seem to have TLS on`,
      hint: 'Turn TLS on in mongod (net.tls.mode), or, on a trusted network only, set ssl_config.mode to SSL_MODE_DISABLE.',
    };
  }
  if (!args.tls && /closed|ECONNRESET/i.test(`${socketCode} ${text}`)) {
    return {
      reason: 'CONNECTION_CLOSED',
      kind: 'unavailable',
      code: socketCode,
      message: `the server at ${target} closed the connection during the MongoDB handshake`,
      hint: known.serverOffersTls
        ? 'The server speaks TLS and probably requires it (net.tls.mode requireTLS): set ssl_config.mode (SSL_MODE_VERIFY_FULL with the CA in ssl_config.ca).'
        : 'The server may require TLS (set ssl_config.mode), or the port is not a MongoDB server.',
    };
  }
  if (
    cause instanceof MongoNetworkTimeoutError ||
    socketCode === 'ETIMEDOUT' ||
    /timed out/i.test(text) ||
    (error instanceof MongoServerSelectionError && cause === error)
  ) {
    return {
      reason: 'CONNECT_TIMEOUT',
      kind: 'unavailable',
      code: 'TIMEOUT',
      ...(known.timeoutMs !== undefined && known.timeoutMs < args.connectTimeoutMs
        ? {
            message: `no MongoDB handshake with ${target} within ${known.checkLimitMs ?? known.timeoutMs} ms, the check's time limit`,
            hint: 'The server or a firewall in between is slow or drops packets; the check_timeout_ms of the request is shorter than the connect timeout: raise it if the server is merely slow.',
          }
        : {
            message: `no MongoDB handshake with ${target} within ${args.connectTimeoutMs} ms`,
            hint: 'The server or a firewall in between is slow or drops packets; raise connection_properties.connect_timeout_seconds if it is merely slow.',
          }),
    };
  }
  return { reason: 'CONNECT_FAILED', kind: 'unavailable', code: socketCode, message: `could not connect to ${target}: ${text}` };
}

/** The semantic error discovery raises when a client cannot be opened. */
export function toConnectError(error: unknown, args: ConnectionArgs, settings: MongoSettings): Error {
  return connectFailureToError(error, (e) => describeConnectFailure(e, args, settings));
}
