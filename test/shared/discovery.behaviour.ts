import { Metadata } from '@grpc/grpc-js';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DiscoveryStrategy,
  type DataSource,
  type DiscoverDataSourceRequest,
  type DiscoverDataSourceResponse,
  type DiscoveryBatch,
  type DiscoveryFilter,
} from '@sourced/api';
import { eventually } from '../support/pg';
import type { TestDaemon } from '../support/testDaemon';

export const filter = (f: Partial<DiscoveryFilter> = {}): DiscoveryFilter => ({
  includeSchemas: [],
  excludeSchemas: [],
  includeTables: [],
  excludeTables: [],
  includeSystemSchemas: false,
  ...f,
});

/** An account of the test's own for a cancellation, and how the server itself counts its sessions. */
export interface CancellationAccount {
  source: DataSource;
  /** The account's sessions (or the daemon's connections), as the server answers the test's own query. */
  openSessions(): Promise<number>;
  /** Extra request fields of the cancelled call (MongoDB: a sample the stand-in holds). */
  request?: Partial<DiscoverDataSourceRequest>;
  /** Runs when the cancelling batch arrives, before the cancel (a look at the server while the run holds its connections). */
  beforeCancel?(): Promise<void>;
  drop?(): Promise<void>;
}

/**
 * What the shared discovery cases need of one connector: its data source (a server of the
 * global setup holding the engine's catalog fixture), the fixture's entities in the order
 * discovery must stream them, and the test's own oracles where engines differ.
 */
export interface DiscoveryEngine {
  /** Shown in the suite's name. */
  label: string;
  /** OpenTelemetry's db.system of the engine. */
  dbSystem: string;
  port: number;
  source(): DataSource;
  /** A filter every call of the shared cases carries (a shared server's other suites' databases stay out). */
  filter?: Partial<DiscoveryFilter>;
  /** Extra request fields every call carries (MongoDB: its sampling). */
  request?: Partial<DiscoverDataSourceRequest>;
  /** Every entity of the fixture the test account may see, `schema.name`, in the order discovery streams them. */
  all: string[];
  /** The entities of one batch: relations (SQL) or collections (MongoDB). */
  entities(batch: DiscoveryBatch): unknown[];
  /** An entity's `schema.name`. */
  qualifiedName(entity: unknown): string;
  /** An entity's number of columns (SQL). */
  columns?(entity: unknown): number;
  /** Entities as two runs can be compared (a real MongoDB samples in random order). */
  comparable?(entities: unknown[]): unknown;
  /** What the last batch's progress says of the whole run beyond the counts (undefined: only the counts). */
  lastProgress?: Record<string, unknown>;
  /** Filters of the engine's fixture, with how many entities each lets through (the progress total cases). */
  totalFilters: [name: string, filter: Partial<DiscoveryFilter>, expected: number][];
  /** Cancel after this many batches. */
  cancelAfterBatch: number;
  cancellation(): Promise<CancellationAccount>;
}

const batchesOf = (events: DiscoverDataSourceResponse[]) => events.flatMap((e) => (e.event?.$case === 'batch' ? [e.event.value] : []));
/** The sizes of the batches `n` entities make in batches of `size`. */
const chunks = (n: number, size: number) => Array.from({ length: Math.ceil(n / size) }, (_x, i) => Math.min(size, n - i * size));

/**
 * Registers the discovery cases every connector shares for one engine (call inside a
 * describe), run through `daemon()`: a daemon with the engine's plugin that the caller starts.
 */
