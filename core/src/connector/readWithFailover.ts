import { trace } from '@opentelemetry/api';
import type { EndpointRole } from '../datasource/DataSource';
import { abortedErrorFrom, describeError, UnavailableError } from '../errors';
import type { Connector } from './Connector';
import { SourceIdentityError } from './SourceIdentity';

/** A HYBRID switch that happened while reading. */
export interface FailoverOutcome {
  /** The endpoint read from now. */
  active: EndpointRole;
  /** Why the other one was left. */
  reason: string;
}

/**
 * A read that got no answer within the daemon's bound: the source is frozen, or a link drops
 * packets without closing (a server-side statement timeout never fires then). UNAVAILABLE; a
 * HYBRID read fails over on it as on a lost connection.
 */
export class SourceStalledError extends UnavailableError {
  constructor(role: EndpointRole, boundMs: number) {
    super(
      'SOURCE_STALLED',
      `the ${role.toLowerCase()} endpoint sent no answer to a read for ${boundMs} ms; the read was cancelled (a frozen server or a link that drops packets: a server-side statement timeout cannot fire then)`,
      { metadata: { endpoint: role, bound_ms: String(boundMs) } },
    );
  }
}

/** Options of {@link readWithFailover}. */
export interface ReadOptions {
  /**
   * The longest one read may go without an answer, ms: past it the read's signal is aborted
   * (the connector cancels the statement) and the read fails with {@link SourceStalledError}
   * at once, without waiting for the cancellation. Absent or 0: no bound.
   */
  stallMs?: number;
  /**
   * When a read has gone this long without an answer, ms, the endpoint is probed with a new
   * connection ({@link Connector.probe}, at most {@link STALL_PROBE_TIMEOUT_MS}): a server that
   * does not open one is frozen or cut off, and the read fails {@link SourceStalledError} then,
   * long before `stallMs`; a server that does is busy, and the read goes on. Absent, 0, or a
   * connector without `probe`: no probe.
   */
  probeAfterMs?: number;
  /** The cursor a failover resumes after, for the span event that marks it (discovery). */
  resumeAfter?: string;
}

/** The longest a stall probe may take to open and close a connection, ms. */
export const STALL_PROBE_TIMEOUT_MS = 3_000;

/**
 * Runs `read` with a signal of its own that follows `signal`; it fires (and the read rejects
 * with {@link SourceStalledError} straight away, the connector's cancellation finishing in the
 * background) after `options.stallMs`, or earlier when a probe after `options.probeAfterMs`
 * finds the endpoint not answering.
 */
export async function withinStallBound<T>(connector: Connector, signal: AbortSignal, options: ReadOptions, read: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { stallMs = 0, probeAfterMs = 0 } = options;
  const probing = probeAfterMs > 0 && connector.probe !== undefined;
  if (stallMs <= 0 && !probing) return read(signal);
  const own = new AbortController();
  const follow = () => own.abort(signal.reason);
  if (signal.aborted) follow();
  else signal.addEventListener('abort', follow, { once: true });
  const role = connector.activeRole;
  const timers: NodeJS.Timeout[] = [];
  // Ends a probe still opening its connection once the read has settled.
  const probes = new AbortController();
  let settled = false;
  const stalled = new Promise<never>((_resolve, reject) => {
    const stall = (boundMs: number) => {
      if (settled) return;
      const error = new SourceStalledError(role, boundMs);
      own.abort(error);
      reject(error);
    };
    if (stallMs > 0) timers.push(setTimeout(() => stall(stallMs), stallMs));
    if (probing) {
      timers.push(
        setTimeout(() => {
          const probe = AbortSignal.any([own.signal, probes.signal, AbortSignal.timeout(STALL_PROBE_TIMEOUT_MS)]);
          connector.probe?.(role, probe).then(
            () => undefined, // alive: a slow statement, not a stall
            () => stall(probeAfterMs + STALL_PROBE_TIMEOUT_MS),
          );
        }, probeAfterMs),
      );
    }
  });
  const running = read(own.signal);
  running.catch(() => undefined); // after a stall it settles (cancelled) in the background
  try {
    return await Promise.race([running, stalled]);
  } finally {
    settled = true;
    probes.abort();
    for (const t of timers) clearTimeout(t);
    signal.removeEventListener('abort', follow);
  }
}

/** Whether a read failed in a way a failover may help: the connection is gone, or it stalled. */
function lostConnection(connector: Connector, error: unknown): boolean {
  return error instanceof SourceStalledError || connector.isConnectionError(error);
}

/**
 * Runs one read; when it fails because the connection is gone (or the read stalled past
 * `options.stallMs`) and the connector has a standby (HYBRID), switches to it and runs the
 * read again (reconnecting a standby whose own connection died while it waited). Any other
 * error, or a second endpoint that fails too, is thrown (`ALL_ENDPOINTS_UNAVAILABLE`). The
 * engines of discovery and preview share it.
 */
export async function readWithFailover<T>(
  connector: Connector,
  signal: AbortSignal,
  read: (signal: AbortSignal) => Promise<T>,
  options: ReadOptions = {},
): Promise<{ value: T; failover?: FailoverOutcome }> {
  const bounded = () => withinStallBound(connector, signal, options, read);
  try {
    return { value: await bounded() };
  } catch (error) {
    const from = connector.activeRole;
    const failover = await failoverAfter(connector, error, signal);
    const { reason } = failover;
    // The read that failed and the switch, on the span the read runs under (a discovery batch,
    // a preview, a profile): the retry's success must not hide them.
    const span = trace.getActiveSpan();
    span?.recordException(error instanceof Error ? error : new Error(reason));
    span?.addEvent('sourced.failover', {
      'sourced.failover.from': from,
      'sourced.endpoint.role': failover.active,
      'sourced.failover.reason': reason,
      ...(options.resumeAfter !== undefined ? { 'sourced.failover.resume_after': options.resumeAfter } : {}),
    });
    try {
      return { value: await bounded(), failover };
    } catch (stale) {
      if (signal.aborted) throw abortedErrorFrom(signal);
      if (!connector.isConnectionError(stale) || !connector.reconnect) throw stale;
      try {
        await connector.reconnect(signal);
      } catch (third) {
        if (third instanceof SourceIdentityError) throw third;
        throw new UnavailableError(
          'ALL_ENDPOINTS_UNAVAILABLE',
          `the active endpoint failed (${reason}) and the failover endpoint too (${describeError(stale)}; reconnecting: ${describeError(third)})`,
          { cause: third },
        );
      }
      return { value: await bounded(), failover };
    }
  }
}

/**
 * After a read failed with `error`: throws it again unless it means the connection is gone and
 * the connector has a standby (HYBRID); then switches to the standby and says so. Throws
 * `ALL_ENDPOINTS_UNAVAILABLE` when the standby cannot be opened either.
 */
export async function failoverAfter(connector: Connector, error: unknown, signal: AbortSignal): Promise<FailoverOutcome> {
  if (signal.aborted) throw abortedErrorFrom(signal);
  if (!lostConnection(connector, error) || !connector.canFailover()) throw error;
  const reason = describeError(error);
  let active: EndpointRole;
  try {
    active = await connector.failover(reason, signal);
  } catch (second) {
    // A standby that answers as another source is refused as such, not as an outage.
    if (second instanceof SourceIdentityError) throw second;
    throw new UnavailableError('ALL_ENDPOINTS_UNAVAILABLE', `the active endpoint failed (${reason}) and the failover endpoint too (${describeError(second)})`, { cause: second });
  }
  return { active, reason };
}
