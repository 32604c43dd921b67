import type { Tracer } from '@opentelemetry/api';
import { DEFAULT_SAMPLING, type Connector, type SamplingOptions } from '../connector/Connector';
import type { EndpointRole } from '../datasource/DataSource';
import { abortedErrorFrom, describeError, InputError, UnavailableError } from '../errors';
import { noopLogger, type Logger } from '../logging/Logger';
import { withSpan } from '../telemetry/withSpan';
import { decodeCursor, encodeCursor } from './cursor';
import { compileFilter, type DiscoveryFilter } from './DiscoveryFilter';
import type { CatalogEntity, RelationKey, SchemaEntity } from './entities';

/** How hard discovery works the source. */
export type DiscoveryStrategy = 'CONSERVATIVE' | 'BALANCED' | 'AGGRESSIVE' | 'ADAPTIVE';

/** The parameters a strategy runs with. */
export interface StrategyPreset {
  batchSize: number;
  /** Reads a connector may run at once within a batch (for example collections sampled in parallel). */
  concurrency: number;
  /** Pause between batches, to leave room for the source's own work. */
  pauseMs: number;
  /** ADAPTIVE bounds and target. */
  minBatch: number;
  maxBatch: number;
  targetBatchMs: number;
}

/** The documented presets. */
export const STRATEGY_PRESETS: Record<DiscoveryStrategy, StrategyPreset> = {
  CONSERVATIVE: { batchSize: 25, concurrency: 1, pauseMs: 50, minBatch: 25, maxBatch: 25, targetBatchMs: 0 },
  BALANCED: { batchSize: 100, concurrency: 2, pauseMs: 0, minBatch: 100, maxBatch: 100, targetBatchMs: 0 },
  AGGRESSIVE: { batchSize: 500, concurrency: 4, pauseMs: 0, minBatch: 500, maxBatch: 500, targetBatchMs: 0 },
  ADAPTIVE: { batchSize: 100, concurrency: 2, pauseMs: 0, minBatch: 10, maxBatch: 1000, targetBatchMs: 250 },
};

/** The largest batch a caller may ask for. */
export const MAX_BATCH_SIZE = 1000;

/** The largest sample a caller may ask for per collection. */
export const MAX_SAMPLE_SIZE = 100_000;

/** The fields of an object that are not undefined (or 0, the proto default for "not given"). */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== 0)) as Partial<T>;
}

export interface DiscoveryRequest {
  filter: DiscoveryFilter;
  strategy: DiscoveryStrategy;
  /** 0 means the strategy's default. */
  batchSize: number;
  /** A cursor from an earlier batch; empty means from the start. */
  resumeAfter: string;
  /** Schema inference of document stores; defaults apply to what is not given. */
  sampling?: Partial<SamplingOptions>;
  /** Stop after this many relations and collections; 0 or absent means no limit. */
  maxEntities?: number;
  /** Stop after this many milliseconds, at a batch boundary; 0 or absent means no limit. */
  maxDurationMs?: number;
}

/** How a run stands after a batch. */
export interface DiscoveryProgress {
  relations: number;
  collections: number;
  columns: number;
  batches: number;
  ratePerSecond: number;
  elapsedMs: number;
  /** The batch size in use (ADAPTIVE changes it). */
  batchSize: number;
  concurrency: number;
}

/** Events of a discovery run, in order. */
export type DiscoveryEvent =
  | { kind: 'schemas'; schemas: SchemaEntity[] }
  | { kind: 'batch'; index: number; entities: CatalogEntity[]; cursor: string; progress: DiscoveryProgress }
  | { kind: 'failover'; active: EndpointRole; reason: string; resumeAfter: string }
  | { kind: 'warning'; code: string; message: string }
  | {
      kind: 'summary';
      schemas: number;
      relations: number;
      tables: number;
      views: number;
      columns: number;
      collections: number;
      batches: number;
      durationMs: number;
      strategy: DiscoveryStrategy;
      failovers: number;
      warnings: number;
      endpoint: EndpointRole;
      stoppedEarly: boolean;
      /** `MAX_ENTITIES` or `MAX_DURATION`; empty when the run completed. */
      stopReason: string;
    };

/**
 * Drives a connector's catalog reads: schemas first, then relations in deterministic
 * (schema, name) order, one set-based page per batch, each batch ending with a cursor.
 * It is pulled by its consumer, so a slow stream stops the reads (back-pressure); it
 * stops between and during queries when the signal fires; in HYBRID it fails over when
 * the active connection is lost and re-reads the page after the last completed batch,
 * so nothing is lost and nothing is sent twice. The connector is closed on every exit path.
 */
export class DiscoveryEngine {
  constructor(
    private readonly tracer: Tracer,
    private readonly logger: Logger = noopLogger,
  ) {}

  /** Checks a request before any connection is opened. */
  static validateRequest(request: DiscoveryRequest): void {
    const s = request.sampling ?? {};
    if (s.sampleSize !== undefined && s.sampleSize > MAX_SAMPLE_SIZE) {
      throw new InputError([{ field: 'sampling.sample_size', description: `${s.sampleSize} is more than the maximum of ${MAX_SAMPLE_SIZE}` }]);
    }
    compileFilter(request.filter);
    if (request.batchSize > MAX_BATCH_SIZE) {
      throw new InputError([{ field: 'batch_size', description: `${request.batchSize} is more than the maximum of ${MAX_BATCH_SIZE}` }]);
    }
    if (request.resumeAfter) decodeCursor(request.resumeAfter);
  }

