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
 * Runs one read; when it fails because the connection is gone and the connector has a
 * standby (HYBRID), switches to it and runs the read again (reconnecting a standby whose own
 * connection died while it waited). Any other error, or a second endpoint that fails too,
 * is thrown (`ALL_ENDPOINTS_UNAVAILABLE`). The engines of discovery and preview share it.
 */
export async function readWithFailover<T>(connector: Connector, signal: AbortSignal, read: () => Promise<T>): Promise<{ value: T; failover?: FailoverOutcome }> {
  try {
    return { value: await read() };
  } catch (error) {
    const failover = await failoverAfter(connector, error, signal);
    const { reason } = failover;
    try {
      return { value: await read(), failover };
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
      return { value: await read(), failover };
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
  if (!connector.isConnectionError(error) || !connector.canFailover()) throw error;
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
