/** Classification of mysql2 and server errors. */
import { AbortedError, describeError, NotAllowedError, SourcedError, UnavailableError } from '@sourced/core';

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

/** ER_STATEMENT_TIMEOUT (1969, MariaDB max_statement_time) and ER_QUERY_TIMEOUT (3024, MySQL max_execution_time). */
export const TIMEOUT_ERRNOS = new Set([1969, 3024]);
/** ER_TABLEACCESS_DENIED_ERROR (1142), ER_COLUMNACCESS_DENIED_ERROR (1143), ER_DBACCESS_DENIED_ERROR (1044). */
export const DENIED_ERRNOS = new Set([1142, 1143, 1044]);

/** The reasons and wording of one kind of read, for {@link guardedRead}. */
export interface ReadReasons {
  /** Reason of a statement time limit hit, for example `PREVIEW_TIMEOUT`. */
  timeout: string;
  /** Reason of a refused privilege (NotAllowedError); absent: such a refusal is a plain failure. */
  denied?: string;
  /** Reason of any other failure, for example `PREVIEW_READ_FAILED`. */
  failed: string;
  /** Where the read goes, in messages: ` from information_schema`; empty by default. */
  from?: string;
}

/**
 * Runs one read and turns its failure into a semantic error: `UnavailableError`
 * (CONNECTION_LOST, the cause kept) when the connection is gone, so the engines may fail over;
 * the time limit, a refused privilege and anything else with the given reasons and the
 * server's error number. Cancellation passes through unchanged. Catalog, preview and profile
 * reads share it.
 */
export async function guardedRead<T>(what: string, reasons: ReadReasons, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof AbortedError) throw error;
    const errno = serverErrno(error);
    const metadata: Record<string, string> = { step: what };
    if (errno !== undefined) metadata.errno = String(errno);
    const from = reasons.from ?? '';
    if (isConnectionError(error)) {
      throw new UnavailableError('CONNECTION_LOST', `the connection to MySQL was lost while reading ${what}: ${describeError(error)}`, {
        cause: error,
        metadata,
      });
    }
    if (errno !== undefined && TIMEOUT_ERRNOS.has(errno)) {
      throw new SourcedError(
        reasons.timeout,
        `reading ${what}${from} took longer than the statement time limit${from ? '' : ' of the strategy'}: ${describeError(error)}`,
        { cause: error, metadata },
      );
    }
    if (reasons.denied && errno !== undefined && DENIED_ERRNOS.has(errno)) {
      throw new NotAllowedError(reasons.denied, `the account may not read ${what}: ${describeError(error)}`, { cause: error, metadata });
    }
    throw new SourcedError(reasons.failed, `reading ${what}${from} failed: ${describeError(error)}${errno !== undefined ? ` (error ${errno})` : ''}`, {
      cause: error,
      metadata,
    });
  }
}
