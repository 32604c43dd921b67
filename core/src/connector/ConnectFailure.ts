import { AbortedError, NotAllowedError, NotFoundError, SourcedError, UnavailableError } from '../errors';
import { TargetDeniedError } from './TargetPolicy';

/**
 * Why a connection could not be opened, in words for people. A connector's classifier turns
 * driver errors into one; the `authenticate` check reports it, and discovery raises it as a
 * semantic error with {@link connectFailureToError}. Never contains a secret.
 */
export interface ConnectFailure {
  /** Stable UPPER_SNAKE_CASE reason. */
  reason: string;
  /** What failed, in words for people. */
  message: string;
  /** How to fix it; undefined when there is no advice. */
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

/**
 * The failure for a connection the daemon's target policy refused (a driver reports the
 * policy's `TargetDeniedError` as its connect error); undefined for any other error.
 * Connectors' classifiers call it first.
 */
export function targetDeniedFailure(error: unknown): ConnectFailure | undefined {
  const denied = error instanceof TargetDeniedError ? error : (error as { cause?: unknown } | null)?.cause;
  if (!(denied instanceof TargetDeniedError)) return undefined;
  return {
    reason: 'TARGET_DENIED',
    kind: 'not-allowed',
    code: 'ETARGETDENIED',
    message: denied.message,
    hint: "Ask the daemon's operator to allow this target (targets.allow in its configuration), or use an address the policy allows.",
  };
}
