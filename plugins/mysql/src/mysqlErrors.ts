/** Classification of mysql2 and server errors. */

/** Socket error codes that mean the connection is gone. */
const SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** mysql2's own codes for a dead or closed connection. */
const DRIVER_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'PROTOCOL_PACKETS_OUT_OF_ORDER', 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR']);

/** mysql2's messages for a connection that was closed before the statement was queued. */
const CLOSED_MESSAGES = ["Can't add new command when connection is in closed state", "Can't write in closed state"];

/**
 * Server error numbers that mean the session is gone: ER_SERVER_SHUTDOWN (1053),
 * ER_CONNECTION_KILLED (1927, MariaDB), ER_CLIENT_INTERACTION_TIMEOUT (4031, MySQL),
 * and the client-library numbers CR_SERVER_GONE_ERROR (2006) / CR_SERVER_LOST (2013)
 * that proxies sometimes pass on.
 */
const CONNECTION_ERRNOS = new Set([1053, 1927, 4031, 2006, 2013]);

/** The server's error number of a mysql2 error (`errno` with a `sqlState`), or undefined. */
export function serverErrno(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { errno, sqlState, sqlMessage } = error as { errno?: unknown; sqlState?: unknown; sqlMessage?: unknown };
  return typeof errno === 'number' && (sqlState !== undefined || sqlMessage !== undefined) ? errno : undefined;
}

/** The code of an error (`ER_ACCESS_DENIED_ERROR`, `ECONNREFUSED`, `PROTOCOL_CONNECTION_LOST`), or undefined. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Whether an error means the connection is gone (so a failover may help): socket errors,
 * mysql2's lost-connection and closed-state errors, a fatal driver error without a server
 * error number, and the server's shutdown/killed errors. Follows `cause`, so a wrapped error
 * is recognised too. A killed statement (ER_QUERY_INTERRUPTED) is not: the session lives on.
 */
export function isConnectionError(error: unknown): boolean {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const errno = serverErrno(e);
    if (errno !== undefined) {
      if (CONNECTION_ERRNOS.has(errno)) return true;
      continue;
    }
    const code = errorCode(e);
    if (code !== undefined && (SOCKET_CODES.has(code) || DRIVER_CODES.has(code))) return true;
    const message = e instanceof Error ? e.message : '';
    if (CLOSED_MESSAGES.some((m) => message.startsWith(m))) return true;
    if ((e as { fatal?: unknown }).fatal === true) return true;
  }
  return false;
}
