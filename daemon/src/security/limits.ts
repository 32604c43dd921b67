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

  /** `key` is what calls are counted by; `principal` names the caller in a refusal (default: the key). */
  enter(key: string, principal = key): () => void {
    const { maxConcurrentCalls, maxConcurrentCallsPerPrincipal } = this.limits;
    if (this.total >= maxConcurrentCalls) {
      throw new ResourceExhaustedError(
        'TOO_MANY_CALLS',
        `the daemon is serving its maximum of ${maxConcurrentCalls} calls at once; try again shortly`,
        RETRY_AFTER_MS,
        {
          metadata: { limit: 'limits.maxConcurrentCalls', value: String(maxConcurrentCalls) },
        },
      );
    }
    const mine = this.perPrincipal.get(key) ?? 0;
    if (mine >= maxConcurrentCallsPerPrincipal) {
      throw new ResourceExhaustedError(
        'TOO_MANY_CALLS_FOR_PRINCIPAL',
        `"${principal}" has its maximum of ${maxConcurrentCallsPerPrincipal} calls in flight; try again when one has finished`,
        RETRY_AFTER_MS,
        { metadata: { limit: 'limits.maxConcurrentCallsPerPrincipal', value: String(maxConcurrentCallsPerPrincipal), principal } },
      );
    }
    this.total += 1;
    this.perPrincipal.set(key, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.perPrincipal.get(key) ?? 1) - 1;
      if (left <= 0) this.perPrincipal.delete(key);
      else this.perPrincipal.set(key, left);
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

/** What a connector waits for a connection when the request names no `connect_timeout_ms` (LocationAwareConnector's default). */
const CONNECTOR_CONNECT_TIMEOUT_MS = 10_000;

/**
 * The data source with its connect timeout within the daemon's maximum: `connect_timeout_ms` or
 * `connect_timeout_seconds` (a caller's choice, up to an hour in the attack) becomes
 * `connect_timeout_ms` of at most `maxMs`, so a call to a source that never answers holds its
 * call slot and its connection slot that long at most. A value that is not a positive number is
 * dropped (the connector's default then applies, itself capped). `maxMs` 0 leaves it alone.
 */
export function capConnectTimeout<T extends { connectionProperties: Record<string, unknown> }>(source: T, maxMs: number): T {
  if (!(maxMs > 0)) return source;
  const { connect_timeout_ms: ms, connect_timeout_seconds: seconds, ...rest } = source.connectionProperties;
  const requested = ms !== undefined ? Number(ms) : seconds !== undefined ? Number(seconds) * 1000 : NaN;
  const wanted = Number.isFinite(requested) && requested > 0 ? requested : CONNECTOR_CONNECT_TIMEOUT_MS;
  return { ...source, connectionProperties: { ...rest, connect_timeout_ms: String(Math.min(wanted, maxMs)) } };
}

/** A caller's time limit under the daemon's maximum (0: no maximum); `requested` 0 means the default. */
export function cappedTimeout(requested: number, defaultMs: number, maxMs: number): number {
  const ms = requested > 0 ? requested : defaultMs;
  return maxMs > 0 ? Math.min(ms, maxMs) : ms;
}

/**
 * The address of a call's peer without its port (`127.0.0.1:5000` → `127.0.0.1`,
 * `::ffff:10.0.0.1:5000` → `10.0.0.1`, `::1:5000` → `::1`): what anonymous callers are told apart by.
 */
export function peerAddress(peer: string | undefined): string {
  if (!peer || peer === 'unknown') return 'unknown';
  let address = peer.replace(/^\[|\](?=:\d+$)/g, '');
  const colon = address.lastIndexOf(':');
  if (colon > 0 && /^\d+$/.test(address.slice(colon + 1))) address = address.slice(0, colon);
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
