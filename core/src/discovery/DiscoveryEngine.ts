import type { Attributes, Meter, Tracer } from '@opentelemetry/api';
import { DEFAULT_SAMPLING, type SamplingOptions } from '../contract/catalog';
import type { DiscoverableConnector } from '../contract/capabilities';
import { readSignalController, readWithFailover, SourceStalledError, withinStallBound, type ReadOptions } from '../connector/readWithFailover';
import { AbortedError, abortedErrorFrom, describeError, UnavailableError } from '../errors';
import { noopLogger, type Logger } from '../logging/Logger';
import { dbSystemOf, sourcedInstruments, type SourcedInstruments } from '../telemetry/metrics';
import { withSpan } from '../telemetry/withSpan';
import { encodeCursor } from './cursor';
import type { DiscoveryEvent, DiscoveryProgress } from './DiscoveryEvent';
import { checkDiscoveryRequest, type CheckedDiscoveryRequest, type DiscoveryRequest } from './DiscoveryRequest';
import type { CatalogEntity, RelationKey } from './entities';
import { refuseEmptied, runError } from './runErrors';
import { AdaptiveController, ProcessLoad, stallBoundOf, STRATEGY_PRESETS, type DaemonLoad, type StrategyState } from './strategies';

export { MAX_SAMPLE_SIZE, type CheckedDiscoveryRequest, type DiscoveryRequest } from './DiscoveryRequest';
export type { DiscoveryEvent, DiscoveryProgress } from './DiscoveryEvent';

/** The fields of an object that are not undefined (or 0, the proto default for "not given"). */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== 0)) as Partial<T>;
}

/** A read started ahead of its turn (the first page, beside the schemas and the count). */
interface HeadStart<T> {
  /** The attempt, under the stall bound; its failure is handled when its turn comes. */
  first: Promise<T>;
  /** When it started: performance.now() and the wall clock (its span's start). */
  startedAt: number;
  startedOn: Date;
}

/** One page as read, with what it took. */
interface PageRead {
  entities: CatalogEntity[];
  failover?: DiscoveryEvent;
  limit: number;
  ms: number;
  /** The strategy's parameters the page was read with. */
  params: StrategyState;
}

/**
 * Drives a connector's catalog reads: schemas first, then relations in deterministic
 * (schema, name) order, one set-based page per batch, each batch ending with a cursor.
 *
 * - Back-pressure: it is pulled by its consumer, and reads at most `readAhead` (0 or 1)
 *   pages ahead of the batch being sent, so a slow client stops the reads and the daemon
 *   never holds more than two pages of a run.
 * - Strategies: the preset's batch size, parallel reads, statement timeout (set on every
 *   session the connector opens) and pause; ADAPTIVE resizes after each batch
 *   ({@link AdaptiveController}).
 * - It stops between and during queries when the signal fires, and at a batch boundary at
 *   max_entities or max_duration_ms, saying so in the summary.
 * - The first reads run side by side: the schemas with their objects, the count and the first
 *   page start at once (the first entity does not wait for the schema-level objects, the
 *   source's slowest catalog read before it), each under the stall bound and none failing over
 *   while another runs; once all have ended they are taken in order, and a failover in one
 *   sends the ones after it to the other endpoint afresh.
 * - In HYBRID it fails over when the active connection is lost and re-reads the page after
 *   the last completed batch, so nothing is lost and nothing is sent twice.
 * - The connector is closed on every exit path, after any read still in flight is cancelled.
 */
export class DiscoveryEngine {
  private processLoad?: ProcessLoad;
  private readonly instruments: SourcedInstruments;

  constructor(
    private readonly tracer: Tracer,
    private readonly logger: Logger = noopLogger,
    /** The daemon's own load as ADAPTIVE sees it; the process's by default. */
    private readonly load?: DaemonLoad,
    /** Where `sourced.discovery.*` and `sourced.failovers` are recorded; no-op instruments by default. */
    meter?: Meter,
  ) {
    this.instruments = sourcedInstruments(meter);
  }

  /** Checks a request before any connection is opened (InputError naming the field); the result is what {@link run} takes without checking again. */
  static checkRequest(request: DiscoveryRequest): CheckedDiscoveryRequest {
    return checkDiscoveryRequest(request);
  }

  /** Checks a request before any connection is opened. */
  static validateRequest(request: DiscoveryRequest): void {
    DiscoveryEngine.checkRequest(request);
  }

