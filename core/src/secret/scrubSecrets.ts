import { describeError } from '../errors';
import type { Secret } from './Secret';

/**
 * Replaces every occurrence of each secret's value in `text` with `[REDACTED]`. Connectors
 * run driver and server text through this before it reaches a message, a log or a span:
 * database messages rarely contain passwords, but driver text is never trusted to stay that way.
 */
export function scrubSecrets(text: string, secrets: readonly (Secret | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    const value = secret?.reveal();
    if (value) out = out.split(value).join('[REDACTED]');
  }
  return out;
}

/** The text of an error (see `describeError`) with every secret replaced by `[REDACTED]`. */
export function scrubbedErrorText(error: unknown, secrets: readonly (Secret | undefined)[]): string {
  return scrubSecrets(describeError(error), secrets);
}