  async *run(connector: Connector, request: DiscoveryRequest, signal: AbortSignal): AsyncGenerator<DiscoveryEvent> {
    DiscoveryEngine.validateRequest(request);
    const started = performance.now();
    const filter = compileFilter(request.filter);
    const preset = STRATEGY_PRESETS[request.strategy];
    let batchSize = request.batchSize || preset.batchSize;
    const adaptive = request.strategy === 'ADAPTIVE' && request.batchSize === 0;
    let after: RelationKey | undefined = request.resumeAfter ? decodeCursor(request.resumeAfter) : undefined;
    const totals = { schemas: 0, relations: 0, tables: 0, views: 0, columns: 0, collections: 0, batches: 0, failovers: 0, warnings: 0 };
    const sampling: SamplingOptions = { ...DEFAULT_SAMPLING, ...definedOnly(request.sampling ?? {}) };

    try {
      await connector.initialize(signal);
      if (connector.activeRole === 'SECONDARY') {
        totals.warnings += 1;
        yield { kind: 'warning', code: 'STARTED_ON_SECONDARY', message: 'the primary endpoint could not be reached; discovery runs on the secondary' };
      }

      const read = await this.withFailover(connector, signal, after, () => connector.listSchemas(filter, signal));
      if (read.failover) {
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

      let stopReason = '';
      for (;;) {
        if (signal.aborted) throw abortedErrorFrom(signal);
        const done = totals.relations + totals.collections;
        if (request.maxEntities && done >= request.maxEntities) {
          stopReason = 'MAX_ENTITIES';
          break;
        }
        if (request.maxDurationMs && performance.now() - started >= request.maxDurationMs) {
          stopReason = 'MAX_DURATION';
          break;
        }
        const limit = request.maxEntities ? Math.min(batchSize, request.maxEntities - done) : batchSize;
        const pageStarted = performance.now();
        const index = totals.batches + 1;
        const cursor = after;
        const page = await withSpan(
          this.tracer,
          'sourced.discovery.batch',
          { 'sourced.batch.index': index, 'sourced.batch.size': batchSize, 'sourced.endpoint.role': connector.activeRole },
          async (span) => {
            const result = await this.withFailover(connector, signal, cursor, () => connector.listRelations({ filter, after: cursor, limit, concurrency: preset.concurrency, sampling }, signal));
            span.setAttribute('sourced.batch.relations', result.value.length);
            return result;
          },
        );
        if (page.failover) {
          totals.failovers += 1;
          yield page.failover;
        }
        const entities = page.value;
        if (entities.length === 0) break;
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
        const elapsedMs = performance.now() - started;
        const progress: DiscoveryProgress = {
          relations: totals.relations,
          collections: totals.collections,
          columns: totals.columns,
          batches: totals.batches,
          ratePerSecond: elapsedMs > 0 ? ((totals.relations + totals.collections) * 1000) / elapsedMs : 0,
          elapsedMs,
          batchSize,
          concurrency: preset.concurrency,
        };
        yield { kind: 'batch', index, entities, cursor: encodeCursor(after), progress };
        if (entities.length < limit) break;
        if (adaptive) batchSize = this.resize(batchSize, performance.now() - pageStarted, preset);
        if (preset.pauseMs > 0) await new Promise((r) => setTimeout(r, preset.pauseMs));
      }
      yield {
        kind: 'summary',
        ...totals,
        durationMs: performance.now() - started,
        strategy: request.strategy,
        endpoint: connector.activeRole,
        stoppedEarly: stopReason !== '',
        stopReason,
      };
    } finally {
      await connector.close().catch((error) => this.logger.warn('closing the connector failed', { error: describeError(error) }));
    }
  }

  /**
   * Runs a read; when the connection is lost and a standby exists, fails over once and reads
   * again. A standby connection opened at the start may have died while it waited (the
   * secondary restarted, an idle timeout): when the read after the failover finds it gone
   * too, the endpoint is opened afresh once before the run gives up.
   */
  private async withFailover<T>(
    connector: Connector,
    signal: AbortSignal,
    cursor: RelationKey | undefined,
    read: () => Promise<T>,
  ): Promise<{ value: T; failover?: DiscoveryEvent }> {
    try {
      return { value: await read() };
    } catch (error) {
      if (signal.aborted) throw abortedErrorFrom(signal);
      if (!connector.isConnectionError(error) || !connector.canFailover()) throw error;
      const reason = describeError(error);
      let active: EndpointRole;
      try {
        active = await connector.failover(reason, signal);
      } catch (second) {
        throw new UnavailableError('ALL_ENDPOINTS_UNAVAILABLE', `the active endpoint failed (${reason}) and the failover endpoint too (${describeError(second)})`, { cause: second });
      }
      const failover: DiscoveryEvent = { kind: 'failover', active, reason, resumeAfter: cursor ? encodeCursor(cursor) : '' };
      try {
        return { value: await read(), failover };
      } catch (stale) {
        if (signal.aborted) throw abortedErrorFrom(signal);
        if (!connector.isConnectionError(stale) || !connector.reconnect) throw stale;
        try {
          await connector.reconnect(signal);
        } catch (third) {
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

  /** ADAPTIVE: halve the batch when a page is slow, grow it by half when it is fast. */
  private resize(current: number, ms: number, preset: StrategyPreset): number {
    if (ms > preset.targetBatchMs * 2) return Math.max(preset.minBatch, Math.floor(current / 2));
    if (ms < preset.targetBatchMs / 2) return Math.min(preset.maxBatch, Math.ceil(current * 1.5));
    return current;
  }
}