  /** Runs a discovery; a request not yet checked is checked first. */
  async *run(connector: DiscoverableConnector, request: DiscoveryRequest | CheckedDiscoveryRequest, callSignal: AbortSignal): AsyncGenerator<DiscoveryEvent> {
    const { filter, after: resumeAfter } = ('checked' in request ? request : DiscoveryEngine.checkRequest(request)).checked;
    const started = performance.now();
    const preset = STRATEGY_PRESETS[request.strategy];
    const strategy = new AdaptiveController(preset, this.daemonLoad(), request.batchSize);
    let after: RelationKey | undefined = resumeAfter;
    const totals = { schemas: 0, relations: 0, tables: 0, views: 0, columns: 0, collections: 0, batches: 0, failovers: 0, warnings: 0 };
    const sampling: SamplingOptions = { ...DEFAULT_SAMPLING, ...definedOnly(request.sampling ?? {}) };
    // Reads run under a signal of the run's own, so that a page read ahead can be cancelled
    // when the run ends early (a limit, an error, the consumer going away).
    const reads = readSignalController();
    const onCallAbort = () => reads.abort(callSignal.reason);
    if (callSignal.aborted) onCallAbort();
    else callSignal.addEventListener('abort', onCallAbort, { once: true });
    const signal = reads.signal;
    let pending: Promise<PageRead> | undefined;
    let stalled = false;
    const system: Attributes = { 'db.system': dbSystemOf(connector) };
    const countFailover = (event: DiscoveryEvent | undefined) => {
      if (event) this.instruments.failovers.add(1, { ...system, 'sourced.failover.trigger': 'connection_lost' });
    };

    // A connector that reads ahead itself is told the next page when the strategy's sizes are
    // fixed (ADAPTIVE decides each size after the page before, so the engine reads ahead for it).
    const connectorReadsAhead = connector.readsAhead === true && preset.readAhead > 0 && preset.targetBatchMs <= 0;
    let readSoFar = 0;
    /** The page after one of `limit` (read when `readSoFar` were), when that one comes back full. */
    const nextPage = (limit: number): { limit: number } | undefined => {
      if (!connectorReadsAhead) return undefined;
      const size = request.batchSize || preset.batchSize;
      const next = request.maxEntities ? Math.min(size, request.maxEntities - readSoFar - limit) : size;
      return next > 0 ? { limit: next } : undefined;
    };
    const pageRead = (cursor: RelationKey | undefined, limit: number, concurrency: number) => {
      const next = nextPage(limit);
      return (readSignal: AbortSignal) =>
        connector.listRelations({ filter, after: cursor, limit, concurrency, sampling, ...(next ? { next } : {}) }, readSignal);
    };
    const readPage = (
      cursor: RelationKey | undefined,
      limit: number,
      index: number,
      head?: HeadStart<CatalogEntity[]> & { params: StrategyState },
    ): Promise<PageRead> => {
      const params = head?.params ?? { ...strategy.current };
      const { batchSize, concurrency } = params;
      const pageStarted = head?.startedAt ?? performance.now();
      return withSpan(
        this.tracer,
        'sourced.discovery.batch',
        {
          'sourced.batch.index': index,
          'sourced.batch.size': batchSize,
          'sourced.batch.concurrency': concurrency,
          'sourced.endpoint.role': connector.activeRole,
        },
        async (span) => {
          const result = await this.withFailover(connector, signal, cursor, pageRead(cursor, limit, concurrency), request, head?.first);
          span.setAttribute('sourced.batch.relations', result.value.length);
          return { entities: result.value, failover: result.failover, limit, ms: performance.now() - pageStarted, params };
        },
        head?.startedOn,
      );
    };
    /** Starts a read now under the stall bound, to be taken (and failed over) in its turn. */
    const startAhead = <T>(read: (signal: AbortSignal) => Promise<T>): HeadStart<T> => {
      const head = { first: withinStallBound(connector, signal, this.readOptions(request, after), read), startedAt: performance.now(), startedOn: new Date() };
      head.first.catch(() => undefined); // taken in its turn
      return head;
    };

    try {
      await connector.initialize(signal, { statementTimeoutMs: preset.statementTimeoutMs });
      if (connector.activeRole === 'SECONDARY') {
        this.instruments.failovers.add(1, { ...system, 'sourced.failover.trigger': 'start' });
        totals.warnings += 1;
        const why = connector.startProblem?.('PRIMARY');
        yield {
          kind: 'warning',
          code: 'STARTED_ON_SECONDARY',
          message: `the primary endpoint could not be reached${why ? ` (${why})` : ''}; discovery runs on the secondary (the primary is tried again if the secondary fails)`,
        };
      } else if (connector.canFailover()) {
        const why = connector.startProblem?.('SECONDARY');
        if (why) {
          totals.warnings += 1;
          yield {
            kind: 'warning',
            code: 'NO_STANDBY',
            message: `the secondary endpoint could not be opened (${why}); discovery runs on the primary without failover protection until the secondary can be opened (the daemon tries it again if the primary fails)`,
          };
        }
      }

      // Entities read so far (readSoFar, above), including a page read ahead and not yet sent.
      const nextLimit = () => {
        const { batchSize } = strategy.current;
        return request.maxEntities ? Math.min(batchSize, request.maxEntities - readSoFar) : batchSize;
      };

      // The schemas, the count and the first page start at once (over the connections the
      // connector has: a driver connection queues the statements given to it). No read fails
      // over while another one runs: each attempt ends (under the stall bound) before any is
      // taken; then they are taken in order, and once one has failed over, the reads after it
      // are made again on the endpoint now active instead of taken from the one left.
      const readSchemas = (readSignal: AbortSignal) =>
        connector.listSchemas(filter, readSignal, { routineBodies: request.includeRoutineBodies === true, concurrency: strategy.current.concurrency });
      const count = connector.countEntities?.bind(connector);
      const readCount = count ? (readSignal: AbortSignal) => count(filter, after, readSignal) : undefined;
      const firstParams = { ...strategy.current };
      const firstLimit = nextLimit();
      const schemasAhead = startAhead(readSchemas);
      const countAhead = readCount ? startAhead(readCount) : undefined;
      const pageAhead = { ...startAhead(pageRead(after, firstLimit, firstParams.concurrency)), params: firstParams };
      await Promise.allSettled([schemasAhead.first, countAhead?.first, pageAhead.first]);
      let switched = false;

      const read = await this.withFailover(connector, signal, after, readSchemas, request, schemasAhead.first);
      countFailover(read.failover);
      if (read.failover) {
        switched = true;
        totals.failovers += 1;
        yield read.failover;
      }
      const schemas = read.value;
      totals.schemas = schemas.length;
      yield { kind: 'schemas', schemas };
      for (const s of schemas.filter((x) => !x.usable)) {
        totals.warnings += 1;
        yield { kind: 'warning', code: 'SCHEMA_NOT_USABLE', message: `the user may not use schema "${s.name}"; its relations are not listed` };
      }

      // The total is a nicety: a count the source refuses (a permission, a timeout) leaves
      // it unknown; only a lost connection (failed over, or fatal) counts as a failure.
      let total: number | undefined;
      if (readCount) {
        try {
          const counted = await this.withFailover(connector, signal, after, readCount, request, switched ? undefined : countAhead?.first);
          countFailover(counted.failover);
          if (counted.failover) {
            switched = true;
            totals.failovers += 1;
            yield counted.failover;
          }
          if (counted.value !== undefined) total = request.maxEntities ? Math.min(counted.value, request.maxEntities) : counted.value;
        } catch (error) {
          if (signal.aborted || connector.isConnectionError(error) || error instanceof UnavailableError) throw error;
          this.logger.warn('counting the catalog failed; progress goes without a total', { error: describeError(error) });
        }
      }

      // The first page, from the attempt when it was read on the endpoint active now.
      pending = readPage(after, firstLimit, 1, switched ? undefined : pageAhead).then((p) => {
        readSoFar += p.entities.length;
        return p;
      });
      pending.catch(() => undefined); // awaited on the first turn, or cancelled in finally
      let stopReason = '';
      for (;;) {
        if (signal.aborted) throw abortedErrorFrom(signal);
        const sent = totals.relations + totals.collections;
        if (request.maxEntities && sent >= request.maxEntities) {
          stopReason = 'MAX_ENTITIES';
          break;
        }
        if (request.maxDurationMs && performance.now() - started >= request.maxDurationMs) {
          stopReason = 'MAX_DURATION';
          break;
        }
        const index = totals.batches + 1;
        let page: PageRead;
        if (pending) {
          page = await pending;
          pending = undefined;
        } else {
          const limit = nextLimit();
          page = await readPage(after, limit, index);
          readSoFar += page.entities.length;
        }
        countFailover(page.failover);
        if (page.failover) {
          totals.failovers += 1;
          yield page.failover;
        }
        const entities = page.entities;
        if (entities.length === 0) {
          // The end of the catalog, unless the endpoint changed under the run: then an empty
          // page may be a server that lost what the other one had sent (a crash, a restore).
          if (page.failover) await refuseEmptied(connector, filter, signal, totals.relations + totals.collections, after);
          break;
        }
        const last = entities[entities.length - 1];
        after = { schema: last.schema, name: last.name };
        totals.batches += 1;
        for (const e of entities) {
          if (e.entity === 'collection') {
            totals.collections += 1;
            continue;
          }
          totals.relations += 1;
          totals.columns += e.columns.length;
          if (e.kind === 'VIEW' || e.kind === 'MATERIALIZED_VIEW') totals.views += 1;
          else totals.tables += 1;
        }
        const complete = entities.length < page.limit;
        if (!complete) strategy.observe(page.ms);
        const elapsedMs = performance.now() - started;
        const progress: DiscoveryProgress = {
          relations: totals.relations,
          tables: totals.tables,
          views: totals.views,
          collections: totals.collections,
          columns: totals.columns,
          batches: totals.batches,
          ratePerSecond: elapsedMs > 0 ? ((totals.relations + totals.collections) * 1000) / elapsedMs : 0,
          elapsedMs,
          ...page.params,
          total,
        };
        // Read the next page while this one is sent, unless a limit ends the run first (or the
        // connector has started it already: connectorReadsAhead).
        const more = !complete && !(request.maxEntities && readSoFar >= request.maxEntities);
        if (more && preset.readAhead > 0 && !connectorReadsAhead) {
          const limit = nextLimit();
          const cursor = after;
          pending = readPage(cursor, limit, index + 1).then((p) => {
            readSoFar += p.entities.length;
            return p;
          });
          pending.catch(() => undefined); // awaited on the next turn, or cancelled in finally
        }
        this.recordBatch(entities, system);
        yield { kind: 'batch', index, entities, cursor: encodeCursor(after), progress };
        if (complete) break;
        if (strategy.current.pauseMs > 0) await sleep(strategy.current.pauseMs, signal);
      }
      yield {
        kind: 'summary',
        ...totals,
        durationMs: performance.now() - started,
        strategy: request.strategy,
        endpoint: connector.activeRole,
        stoppedEarly: stopReason !== '',
        stopReason,
        source: connector.identity?.(connector.activeRole),
      };
    } catch (error) {
      stalled = error instanceof SourceStalledError;
      throw runError(error, connector, after, signal, this.logger);
    } finally {
      callSignal.removeEventListener('abort', onCallAbort);
      if (pending) {
        if (!signal.aborted) reads.abort(new AbortedError('the discovery ended before a page read ahead was needed'));
        if (!stalled) await pending.catch(() => undefined);
      }
      const closing = connector.close().catch((error: unknown) => this.logger.warn('closing the connector failed', { error: describeError(error) }));
      // A frozen source answers no cancellation either: the caller gets its error now, and the
      // connections close in the background (bounded by the connector's cancel and close timeouts).
      if (!stalled) await closing;
    }
  }

