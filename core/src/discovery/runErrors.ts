/** How a discovery run that cannot go on ends: the errors `DiscoveryEngine` throws after it started. */
import type { DiscoverableConnector } from '../contract/capabilities';
import { describeError, SourcedError, UnavailableError } from '../errors';
import type { Logger } from '../logging/Logger';
import { encodeCursor } from './cursor';
import type { CompiledFilter } from './DiscoveryFilter';
import type { RelationKey } from './entities';

/**
 * After a failover found no more relations: throws when the endpoint now read holds nothing
 * at all that passes the filter while this call had already sent `sent` relations from the
 * other one. A data platform syncing its catalog would otherwise take "nothing more" as the
 * end and keep a catalog that this endpoint does not have; a resumable error lets it retry
 * (or resume from the cursor) once the endpoints agree again.
 */
export async function refuseEmptied(
  connector: DiscoverableConnector,
  filter: CompiledFilter,
  signal: AbortSignal,
  sent: number,
  after: RelationKey | undefined,
): Promise<void> {
  if (sent === 0) return;
  const counted = connector.countEntities ? await connector.countEntities(filter, undefined, signal) : undefined;
  const empty = counted !== undefined ? counted === 0 : (await connector.listSchemas(filter, signal)).length === 0;
  if (!empty) return;
  const role = connector.activeRole;
  const resumeAfter = after ? encodeCursor(after) : '';
  throw new UnavailableError(
    'SOURCE_EMPTY_AFTER_FAILOVER',
    `after failing over, the ${role.toLowerCase()} endpoint holds nothing that passes the filter, though this call had already sent ${sent} relations from the other endpoint; ` +
      'the run stops instead of reporting a catalog that ends here. Check the endpoints (a restore, a replica that lost its data), then resume with resume_after.',
    { metadata: { endpoint: role, resume_after: resumeAfter } },
  );
}

/**
 * What a run that failed ends with: a connection the driver lost (and no endpoint to fail
 * over to) becomes UNAVAILABLE `CONNECTION_LOST`, its driver text kept for the log; and
 * every error of ours carries the cursor of the last batch sent in its metadata
 * (`resume_after`), so the caller resumes there instead of starting over.
 */
export function runError(error: unknown, connector: DiscoverableConnector, after: RelationKey | undefined, signal: AbortSignal, logger: Logger): unknown {
  if (signal.aborted) return error;
  let out = error;
  if (!(error instanceof SourcedError) && connector.isConnectionError(error)) {
    const role = connector.activeRole;
    const { host, port } = connector.endpoint(role);
    logger.warn('the connection to the source was lost', { endpoint: role, error: describeError(error) });
    out = new UnavailableError(
      'CONNECTION_LOST',
      `the connection to the ${role.toLowerCase()} endpoint ${host}:${port} was lost, and there is no endpoint to fail over to`,
      {
        cause: error,
        metadata: { endpoint: role },
      },
    );
  }
  if (out instanceof SourcedError && after) {
    // A key of the metadata may be absent: the error may carry a cursor already.
    const metadata: Partial<Record<string, string>> = out.metadata;
    if (metadata.resume_after === undefined) metadata.resume_after = encodeCursor(after);
  }
  return out;
}
