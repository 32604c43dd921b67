import { ResourceExhaustedError } from '@sourced/core';
import type { DaemonConfig } from '../config/DaemonConfig';

/** How long a refused caller is told to wait before it tries again. */
export const RETRY_AFTER_MS = 1_000;

/**
 * Calls in flight, overall and per principal. `enter` admits a call or refuses it with
 * RESOURCE_EXHAUSTED (and a RetryInfo of {@link RETRY_AFTER_MS}); the release it returns is
 * called when the call ends, however it ends.
 */
export class CallLimiter {
  private total = 0;
  private readonly perPrincipal = new Map<string, number>();

  constructor(private readonly limits: DaemonConfig['limits']) {}

  enter(principal: string): () => void {
    const { maxConcurrentCalls, maxConcurrentCallsPerPrincipal } = this.limits;
    if (this.total >= maxConcurrentCalls) {
      throw new ResourceExhaustedError('TOO_MANY_CALLS', `the daemon is serving its maximum of ${maxConcurrentCalls} calls at once; try again shortly`, RETRY_AFTER_MS, {
        metadata: { limit: 'limits.maxConcurrentCalls', value: String(maxConcurrentCalls) },
      });
    }
    const mine = this.perPrincipal.get(principal) ?? 0;
    if (mine >= maxConcurrentCallsPerPrincipal) {
      throw new ResourceExhaustedError(
        'TOO_MANY_CALLS_FOR_PRINCIPAL',
        `"${principal}" has its maximum of ${maxConcurrentCallsPerPrincipal} calls in flight; try again when one has finished`,
        RETRY_AFTER_MS,
        { metadata: { limit: 'limits.maxConcurrentCallsPerPrincipal', value: String(maxConcurrentCallsPerPrincipal), principal } },
      );
    }
    this.total += 1;
    this.perPrincipal.set(principal, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.perPrincipal.get(principal) ?? 1) - 1;
      if (left <= 0) this.perPrincipal.delete(principal);
      else this.perPrincipal.set(principal, left);
    };
  }

  /** Calls in flight now. */
  get inFlight(): number {
    return this.total;
  }
}

/**
 * The time a call may run: its own deadline, a default when it has none, never more than
 * the maximum (0 in the configuration means no default / no maximum).
 */
export function effectiveDeadlineMs(requestedMs: number, limits: DaemonConfig['limits']): number {
  let ms = Number.isFinite(requestedMs) ? requestedMs : limits.defaultDeadlineMs > 0 ? limits.defaultDeadlineMs : Infinity;
  if (limits.maxDeadlineMs > 0) ms = Math.min(ms, limits.maxDeadlineMs);
  return ms;
}
