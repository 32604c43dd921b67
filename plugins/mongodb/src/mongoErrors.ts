import {
  MongoClientClosedError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerClosedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';

/** Server error codes the plugin reacts to (src/mongo/base/error_codes.yml). */
export const ErrorCode = {
  Unauthorized: 13,
  AuthenticationFailed: 18,
  NamespaceNotFound: 26,
  MaxTimeMSExpired: 50,
  CommandNotFound: 59,
  CommandNotSupportedOnView: 166,
} as const;

/** Server codes that mean the server (or our session on it) is going away. */
const CONNECTION_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/** Socket error codes that mean the connection is gone. */
const SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * The code of a server error (`{ ok: 0, code }`), or undefined for anything else. A reply
 * read with `promoteValues: false` (sampling) carries its code as an Int32, hence Number().
 */
export function serverCode(error: unknown): number | undefined {
  if (!(error instanceof MongoServerError) || error.code === undefined) return undefined;
  const code = Number(error.code);
  return Number.isInteger(code) ? code : undefined;
}

/**
 * Whether an error means the connection to the server is gone (so a failover may help):
 * network errors and timeouts, no selectable server, a closed client or pool, and server
 * codes of shutdowns and step-downs. Follows `cause`, so a wrapped error is recognised too.
 */
export function isConnectionError(error: unknown): boolean {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (
      e instanceof MongoNetworkError ||
      e instanceof MongoServerSelectionError ||
      e instanceof MongoTopologyClosedError ||
      e instanceof MongoNotConnectedError ||
      e instanceof MongoServerClosedError ||
      e instanceof MongoClientClosedError
    ) {
      return true;
    }
    const code = serverCode(e);
    if (code !== undefined && CONNECTION_CODES.has(code)) return true;
    const socketCode = (e as { code?: unknown }).code;
    if (typeof socketCode === 'string' && SOCKET_CODES.has(socketCode)) return true;
  }
  return false;
}

/**
 * The error behind a server selection failure: the error the monitor recorded for the
 * (first) server it could not reach, which says why (refused, TLS, timeout); else the error itself.
 */
export function underlyingError(error: unknown): unknown {
  if (error instanceof MongoServerSelectionError) {
    for (const server of error.reason?.servers.values() ?? []) {
      if (server.error) return server.error;
    }
    if (error.cause) return error.cause;
  }
  return error;
}

/** The first error in a cause chain that carries a socket or TLS error code (a string `code`). */
export function errorWithCode(error: unknown): (Error & { code: string }) | undefined {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (typeof (e as { code?: unknown }).code === 'string') return e as Error & { code: string };
  }
  return undefined;
}

/** A socket or TLS error code anywhere in an error's cause chain. */
export function errorCode(error: unknown): string | undefined {
  return errorWithCode(error)?.code;
}
