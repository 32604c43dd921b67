import { inspect } from 'node:util';

const REDACTED = '[REDACTED]';
const values = new WeakMap<Secret, string>();

/**
 * A resolved secret value. It prints `[REDACTED]` wherever it ends up: string
 * conversion, JSON, `util.inspect`, template literals and console output. Call
 * {@link Secret.reveal} only at the point where a driver needs the value.
 */
export class Secret {
  /** Where the value came from, for example `env://SOURCED_SECRET_PG`. Never the value. */
  readonly origin: string;

  constructor(value: string, origin: string) {
    values.set(this, value);
    this.origin = origin;
    Object.freeze(this);
  }

  /** The value itself. Hand it to a driver; never log or return it. */
  reveal(): string {
    return values.get(this) as string;
  }

  /** Whether the value is the empty string. */
  get isEmpty(): boolean {
    return this.reveal().length === 0;
  }

  /** Prints `[REDACTED]`, never the value. */
  toString(): string {
    return REDACTED;
  }

  /** Serializes as `[REDACTED]`, never the value. */
  toJSON(): string {
    return REDACTED;
  }

  /** Shows as `[REDACTED]` in `util.inspect` and console output. */
  [inspect.custom](): string {
    return REDACTED;
  }

  /** Converts to `[REDACTED]` in template literals and string concatenation. */
  [Symbol.toPrimitive](): string {
    return REDACTED;
  }
}

/** Whether a value is a Secret. */
export function isSecret(value: unknown): value is Secret {
  return value instanceof Secret;
}

/** The text every secret prints as. */
export const REDACTED_TEXT = REDACTED;
