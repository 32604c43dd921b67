/**
 * The few semantic errors sourced raises. Each has a stable `reason` (an ErrorInfo reason
 * on the wire) and keeps its `cause`. Only the daemon's edge maps them to gRPC status codes.
 */

/** A field that failed validation, named by its path in the request (`data_source.primary.host`). */
export interface FieldViolation {
  /** The path of the field in the request, for example `data_source.primary.host`. */
  field: string;
  /** What is wrong with it, for people: `is required`. */
  description: string;
  /**
   * The reason of this fault (an ErrorReason), when it is more specific than its error's:
   * `INVALID_ENUM_VALUE` for a number outside an enum. Not sent on the wire (google.rpc's
   * FieldViolation of the bundled googleapis has no reason); the error's ErrorInfo.reason
   * is built from these.
   */
  reason?: string;
}

/** Base of every error sourced raises on purpose. */
export class SourcedError extends Error {
  /** Stable, machine-readable reason, UPPER_SNAKE_CASE. */
  readonly reason: string;
  /** Extra facts for ErrorInfo metadata. Never a secret. */
  readonly metadata: Record<string, string>;

  constructor(reason: string, message: string, options?: { cause?: unknown; metadata?: Record<string, string> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.reason = reason;
    this.metadata = options?.metadata ?? {};
  }
}

/** The caller sent something invalid. Maps to INVALID_ARGUMENT with a BadRequest detail. */
export class InputError extends SourcedError {
  /** Every field that failed validation (the message lists them too). */
  readonly violations: FieldViolation[];
  constructor(violations: FieldViolation[], options?: { reason?: string; metadata?: Record<string, string> }) {
    const summary = violations.map((v) => `${v.field}: ${v.description}`).join('; ');
    super(options?.reason ?? commonReason(violations) ?? 'INVALID_DATA_SOURCE', `invalid request: ${summary}`, options);
    this.violations = violations;
  }
}

/** The reason every violation names, when they all name the same one. */
function commonReason(violations: FieldViolation[]): string | undefined {
  const reasons = new Set(violations.map((v) => v.reason));
  return reasons.size === 1 ? [...reasons][0] : undefined;
}

/** Something named does not exist. Maps to NOT_FOUND. */
export class NotFoundError extends SourcedError {}

/** The caller may not do this. Maps to PERMISSION_DENIED. */
export class NotAllowedError extends SourcedError {}

/** A limit is reached; the caller may try again after `retryAfterMs`. Maps to RESOURCE_EXHAUSTED with google.rpc.RetryInfo. */
export class ResourceExhaustedError extends SourcedError {
  constructor(
    reason: string,
    message: string,
    readonly retryAfterMs: number,
    options?: { metadata?: Record<string, string> },
  ) {
    super(reason, message, options);
  }
}

/** The caller did not prove who it is (no credentials, or bad ones). Maps to UNAUTHENTICATED. */
export class UnauthenticatedError extends SourcedError {}

/** A source or provider cannot be reached now. Maps to UNAVAILABLE. */
export class UnavailableError extends SourcedError {}

/** The call was cancelled or its deadline passed. Maps to CANCELLED or DEADLINE_EXCEEDED. */
export class AbortedError extends SourcedError {
  constructor(message = 'the call was cancelled', options?: { cause?: unknown; deadline?: boolean }) {
    super(options?.deadline ? 'DEADLINE_EXCEEDED' : 'CANCELLED', message, options);
  }
}

/** Throws an AbortedError when the signal has fired; use between steps of long work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedErrorFrom(signal);
}

/** The AbortedError that matches why a signal fired. */
export function abortedErrorFrom(signal: AbortSignal): AbortedError {
  const reason: unknown = signal.reason;
  if (reason instanceof AbortedError) return reason;
  const deadline = reason instanceof Error && (reason.name === 'TimeoutError' || /deadline/i.test(reason.message));
  return new AbortedError(deadline ? 'the deadline passed' : 'the call was cancelled', { cause: reason, deadline });
}

/** Short text of an unknown thrown value, for messages. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
