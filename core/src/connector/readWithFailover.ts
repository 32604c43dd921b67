import { setMaxListeners } from 'node:events';
import { trace, type Span } from '@opentelemetry/api';
import type { EndpointRole } from '../datasource/DataSource';
import { abortedErrorFrom, describeError, UnavailableError, brandErrorClass } from '../errors';
import type { ConnectorSessions } from '../contract/capabilities';
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
      { metadata: { endpoint: role, bound_ms: String(boundMs), hint: STALLED_HINT } },
    );
  }
}
brandErrorClass(SourceStalledError, 'SourceStalledError');

/** What a caller can do about a {@link SourceStalledError} (ErrorInfo metadata `hint`). */
export const STALLED_HINT =
  'Check that the server and its host are running and that the network between them and the daemon passes traffic; retry once it answers (a discovery resumes after the resume_after in this error). A HYBRID data source fails over to its secondary endpoint instead.';

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
   * connection ({@link ConnectorSessions.probe}, at most {@link STALL_PROBE_TIMEOUT_MS}): a server that
   * does not open one is frozen or cut off, and the read fails {@link SourceStalledError} then,
   * long before `stallMs`; a server that does is busy, and the read goes on, probed again every
   * `probeAfterMs` while it waits (a busy server may freeze later). Absent, 0, or a connector
   * without `probe`: no probe.
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
export async function withinStallBound<T>(
  connector: ConnectorSessions,
  signal: AbortSignal,
  options: ReadOptions,
  read: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  if (!bounds(connector, options)) return read(signal);
  const own = following(signal);
  try {
    return await stallRace(connector, own.controller, options, read(own.controller.signal));
  } finally {
    own.release();
  }
}

/**
 * A stream read under the same bound, as a no-progress watchdog: `start` gets a signal of its
 * own that follows `signal`, and each item of the stream (each `next()`) must come within
 * `options.stallMs` (and pass the probe after `options.probeAfterMs`), the clock starting
 * again with every item; time the consumer spends between items does not count. A step that
 * does not come aborts the stream's signal (the connector cancels its statement) and rejects
 * with {@link SourceStalledError} at once. Profiles read their columns this way.
 */
export async function* withinStallBoundEach<T>(
  connector: ConnectorSessions,
  signal: AbortSignal,
  options: ReadOptions,
  start: (signal: AbortSignal) => AsyncIterable<T>,
): AsyncGenerator<T> {
  if (!bounds(connector, options)) {
    yield* start(signal);
    return;
  }
  const own = following(signal);
  const iterator = start(own.controller.signal)[Symbol.asyncIterator]();
  let finished = false;
  // `as boolean`: TypeScript does not see the catch below set it before the finally runs.
  let stuck = false as boolean;
  try {
    for (;;) {
      let step: IteratorResult<T>;
      try {
        step = await stallRace(connector, own.controller, options, iterator.next());
      } catch (error) {
        // A stalled step still runs (cancelled): its generator cannot be closed before it settles.
        stuck = error instanceof SourceStalledError;
        finished = !stuck;
        throw error;
      }
      if (step.done) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    own.release();
    if (stuck) void iterator.return?.(undefined).catch(() => undefined);
    else if (!finished) await iterator.return?.(undefined);
  }
}

/** Whether `options` bound a read of this connector at all. */
function bounds(connector: ConnectorSessions, options: ReadOptions): boolean {
  const { stallMs = 0, probeAfterMs = 0 } = options;
  return stallMs > 0 || (probeAfterMs > 0 && connector.probe !== undefined);
}

/**
 * An AbortController for a read's signal. A read fans out into as many statements as it gives
 * its connections at once (a MariaDB start: a SHOW FULL TABLES per database, up to 64), each
 * listening to the signal until it ends; that is not a leak, so Node's warning past ten
 * listeners (a MaxListenersExceededWarning on the daemon's stderr) is turned off for it.
 */
export function readSignalController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** An AbortController that follows `signal` until released. */
function following(signal: AbortSignal): { controller: AbortController; release(): void } {
  const controller = readSignalController();
  const follow = () => controller.abort(signal.reason);
  if (signal.aborted) follow();
  else signal.addEventListener('abort', follow, { once: true });
  return { controller, release: () => signal.removeEventListener('abort', follow) };
}

/**
 * Waits for `running` (a read, or one step of a stream read, started with `own.signal`); past
 * `options.stallMs`, or when a probe after `options.probeAfterMs` finds the endpoint not
 * answering, aborts `own` with a {@link SourceStalledError} and rejects with it.
 */
async function stallRace<T>(connector: ConnectorSessions, own: AbortController, options: ReadOptions, running: Promise<T>): Promise<T> {
  const { stallMs = 0, probeAfterMs = 0 } = options;
  const probing = probeAfterMs > 0 && connector.probe !== undefined;
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
      const began = performance.now();
      const probeLater = () =>
        timers.push(
          setTimeout(() => {
            if (settled) return;
            const limit = AbortSignal.timeout(STALL_PROBE_TIMEOUT_MS);
            const probe = AbortSignal.any([own.signal, probes.signal, limit]);
            // The whole probe counts, its close too: a connection opened just before the server
            // froze may wait in its close far longer than the open's limit.
            const late = new Promise<never>((_resolve, reject) => limit.addEventListener('abort', () => reject(limit.reason as Error), { once: true }));
            late.catch(() => undefined);
            Promise.race([connector.probe?.(role, probe), late]).then(
              // Alive: a slow statement, not a stall. Probe again while it waits: the server may freeze later.
              () => {
                if (!settled) probeLater();
              },
              () => stall(Math.round(performance.now() - began)),
            );
          }, probeAfterMs),
        );
      probeLater();
    }
  });
  running.catch(() => undefined); // after a stall it settles (cancelled) in the background
  try {
    return await Promise.race([running, stalled]);
  } finally {
    settled = true;
    probes.abort();
    for (const t of timers) clearTimeout(t);
  }
}

