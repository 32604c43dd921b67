import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import {
  DiscoveryEngine,
  EMPTY_FILTER,
  PreviewEngine,
  ProfileEngine,
  SourcedError,
  ValidationRunner,
  decodeCursor,
  defineConnector,
  DEFAULT_PREVIEW_SETTINGS,
  DEFAULT_PROFILE_SETTINGS,
  type CatalogEntity,
  type DiscoveryEvent,
  type DiscoveryRequest,
  type ProfileEvent,
} from '../src';
import { collect, fakeConnector, fakeContext, FakeConnectionLost, fakeSource, FakeServer, hybridSource, tables } from './fakeConnector';

const tracer = trace.getTracer('test');
const signal = () => new AbortController().signal;
/** A constant daemon load (ADAPTIVE is not under test here). */
const request = (over: Partial<DiscoveryRequest> = {}): DiscoveryRequest => ({
  filter: EMPTY_FILTER,
  strategy: 'CONSERVATIVE',
  batchSize: 5,
  resumeAfter: '',
  ...over,
});
const names = (events: DiscoveryEvent[]) => events.flatMap((e) => (e.kind === 'batch' ? e.entities.map((x: CatalogEntity) => `${x.schema}.${x.name}`) : []));

function setup(n: number, hybrid = false) {
  const primary = new FakeServer('primary', tables(n));
  const secondary = new FakeServer('secondary', tables(n));
  const servers = new Map([
    ['primary', primary],
    ['secondary', secondary],
  ]);
  const definition = fakeConnector(servers);
  const connector = definition.create(hybrid ? hybridSource() : fakeSource(), fakeContext());
  return { primary, secondary, connector, definition };
}

/** The expected order: (schema, name), as the fake server sorts. */
const expected = (n: number) =>
  tables(n)
    .map((t) => `${t.schema}.${t.name}`)
    .sort();