export function discoveryBehaviour(engine: DiscoveryEngine, daemon: () => TestDaemon): void {
  let t: TestDaemon;
  let full: DiscoverDataSourceResponse[];
  const entities = (events: DiscoverDataSourceResponse[]) => batchesOf(events).flatMap((b) => engine.entities(b));
  const names = (events: DiscoverDataSourceResponse[]) => entities(events).map((e) => engine.qualifiedName(e));
  const discover = (request: Partial<DiscoverDataSourceRequest> = {}, source = engine.source()) =>
    t.discover({ ...engine.request, dataSource: source, filter: filter(engine.filter), ...request });
  const comparable = (entities: unknown[]) => (engine.comparable ? engine.comparable(entities) : entities);
  beforeAll(async () => {
    t = daemon();
    full = await discover();
  });

  /** The fixture is what the engine's descriptor says, so the cases below compare with the truth. */
  it('discovers every entity of the fixture in order in one batch', () => {
    expect(names(full)).toEqual(engine.all);
  });

  /** Small batches carry exactly what one large batch carries, each batch ends with a cursor and says how the run stands. */
  it('gives the same entities in batches of 2, each batch with a cursor', async () => {
    const small = await discover({ batchSize: 2 });
    const batches = batchesOf(small);
    const sizes = chunks(engine.all.length, 2);
    expect(batches.map((b) => engine.entities(b).length)).toEqual(sizes);
    expect(batches.every((b) => b.cursor.length > 0)).toBe(true);
    expect(comparable(entities(small))).toEqual(comparable(entities(full)));
    // every batch says how the run stands, cumulatively, with the strategy's parameters
    let seen = 0;
    expect(batches.map((b) => [b.progress?.batches, b.progress?.batchSize, b.progress?.concurrency, b.progress?.total])).toEqual(
      sizes.map((_s, i) => [i + 1, 2, 1, engine.all.length]),
    );
    expect(batches.map((b) => (b.progress?.relations ?? 0) + (b.progress?.collections ?? 0))).toEqual(sizes.map((s) => (seen += s)));
    if (engine.lastProgress) {
      const last = batches.at(-1)?.progress;
      expect(last).toMatchObject(engine.lastProgress);
      expect(last?.columns).toBe(entities(full).reduce((n: number, r) => n + (engine.columns?.(r) ?? 0), 0));
      expect(last?.ratePerSecond).toBeGreaterThan(0);
    }
  });

  /** A client that lost its stream resumes after the last cursor it saw, whatever its batch size: nothing lost, nothing twice. */
  it('resumes after a cursor', async () => {
    const first = batchesOf(await discover({ batchSize: 2 }));
    const rest = await discover({ batchSize: 4, resumeAfter: first[1].cursor });
    expect([...engine.all.slice(0, 4), ...names(rest)]).toEqual(engine.all);

    const five = batchesOf(await discover({ batchSize: 5 }));
    const after = await discover({ batchSize: 5, resumeAfter: five[0].cursor });
    expect([...engine.all.slice(0, 5), ...names(after)]).toEqual(engine.all);
  });

  /** One span per connection attempt and per batch, under the RPC's SERVER span. */
  it('traces connections and batches', async () => {
    t.spans.reset();
    await discover({ batchSize: 5 });
    const spans = t.spans.getFinishedSpans();
    const server = spans.find((s) => s.name === 'sourced.v1.DataSourceService/DiscoverDataSource');
    const under = (name: string) => spans.filter((s) => s.name === name && s.spanContext().traceId === server?.spanContext().traceId);
    expect(under('sourced.connection.open').map((s) => s.attributes)).toEqual([
      expect.objectContaining({ 'db.system': engine.dbSystem, 'server.port': engine.port, 'sourced.endpoint.role': 'PRIMARY' }),
    ]);
    // the short last batch ends the run without another read
    expect(under('sourced.discovery.batch').map((s) => s.attributes['sourced.batch.relations'])).toEqual(chunks(engine.all.length, 5));
    expect(server?.attributes['sourced.events']).toBeGreaterThan(3);
  });

  describe('progress total', () => {
    const all = () => engine.all.length;
    /** Every batch reports how many entities the run sends in all (a PostgreSQL or MariaDB sequence is not counted). */
    it.each([
      ['one batch', {}, all],
      ['batches of 2', { batchSize: 2 }, all],
      ['AGGRESSIVE', { strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_AGGRESSIVE }, all],
      ['max_entities', { batchSize: 2, maxEntities: 3 }, () => 3],
      ...engine.totalFilters.map(([name, f, n]) => [name, { filter: filter(f) }, () => n] as const),
    ] as [string, Partial<DiscoverDataSourceRequest>, () => number][])('equals the entities sent, with %s', async (_name, request, count) => {
      const expected = count();
      const events = await discover(request);
      expect(names(events)).toHaveLength(expected);
      const p = batchesOf(events).flatMap((b) => (b.progress ? [b.progress] : []));
      expect(p.length).toBeGreaterThan(0);
      expect(p.map((x) => x.total)).toEqual(p.map(() => expected));
      expect((p.at(-1)?.relations ?? 0) + (p.at(-1)?.collections ?? 0)).toBe(expected);
    });

    it('counts from the cursor on when resuming', async () => {
      const first = batchesOf(await discover({ batchSize: 4 }));
      const rest = await discover({ batchSize: 4, resumeAfter: first[0].cursor });
      expect(names(rest)).toEqual(engine.all.slice(4));
      const p = batchesOf(rest).flatMap((b) => (b.progress ? [b.progress] : []));
      expect(p.map((x) => x.total)).toEqual(p.map(() => engine.all.length - 4));
    });
  });

  /** Cancelling mid-stream stops the daemon's reads and frees its connections on the server. */
  it('frees its connections when the client cancels mid-stream', async () => {
    const account = await engine.cancellation();
    try {
      const request = {
        batchSize: 1,
        strategy: 0,
        resumeAfter: '',
        maxEntities: 0,
        maxDurationMs: 0,
        ...engine.request,
        ...account.request,
        filter: filter(engine.filter),
        dataSource: account.source,
      };
      const call = t.dataSources.discoverDataSource(request as DiscoverDataSourceRequest, new Metadata());
      let batches = 0;
      let lookFailed: unknown;
      const ended = new Promise<string>((resolve) => {
        call.on('data', (e: DiscoverDataSourceResponse) => {
          if (e.event?.$case === 'batch' && ++batches === engine.cancelAfterBatch) {
            if (!account.beforeCancel) return call.cancel();
            void account
              .beforeCancel()
              .catch((error: unknown) => (lookFailed = error))
              .finally(() => call.cancel());
          }
        });
        call.on('error', (e: { code: number }) => resolve(`error ${e.code}`));
        call.on('end', () => resolve('end'));
      });
      expect(await ended).toBe('error 1');
      if (lookFailed) throw lookFailed;
      expect(batches).toBeLessThan(engine.all.length);
      expect(
        await eventually(
          () => account.openSessions(),
          (n) => n === 0,
        ),
      ).toBe(0);
    } finally {
      await account.drop?.();
    }
  });
}