/** Whether a read failed in a way a failover may help: the connection is gone, or it stalled. */
function lostConnection(connector: ConnectorSessions, error: unknown): boolean {
  return error instanceof SourceStalledError || connector.isConnectionError(error);
}

/**
 * Runs one read; when it fails because the connection is gone (or the read stalled past
 * `options.stallMs`) and the connector has a standby (HYBRID), switches to it and runs the
 * read again (reconnecting a standby whose own connection died while it waited). Any other
 * error, or a second endpoint that fails too, is thrown (`ALL_ENDPOINTS_UNAVAILABLE`). The
 * engines of discovery and preview share it. `first`: the read's first attempt when it was
 * started already ({@link withinStallBound} with the same options; discovery starts its first
 * reads at once and fails over only once they have all ended); its failure is handled as the
 * read's own.
 */
export async function readWithFailover<T>(
  connector: ConnectorSessions,
  signal: AbortSignal,
  read: (signal: AbortSignal) => Promise<T>,
  options: ReadOptions = {},
  first?: Promise<T>,
): Promise<{ value: T; failover?: FailoverOutcome }> {
  const bounded = () => withinStallBound(connector, signal, options, read);
  try {
    return { value: await (first ?? bounded()) };
  } catch (error) {
    const from = connector.activeRole;
    const failover = await failoverAfter(connector, error, signal);
    const { reason } = failover;
    // The read that failed and the switch, on the span the read runs under (a discovery batch,
    // a preview): the retry's success must not hide them.
    recordFailover(trace.getActiveSpan(), error, from, failover, options.resumeAfter);
    try {
      return { value: await bounded(), failover };
    } catch (stale) {
      if (signal.aborted) throw abortedErrorFrom(signal);
      if (!connector.isConnectionError(stale) || !connector.reconnect) throw closingIfStalled(connector, stale);
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
 * Marks a failover on `span`: the failed read as an exception, and a `sourced.failover`
 * event with the endpoints, the reason and (discovery) the cursor the run resumes after.
 */
export function recordFailover(span: Span | undefined, error: unknown, from: EndpointRole, failover: FailoverOutcome, resumeAfter?: string): void {
  span?.recordException(error instanceof Error ? error : new Error(failover.reason));
  span?.addEvent('sourced.failover', {
    'sourced.failover.from': from,
    'sourced.endpoint.role': failover.active,
    'sourced.failover.reason': failover.reason,
    ...(resumeAfter !== undefined ? { 'sourced.failover.resume_after': resumeAfter } : {}),
  });
}

/**
 * `error`, after starting to close the connector when it is a stall the call cannot get past
 * (nothing to fail over to): a frozen server answers neither the cancellation nor the close,
 * so its connections close in the background, within the connector's own timeouts, and the
 * caller's later `close()` (a no-op then) does not hold the error back.
 */
function closingIfStalled(connector: ConnectorSessions, error: unknown): unknown {
  if (error instanceof SourceStalledError) void connector.close().catch(() => undefined);
  return error;
}

/**
 * After a read failed with `error`: throws it again unless it means the connection is gone and
 * the connector has a standby (HYBRID); then switches to the standby and says so. Throws
 * `ALL_ENDPOINTS_UNAVAILABLE` when the standby cannot be opened either.
 */
export async function failoverAfter(connector: ConnectorSessions, error: unknown, signal: AbortSignal): Promise<FailoverOutcome> {
  if (signal.aborted) throw abortedErrorFrom(signal);
  if (!lostConnection(connector, error) || !connector.canFailover()) throw closingIfStalled(connector, error);
  const reason = describeError(error);
  let active: EndpointRole;
  try {
    active = await connector.failover(reason, signal);
  } catch (second) {
    // A standby that answers as another source is refused as such, not as an outage.
    if (second instanceof SourceIdentityError) throw second;
    throw new UnavailableError('ALL_ENDPOINTS_UNAVAILABLE', `the active endpoint failed (${reason}) and the failover endpoint too (${describeError(second)})`, {
      cause: second,
    });
  }
  return { active, reason };
}
