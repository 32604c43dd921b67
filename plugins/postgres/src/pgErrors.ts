import { SourcedError, scrubSecrets, scrubbedErrorText, type Secret } from '@sourced/core';

/** Socket error codes that mean the connection is gone. */
const SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** pg's own messages for a dead or closed connection. */
const CONNECTION_MESSAGES = [
  'Connection terminated', // also "Connection terminated unexpectedly"
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'timeout expired', // connectionTimeoutMillis
];

/**
 * SQLSTATEs that mean the session is gone: admin_shutdown, crash_shutdown, cannot_connect_now.
 * Class 08 (connection_exception) is matched as a class.
 */
const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03']);

/** The SQLSTATE of a server error, or undefined for anything else (socket errors have codes like `ECONNRESET`). */
export function sqlState(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && severity !== undefined ? code : undefined;
}

/**
 * Whether an error means the connection is gone (so a failover may help): socket errors,
 * pg's closed-connection errors, SQLSTATE class 08 and 57P01/57P02/57P03. Follows `cause`,
 * so a wrapped error is recognised too.
 */
export function isConnectionError(error: unknown): boolean {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const state = sqlState(e);
    if (state !== undefined) {
      if (state.startsWith('08') || CONNECTION_SQLSTATES.has(state)) return true;
      continue;
    }
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && SOCKET_CODES.has(code)) return true;
    const message = e instanceof Error ? e.message : '';
    if (CONNECTION_MESSAGES.some((m) => message.startsWith(m))) return true;
  }
  return false;
}

/**
 * Text of an error with every secret replaced by `[REDACTED]`. PostgreSQL's messages do not
 * contain passwords, but driver text is never trusted to stay that way.
 */
export function scrubbed(error: unknown, secrets: readonly (Secret | undefined)[]): string {
  return scrubbedErrorText(error, secrets);
}

/** Replaces every occurrence of each secret's value in `text`. */
export function scrub(text: string, secrets: readonly (Secret | undefined)[]): string {
  return scrubSecrets(text, secrets);
}

/**
 * The error of a read from a materialized view that was created `WITH NO DATA` (or refreshed
 * so) and has no rows to read until it is refreshed: FAILED_PRECONDITION (a plain
 * SourcedError) with reason MATERIALIZED_VIEW_NOT_POPULATED and the fix as `hint`, for the
 * preview and the profile alike.
 */
export function notPopulatedError(table: { schema: string; name: string }, cause?: unknown): SourcedError {
  const view = `${quoteName(table.schema)}.${quoteName(table.name)}`;
  const hint = `Run REFRESH MATERIALIZED VIEW ${view} (as its owner) so it holds rows, then try again.`;
  return new SourcedError(
    'MATERIALIZED_VIEW_NOT_POPULATED',
    `materialized view ${view} has not been populated: it has no rows to read until it is refreshed. ${hint}`,
    {
      cause,
      metadata: { schema: table.schema, name: table.name, hint },
    },
  );
}

/**
 * Whether a server error is PostgreSQL's refusal to read a materialized view that was never
 * populated: SQLSTATE 55000 (object_not_in_prerequisite_state) with its REFRESH hint. The
 * profile checks pg_class.relispopulated before reading; the preview recognises the error.
 */
export function isNotPopulated(error: unknown): boolean {
  if (sqlState(error) !== '55000') return false;
  // pg's DatabaseError carries these as strings when the server sent them.
  const { message, hint } = error as { message?: unknown; hint?: unknown };
  return (typeof hint === 'string' && /REFRESH MATERIALIZED VIEW/i.test(hint)) || (typeof message === 'string' && /has not been populated/.test(message));
}

/** An identifier as SQL writes it: bare when it is lower-case letters, digits and `_`, else double-quoted. */
function quoteName(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
