/**
 * The few semantic errors sourced raises. Each has a stable `reason` (an ErrorInfo reason
 * on the wire) and keeps its `cause`. Only the daemon's edge maps them to gRPC status codes.
 *
 * **Branded, so that any copy of the SDK is recognised.** A plugin that brings its own copy
 * of `@sourced/plugin-sdk` (or `@sourced/core`) throws instances of *its* classes, which a
 * plain `instanceof` against the daemon's classes would not recognise (its not-found would
 * become INTERNAL). So every error class of sourced carries a brand, a `Symbol.for` key
 * (`sourced.error.NotFoundError`, the same in every copy, since the symbol registry is
 * process-wide); each instance is marked with the brands of every branded class it descends
 * from; and `instanceof` on a branded class tests the brand (`Symbol.hasInstance`), so
 * `error instanceof NotFoundError` holds whatever copy threw it. A subclass a plugin writes
 * (unbranded) keeps ordinary `instanceof` for itself and is recognised as the sourced class
 * it extends.
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

/** The static key under which a branded error class keeps its brand symbol (the same key in every copy of core). */
const BRAND_KEY = Symbol.for('sourced.error.brand');

/** A class that may carry a brand under {@link BRAND_KEY}. */
type Brandable = abstract new (...args: never[]) => unknown;

/** The brand symbol of a sourced error class name: `Symbol.for('sourced.error.<name>')`. */
export function errorBrand(name: string): symbol {
  return Symbol.for(`sourced.error.${name}`);
}

/** The brand a class carries itself (not inherited), if any. */
function ownBrand(cls: unknown): symbol | undefined {
  if (typeof cls !== 'function' || !Object.prototype.hasOwnProperty.call(cls, BRAND_KEY)) return undefined;
  const brand = (cls as unknown as Record<symbol, unknown>)[BRAND_KEY];
  return typeof brand === 'symbol' ? brand : undefined;
}

/**
 * Brands an error class of sourced with `Symbol.for('sourced.error.<name>')`: instances made
 * from then on carry the brand, and `instanceof` the class tests it (see the file's comment).
 * Called once after each class of core; `name` is the class's exported name, never changed.
 */
export function brandErrorClass(cls: Brandable, name: string): void {
  Object.defineProperty(cls, BRAND_KEY, { value: errorBrand(name), enumerable: false });
}

/**
 * Whether a value carries the brand of a sourced error class (or, for a class without a
 * brand of its own, is an instance of it the ordinary way). What `instanceof` does on every
 * error class of sourced; callable with a brand name, for code that holds no class.
 */
export function hasErrorBrand(value: unknown, cls: Brandable | string): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const brand = typeof cls === 'string' ? errorBrand(cls) : ownBrand(cls);
  if (brand !== undefined && (value as Record<symbol, unknown>)[brand] === true) return true;
  return typeof cls === 'function' && Function.prototype[Symbol.hasInstance].call(cls, value);
}

/** Base of every error sourced raises on purpose. */
export class SourcedError extends Error {
  /**
   * `instanceof` tests the class's brand, so an error thrown by another copy of the SDK (a
   * plugin's own `node_modules`) is recognised; see {@link hasErrorBrand}.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasErrorBrand(value, this);
  }

  /** Stable, machine-readable reason, UPPER_SNAKE_CASE. */
  readonly reason: string;
  /** Extra facts for ErrorInfo metadata. Never a secret. */
  readonly metadata: Record<string, string>;

  constructor(reason: string, message: string, options?: { cause?: unknown; metadata?: Record<string, string> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.reason = reason;
    this.metadata = options?.metadata ?? {};
    // Mark the instance with the brand of every branded class it descends from.
    for (let cls: unknown = new.target; typeof cls === 'function' && cls !== Error; cls = Object.getPrototypeOf(cls)) {
      const brand = ownBrand(cls);
      if (brand !== undefined) Object.defineProperty(this, brand, { value: true, enumerable: false });
    }
  }
}
brandErrorClass(SourcedError, 'SourcedError');

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
brandErrorClass(InputError, 'InputError');

/**
 * One InputError for every fault of a request, reported together. Its reason is the faults'
 * reason when they all share one (a fault without a reason counts as `INVALID_REQUEST`); when
 * they differ it is `INVALID_REQUEST`, with each fault's reason, in the order found and without
 * repeats, in `metadata.reasons` (comma-separated: `INVALID_ENUM_VALUE,VALUE_OUT_OF_RANGE`),
 * and each violation's reason in `metadata.field_reasons`, one per violation in their order.
 * The documented rule of a request with several faults (docs/clients.md, "Every reason").
 */
export function inputErrorOf(violations: FieldViolation[]): InputError {
  const reasons = [...new Set(violations.map((v) => v.reason ?? 'INVALID_REQUEST'))];
  if (reasons.length === 1) return new InputError(violations, { reason: reasons[0] });
  // field_reasons: one per violation, in the order of BadRequest.field_violations (google.rpc's
  // FieldViolation of this version has no reason of its own), so a client can tell which field has which.
  return new InputError(violations, {
    reason: 'INVALID_REQUEST',
    metadata: { reasons: reasons.join(','), field_reasons: violations.map((v) => v.reason ?? 'INVALID_REQUEST').join(',') },
  });
}

/** The reason every violation names, when they all name the same one. */
function commonReason(violations: FieldViolation[]): string | undefined {
  const reasons = new Set(violations.map((v) => v.reason));
  return reasons.size === 1 ? [...reasons][0] : undefined;
}

/** Something named does not exist. Maps to NOT_FOUND. */
export class NotFoundError extends SourcedError {}
brandErrorClass(NotFoundError, 'NotFoundError');

/** The caller may not do this. Maps to PERMISSION_DENIED. */
export class NotAllowedError extends SourcedError {}
brandErrorClass(NotAllowedError, 'NotAllowedError');

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
brandErrorClass(ResourceExhaustedError, 'ResourceExhaustedError');

/** The caller did not prove who it is (no credentials, or bad ones). Maps to UNAUTHENTICATED. */
export class UnauthenticatedError extends SourcedError {}
brandErrorClass(UnauthenticatedError, 'UnauthenticatedError');

/** A source or provider cannot be reached now. Maps to UNAVAILABLE. */
export class UnavailableError extends SourcedError {}
brandErrorClass(UnavailableError, 'UnavailableError');

/** The call was cancelled or its deadline passed. Maps to CANCELLED or DEADLINE_EXCEEDED. */
export class AbortedError extends SourcedError {
  constructor(message = 'the call was cancelled', options?: { cause?: unknown; deadline?: boolean }) {
    super(options?.deadline ? 'DEADLINE_EXCEEDED' : 'CANCELLED', message, options);
  }
}
brandErrorClass(AbortedError, 'AbortedError');

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