describe('DiscoveryEngine over a fake connector', () => {
  /** Pages of the batch size, in (schema, name) order, every relation once, each batch's cursor the last key sent; the connector is closed after. */
  it('pages through the catalog in order', async () => {
    const { primary, connector } = setup(12);
    const events = await collect(new DiscoveryEngine(tracer).run(connector, request(), signal()));
    expect(names(events)).toEqual(expected(12));
    const batches = events.filter((e) => e.kind === 'batch');
    expect(batches.map((b) => b.entities.length)).toEqual([5, 5, 2]);
    for (const b of batches) {
      const last = b.entities[b.entities.length - 1]!;
      expect(decodeCursor(b.cursor)).toEqual({ schema: last.schema, name: last.name });
    }
    const summary = events.at(-1);
    expect(summary).toMatchObject({ kind: 'summary', relations: 12, batches: 3, failovers: 0, endpoint: 'PRIMARY' });
    expect(primary.openConnections).toBe(0);
  });

  /** A run resumed after a batch's cursor sends exactly the relations after it. */
  it('resumes after a cursor with nothing lost and nothing twice', async () => {
    const { connector, definition } = setup(12);
    const first = await collect(new DiscoveryEngine(tracer).run(connector, request(), signal()));
    const cursor = first.find((e) => e.kind === 'batch');
    if (cursor?.kind !== 'batch') throw new Error('no first batch');
    const servers = new Map([['primary', new FakeServer('primary', tables(12))]]);
    const resumed = await collect(
      new DiscoveryEngine(tracer).run(fakeConnector(servers).create(fakeSource(), fakeContext()), request({ resumeAfter: cursor.cursor }), signal()),
    );
    expect([...names(first).slice(0, 5), ...names(resumed)]).toEqual(expected(12));
    expect(servers.get('primary')!.pageReads[0]).toBe(names(first)[4]);
    expect(definition.capabilities).toEqual(['validate', 'discover', 'preview', 'profile']);
  });

  /** HYBRID: the primary goes away before the second page; the run fails over and re-reads that page from the secondary after the last sent key. */
  it('fails over mid-run without losing or repeating a relation', async () => {
    const { primary, secondary, connector } = setup(12, true);
    primary.beforePage = (index) => {
      if (index === 1) primary.up = false;
    };
    const events = await collect(new DiscoveryEngine(tracer).run(connector, request(), signal()));
    expect(names(events)).toEqual(expected(12));
    const failover = events.find((e) => e.kind === 'failover');
    expect(failover).toMatchObject({ kind: 'failover', active: 'SECONDARY' });
    expect(failover?.kind === 'failover' && decodeCursor(failover.resumeAfter)).toEqual({ schema: 's0', name: 't008' });
    expect(secondary.pageReads).toEqual(['s0.t008', 's1.t007']);
    expect(events.at(-1)).toMatchObject({ kind: 'summary', failovers: 1, endpoint: 'SECONDARY', relations: 12 });
    expect(primary.openConnections + secondary.openConnections).toBe(0);
  });

  /** The first page is read while the schemas are: here the schemas are served only once a page read has begun (a run reading them one after the other would never end). */
  it('reads the first page beside the schemas', async () => {
    const { primary, connector } = setup(12);
    let pageBegun!: () => void;
    const firstPage = new Promise<void>((resolve) => (pageBegun = resolve));
    primary.beforeSchemas = () => firstPage;
    primary.beforePage = () => pageBegun();
    const events = await collect(new DiscoveryEngine(tracer).run(connector, request(), signal()));
    expect(events.map((e) => e.kind).slice(0, 2)).toEqual(['schemas', 'batch']);
    expect(names(events)).toEqual(expected(12));
    expect(primary.pageReads[0]).toBe('');
  });

  /**
   * HYBRID: the schemas' read loses its connection while the count and the first page succeed
   * on the primary. The run fails over only once those have ended, and reads the count and the
   * first page again on the secondary: nothing of the endpoint it left is sent after the switch.
   */
  it('fails over from the first reads only once they have all ended, and reads them again there', async () => {
    const { primary, secondary, connector } = setup(12, true);
    let lost = false;
    primary.beforeSchemas = () => {
      if (lost) return;
      lost = true;
      throw new FakeConnectionLost('the schemas read lost its connection');
    };
    // The first page ends well after the schemas' read has failed.
    primary.beforePage = () => new Promise((resolve) => setTimeout(resolve, 50));
    const events = await collect(new DiscoveryEngine(tracer).run(connector, request({ strategy: 'BALANCED', batchSize: 5 }), signal()));
    expect(events.map((e) => e.kind).slice(0, 3)).toEqual(['failover', 'schemas', 'batch']);
    expect(names(events)).toEqual(expected(12));
    // The primary served its count and first page; the secondary everything after the switch, from the start.
    expect(primary.served).toEqual(['count', 'page ']);
    expect(secondary.served.slice(0, 3)).toEqual(['schemas', 'count', 'page ']);
    expect(events.at(-1)).toMatchObject({ kind: 'summary', failovers: 1, endpoint: 'SECONDARY', relations: 12 });
    const total = events.find((e) => e.kind === 'batch');
    expect(total?.kind === 'batch' && total.progress.total).toBe(12);
    expect(primary.openConnections + secondary.openConnections).toBe(0);
  });

  /**
   * A read gives its connections many statements at once (a MariaDB start: a SHOW per database),
   * each listening to the read's signal until it ends: not a leak, and no
   * MaxListenersExceededWarning on the daemon's stderr for it.
   */
  it('lets a read listen to its signal from many statements at once without a warning', async () => {
    const { connector } = setup(12);
    const listSchemas = connector.listSchemas.bind(connector);
    // Forty statements at once, each listening to the read's signal until it ends.
    connector.listSchemas = async (filter, readSignal, objects) => {
      const statements = Array.from({ length: 40 }, () => () => undefined);
      for (const s of statements) readSignal.addEventListener('abort', s);
      try {
        await new Promise((r) => setImmediate(r));
        return await listSchemas(filter, readSignal, objects);
      } finally {
        for (const s of statements) readSignal.removeEventListener('abort', s);
      }
    };
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const events = await collect(new DiscoveryEngine(tracer).run(connector, request({ strategy: 'AGGRESSIVE' }), signal()));
      expect(names(events)).toEqual(expected(12));
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  /** Without a secondary, a lost connection ends the run with the error (no failover to hide it). */
  /**
   * A connector that reads ahead itself (PostgreSQL) is told the page that comes next when the
   * strategy's sizes are fixed, and the engine reads no page ahead of its own then: the source
   * is still read at most one page ahead of what was sent. ADAPTIVE sizes each page after the
   * one before, so the engine reads ahead for it, naming nothing.
   */
  it('names the next page to a connector that reads ahead, and reads none ahead itself then', async () => {
    const firstBatchPulled = async (over: Partial<DiscoveryRequest>, readsAhead: boolean) => {
      const primary = new FakeServer('primary', tables(12));
      const connector = fakeConnector(new Map([['primary', primary]]), { readsAhead }).create(fakeSource(), fakeContext());
      const run = new DiscoveryEngine(tracer).run(connector, request(over), signal());
      for (;;) {
        const step = await run.next();
        if (step.done || step.value.kind === 'batch') break;
      }
      await new Promise((r) => setTimeout(r, 20)); // what the engine would read meanwhile
      const readsWhileFirstIsSent = primary.pageReads.length;
      const rest = await collect(run);
      return { primary, readsWhileFirstIsSent, rest };
    };
    const balanced = await firstBatchPulled({ strategy: 'BALANCED' }, true);
    expect(balanced.readsWhileFirstIsSent).toBe(1);
    expect(balanced.primary.pageNext).toEqual([{ limit: 5 }, { limit: 5 }, { limit: 5 }]);
    expect(names(balanced.rest)).toEqual(expected(12).slice(5));
    // a limit on the entities caps the page named next, and names none past it
    const capped = await firstBatchPulled({ strategy: 'AGGRESSIVE', batchSize: 0, maxEntities: 7 }, true);
    expect(capped.primary.pageNext).toEqual([undefined]);
    const cappedPinned = await firstBatchPulled({ strategy: 'AGGRESSIVE', batchSize: 5, maxEntities: 7 }, true);
    expect(cappedPinned.primary.pageNext).toEqual([{ limit: 2 }, undefined]);
    expect(names(cappedPinned.rest)).toEqual(expected(12).slice(5, 7));
    // without the capability, or under ADAPTIVE, the engine reads the next page while the first is sent
    const plain = await firstBatchPulled({ strategy: 'BALANCED' }, false);
    expect(plain.readsWhileFirstIsSent).toBe(2);
    expect(plain.primary.pageNext).toEqual([undefined, undefined, undefined]);
    const adaptive = await firstBatchPulled({ strategy: 'ADAPTIVE' }, true);
    expect(adaptive.readsWhileFirstIsSent).toBe(2);
    expect(adaptive.primary.pageNext.every((n) => n === undefined)).toBe(true);
  });

  it('ends the run when an ON_PREM source goes away', async () => {
    const { primary, connector } = setup(12);
    primary.beforePage = (index) => {
      if (index === 1) primary.up = false;
    };
    await expect(collect(new DiscoveryEngine(tracer).run(connector, request(), signal()))).rejects.toThrow();
    expect(primary.pageReads).toHaveLength(1);
  });
});

describe('PreviewEngine over a fake connector', () => {
  /** Header, rows and summary; the connector's credential column is masked and never read; more rows than the limit say truncated. */
  it('previews with masks and a limit', async () => {
    const primary = new FakeServer('primary', [
      {
        schema: 'app',
        name: 'users',
        columns: [
          { name: 'id', type: 'int' },
          { name: 'pw_hash', type: 'text' },
        ],
        rows: [1, 2, 3].map((i) => [
          { kind: 'integer', value: String(i) },
          { kind: 'text', value: `hash${i}` },
        ]),
      },
    ]);
    const connector = fakeConnector(new Map([['primary', primary]])).create(fakeSource(), fakeContext());
    const events = await collect(
      new PreviewEngine(tracer).run(connector, { table: { schema: 'app', name: 'users' }, columns: [], limit: 2, strategy: 'BALANCED' }, signal()),
    );
    expect(events[0]).toMatchObject({
      kind: 'header',
      columns: [
        { name: 'id', masked: false },
        { name: 'pw_hash', masked: true },
      ],
      endpoint: 'PRIMARY',
    });
    const rows = events.flatMap((e) => (e.kind === 'rows' ? e.rows : []));
    expect(rows).toEqual([
      [{ kind: 'integer', value: '1' }, { kind: 'masked' }],
      [{ kind: 'integer', value: '2' }, { kind: 'masked' }],
    ]);
    expect(events.at(-1)).toMatchObject({ kind: 'summary', rows: 2, truncated: true, limit: 2, maskedColumns: ['pw_hash'] });
    await connector.close();
  });

  /** A table the connector calls a system table is refused (PERMISSION_DENIED) before anything is opened. */
  it('refuses system tables', async () => {
    const primary = new FakeServer('primary', tables(1));
    const connector = fakeConnector(new Map([['primary', primary]])).create(fakeSource(), fakeContext());
    await expect(
      collect(new PreviewEngine(tracer).run(connector, { table: { schema: 'sys', name: 'x' }, columns: [], limit: 1, strategy: 'BALANCED' }, signal())),
    ).rejects.toMatchObject({
      reason: 'SYSTEM_TABLE_NOT_ALLOWED',
    });
    expect(primary.opened).toHaveLength(0);
  });

  /** A connector defined without `preview` cannot preview: PREVIEW_NOT_SUPPORTED, and its definition does not claim the capability. */
  it('says when a connector has no previewer', async () => {
    const bare = defineConnector<object>({
      type: 'bare',
      displayName: 'Bare',
      defaultPort: 1,
      sessions: { open: async () => ({}), close: async () => undefined, isConnectionError: () => false },
    });
    expect(bare.capabilities).toEqual([]);
    const connector = bare.create(fakeSource(), fakeContext());
    expect(connector.previewRows).toBeUndefined();
    const run = collect(new PreviewEngine(tracer).run(connector, { table: { schema: 'a', name: 'b' }, columns: [], limit: 1, strategy: 'BALANCED' }, signal()));
    await expect(run).rejects.toBeInstanceOf(SourcedError);
    await expect(run).rejects.toMatchObject({ reason: 'PREVIEW_NOT_SUPPORTED' });
    await expect(connector.listSchemas(EMPTY_FILTER as never, signal())).rejects.toMatchObject({ reason: 'DISCOVER_NOT_SUPPORTED' });
    expect(() =>
      defineConnector<object>({ type: 'half', displayName: 'Half', defaultPort: 1, sessions: bare as never, profile: { profileTable: async function* () {} } }),
    ).toThrow('connector half: profile needs preview too');
  });
});

describe('ProfileEngine over a fake connector', () => {
  /** The table's header, then each column in order; a masked column keeps its counts and loses its values. */
  it('profiles the table then each column, values of masked columns stripped', async () => {
    const primary = new FakeServer('primary', [
      {
        schema: 'app',
        name: 'users',
        columns: [
          { name: 'id', type: 'int' },
          { name: 'pw_hash', type: 'text' },
        ],
        rows: [
          [
            { kind: 'integer', value: '1' },
            { kind: 'text', value: 'a' },
          ],
          [{ kind: 'integer', value: '2' }, { kind: 'null' }],
        ],
      },
    ]);
    const connector = fakeConnector(new Map([['primary', primary]])).create(fakeSource(), fakeContext());
    const events: ProfileEvent[] = await collect(
      new ProfileEngine(tracer, { ...DEFAULT_PROFILE_SETTINGS, ...DEFAULT_PREVIEW_SETTINGS }).run(
        connector,
        { table: { schema: 'app', name: 'users' }, columns: [], mode: 'SAMPLE', sampleRows: 0, mostCommonLimit: 0, histogramBuckets: 0, strategy: 'BALANCED' },
        signal(),
      ),
    );
    const kinds = events.map((e) => e.kind);
    expect(kinds[0]).toBe('header');
    const columns = events.flatMap((e) => (e.kind === 'column' ? [e.column] : []));
    expect(columns.map((c) => c.name)).toEqual(['id', 'pw_hash']);
    expect(columns[0]).toMatchObject({ nullFraction: 0, distinctCount: 2, min: { kind: 'integer', value: '1' } });
    expect(columns[1]).toMatchObject({ nullFraction: 0.5, distinctCount: 2 });
    expect(columns[1]!.min).toBeUndefined();
    await connector.close();
    expect(primary.openConnections).toBe(0);
  });
});

describe('ValidationRunner over a fake connector', () => {
  /** HYBRID validates both endpoints in order; a failed check skips the ones that depend on it; the summary is not ok. */
  it('runs the plan per endpoint and skips what depends on a failure', async () => {
    const { secondary, connector } = setup(1, true);
    secondary.up = false;
    const events = await collect(new ValidationRunner(tracer).run(connector, { checkTimeoutMs: 1000 }, signal()));
    const finished = events.flatMap((e) => (e.kind === 'checkFinished' ? [`${e.endpoint} ${e.checkId} ${e.status}`] : []));
    expect(finished).toEqual(['PRIMARY reach PASSED', 'PRIMARY read PASSED', 'SECONDARY reach FAILED', 'SECONDARY read SKIPPED']);
    expect(events.filter((e) => e.kind === 'report').map((e) => e.kind === 'report' && [e.address, e.ok])).toEqual([
      ['primary:7000', true],
      ['secondary:7000', false],
    ]);
    expect(events.at(-1)).toMatchObject({ kind: 'summary', ok: false, endpoints: 2, connector: 'fake' });
  });
});
