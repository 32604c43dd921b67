import { AbortedError, NotAllowedError, NotFoundError, SourcedError, UnavailableError } from '../errors';

/**
 * Why a connection could not be opened, in words for people. A connector's classifier turns
 * driver errors into one; the `authenticate` check reports it, and discovery raises it as a
 * semantic error with {@link connectFailureToError}. Never contains a secret.
 */
export interface ConnectFailure {
  /** Stable UPPER_SNAKE_CASE reason. */
  reason: string;
  message: string;
  hint?: string;
  /** Which semantic error it becomes when discovery cannot connect. */
  kind: 'unavailable' | 'not-allowed' | 'not-found' | 'invalid';
  /** The server's error code, or a socket / TLS / driver code, when there is one. */
  code?: string;
}

/**
 * The semantic error for a connection failure: NotAllowedError (PERMISSION_DENIED),
 * NotFoundError, a plain SourcedError (FAILED_PRECONDITION) or UnavailableError; sourced's own
 * errors pass through unchanged. The hint travels in the message so callers see it.
 */
export function connectFailureToError(error: unknown, describe: (error: unknown) => ConnectFailure): Error {
  if (error instanceof AbortedError || error instanceof SourcedError) return error;
  const f = describe(error);
  const options = { cause: error, metadata: f.code ? { code: f.code } : undefined };
  const message = f.hint ? `${f.message}. ${f.hint}` : f.message;
  if (f.kind === 'not-allowed') return new NotAllowedError(f.reason, message, options);
  if (f.kind === 'not-found') return new NotFoundError(f.reason, message, options);
  if (f.kind === 'invalid') return new SourcedError(f.reason, message, options);
  return new UnavailableError(f.reason, message, options);
}