  /** Counts a batch about to be sent and its entities by kind (`table`, `view`, `collection`, ...). */
  private recordBatch(entities: readonly CatalogEntity[], system: Attributes): void {
    this.instruments.discoveryBatches.add(1, system);
    const byKind = new Map<string, number>();
    for (const e of entities) {
      const kind = e.entity === 'collection' && e.kind === 'COLLECTION' ? 'collection' : e.kind.toLowerCase();
      byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    }
    for (const [kind, n] of byKind) this.instruments.discoveryEntities.add(n, { ...system, 'sourced.entity.kind': kind });
  }

  /** The daemon's load for ADAPTIVE: the injected one, or the process's (made on first use). */
  private daemonLoad(): DaemonLoad {
    return this.load ?? (this.processLoad ??= new ProcessLoad());
  }

  /** The stall bound of a request's reads, and the cursor a failover resumes after. */
  private readOptions(request: DiscoveryRequest, cursor: RelationKey | undefined): ReadOptions {
    const bound = stallBoundOf(request.strategy, 'discovery', { stallTimeoutMs: request.stallTimeoutMs, stallProbeAfterMs: request.stallProbeAfterMs });
    return { stallMs: bound.stallTimeoutMs, probeAfterMs: bound.stallProbeAfterMs, resumeAfter: cursor ? encodeCursor(cursor) : '' };
  }

  /** {@link readWithFailover} (`first`: the read's attempt started ahead), with the discovery event of a switch (and the cursor to resume after). */
  private async withFailover<T>(
    connector: DiscoverableConnector,
    signal: AbortSignal,
    cursor: RelationKey | undefined,
    read: (signal: AbortSignal) => Promise<T>,
    request: DiscoveryRequest,
    first?: Promise<T>,
  ): Promise<{ value: T; failover?: DiscoveryEvent }> {
    const result = await readWithFailover(connector, signal, read, this.readOptions(request, cursor), first);
    if (!result.failover) return { value: result.value };
    return { value: result.value, failover: { kind: 'failover', ...result.failover, resumeAfter: cursor ? encodeCursor(cursor) : '' } };
  }
}

/** Waits, or rejects when the signal fires. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedErrorFrom(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
