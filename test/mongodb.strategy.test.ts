import type { Document } from 'bson';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DiscoverDataSourceResponse } from '@sourced/api';
import { DiscoveryStrategy, type Collection, type DiscoveryFilter, type DiscoveryProgress } from '@sourced/api';
import { HR, METRICS, mongoFixture, SHOP, TEST_USER, VISIBLE_COLLECTIONS } from './fixtures/mongodb/fixture';
import { startMongoStandIn, type MongoStandIn } from './harness/mongo/MongoStandIn';
import { mongoSource } from './harness/mongo/sources';
import { discoverCountingConnections, startTestDaemon, type TestDaemon } from './support/testDaemon';

const { CONSERVATIVE, BALANCED, AGGRESSIVE } = {
  CONSERVATIVE: DiscoveryStrategy.DISCOVERY_STRATEGY_CONSERVATIVE,
  BALANCED: DiscoveryStrategy.DISCOVERY_STRATEGY_BALANCED,
  AGGRESSIVE: DiscoveryStrategy.DISCOVERY_STRATEGY_AGGRESSIVE,
};

const filter = (f: Partial<DiscoveryFilter>): DiscoveryFilter => ({ includeSchemas: [], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false, ...f });
const collections = (events: DiscoverDataSourceResponse[]): Collection[] => events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.collections : []));
const names = (events: DiscoverDataSourceResponse[]) => collections(events).map((c) => `${c.database}.${c.name}`);
const progress = (events: DiscoverDataSourceResponse[]): DiscoveryProgress[] =>
  events.flatMap((e) => (e.event?.$case === 'batch' && e.event.value.progress ? [e.event.value.progress] : []));

describe('MongoDB discovery strategies', () => {
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon({ plugins: ['@sourced/plugin-mongodb'] });
  });
  afterAll(() => t.stop());

  const discoverCounting = (request: Parameters<TestDaemon['discover']>[0]) => discoverCountingConnections(t, request);

  describe('the statement time limit reaches the server as maxTimeMS', () => {
    // A stand-in of its own, which shows every command the daemon sends.
    const password = 'Pa55-strategy-test';
    let server: MongoStandIn;
    let commands: { name: string; db: string; maxTimeMS: unknown; command: Document }[] = [];
    beforeAll(async () => {
      server = await startMongoStandIn({
        dataset: mongoFixture({ test: password, shop: 'Pa55-shop', admin: 'Pa55-admin' }),
        onCommand: (command, db, appName) => {
          if (appName === 'sourced') commands.push({ name: Object.keys(command)[0] ?? '', db, maxTimeMS: command.maxTimeMS, command });
        },
      });
    });
    afterAll(() => server?.stop());
    const source = () => mongoSource({ host: server.host, port: server.port, user: TEST_USER, password, database: '' } as Parameters<typeof mongoSource>[0]); // every database the user may list
    /** maxTimeMS of the catalog commands, by command name; the sampling aggregates apart. */
    const limits = () => {
      const catalog = new Map<string, Set<unknown>>();
      const samples = new Set<unknown>();
      for (const c of commands) {
        if (c.name === 'aggregate') samples.add(c.maxTimeMS);
        else if (['listDatabases', 'listCollections', 'listIndexes', 'count'].includes(c.name)) {
          const seen = catalog.get(c.name) ?? new Set();
          seen.add(c.maxTimeMS);
          catalog.set(c.name, seen);
        }
      }
      return { catalog: Object.fromEntries([...catalog].map(([k, v]) => [k, [...v]])), samples: [...samples] };
    };

    it.each([
      // CONSERVATIVE's 5 s also caps the default 10 s of sampling
      ['CONSERVATIVE', CONSERVATIVE, 5_000, 5_000],
      ['BALANCED', BALANCED, 30_000, 10_000],
      ['AGGRESSIVE', AGGRESSIVE, 60_000, 10_000],
    ] as const)('%s sends its limit with every catalog command', async (_name, strategy, statement, sampling) => {
      commands = [];
      const events = await t.discover({ dataSource: source(), strategy, batchSize: 4 });
      expect(names(events)).toEqual(VISIBLE_COLLECTIONS);
      const seen = limits();
      expect(seen.catalog).toEqual({ listDatabases: [statement], listCollections: [statement], listIndexes: [statement], count: [statement] });
      expect(seen.samples).toEqual([sampling]);
    });

    it('keeps a smaller sampling limit, and caps a larger one at the statement limit', async () => {
      commands = [];
      await t.discover({ dataSource: source(), strategy: CONSERVATIVE, sampling: { sampleSize: 0, maxTimeMs: 1_234, maxFields: 0 } });
      expect(limits().samples).toEqual([1_234]);
      commands = [];
      await t.discover({ dataSource: source(), strategy: CONSERVATIVE, sampling: { sampleSize: 0, maxTimeMs: 20_000, maxFields: 0 } });
      expect(limits().samples).toEqual([5_000]);
    });

    it('leaves validation commands without one', async () => {
      commands = [];
      await t.validate({ dataSource: source() });
      expect(commands.length).toBeGreaterThan(0);
      expect(commands.filter((c) => c.maxTimeMS !== undefined)).toEqual([]);
    });

    /** Parallel reads come from the one client's pool: no further clients for AGGRESSIVE. */
    it('opens one client whatever the strategy', async () => {
      for (const strategy of [CONSERVATIVE, AGGRESSIVE]) {
        const { events, connections } = await discoverCounting({ dataSource: source(), strategy });
        expect(names(events)).toEqual(VISIBLE_COLLECTIONS);
        expect(connections).toBe(1);
      }
    });

    /** The count is names-only: listDatabases and listCollections with nameOnly, before the first page. */
    it('counts with names-only commands', async () => {
      commands = [];
      await t.discover({ dataSource: source(), filter: filter({ includeSchemas: [METRICS] }) });
      const catalog = commands.filter((c) => ['listDatabases', 'listCollections', 'listIndexes', 'count', 'aggregate'].includes(c.name));
      expect(catalog.slice(0, 4).map((c) => [c.name, c.db, c.command.nameOnly])).toEqual([
        ['listDatabases', 'admin', true], // the schemas
        ['listDatabases', 'admin', true], // the count: the databases, then the names of each one's collections
        ['listCollections', METRICS, true],
        ['listDatabases', 'admin', true], // the first page
      ]);
    });
  });

  describe('progress total', () => {
    const mongo = inject('mongodb');
    /** No database named: every database the user may list. */
    const everyDatabase = () => mongoSource(mongo, { primary: { host: mongo.host, port: mongo.port, database: '' } });

    /** Every batch reports how many collections the run sends in all. */
    it.each([
      ['one batch', {}, VISIBLE_COLLECTIONS.length],
      ['batches of 2', { batchSize: 2 }, VISIBLE_COLLECTIONS.length],
      ['AGGRESSIVE', { strategy: AGGRESSIVE }, VISIBLE_COLLECTIONS.length],
      ['a database filter', { filter: filter({ includeSchemas: ['sourced_m*'] }) }, VISIBLE_COLLECTIONS.filter((n) => n.startsWith(`${METRICS}.`)).length],
      ['a collection filter', { filter: filter({ includeTables: [`${SHOP}.*orders`], excludeSchemas: [HR] }) }, 2],
      ['max_entities', { batchSize: 2, maxEntities: 3 }, 3],
    ] as const)('equals the collections sent, with %s', async (_name, request, expected) => {
      const events = await t.discover({ dataSource: everyDatabase(), ...request });
      expect(collections(events)).toHaveLength(expected);
      const p = progress(events);
      expect(p.length).toBeGreaterThan(0);
      expect(p.map((x) => x.total)).toEqual(p.map(() => expected));
      expect(p.at(-1)?.collections).toBe(expected);
    });

    it('counts from the cursor on when resuming', async () => {
      const first = await t.discover({ dataSource: everyDatabase(), batchSize: 4 });
      const batches = first.flatMap((e) => (e.event?.$case === 'batch' ? [e.event.value] : []));
      // the cursor sits inside sourced_shop: the count starts within that database
      const rest = await t.discover({ dataSource: everyDatabase(), batchSize: 4, resumeAfter: batches[0].cursor });
      expect(names(rest)).toEqual(VISIBLE_COLLECTIONS.slice(4));
      expect(progress(rest).map((x) => x.total)).toEqual(progress(rest).map(() => VISIBLE_COLLECTIONS.length - 4));
    });

    /** The same collections, read four at a time or one at a time. */
    it('gives the same collections with AGGRESSIVE as with CONSERVATIVE', async () => {
      const conservative = await t.discover({ dataSource: everyDatabase(), strategy: CONSERVATIVE, batchSize: 3 });
      const aggressive = await t.discover({ dataSource: everyDatabase(), strategy: AGGRESSIVE, batchSize: 3 });
      const comparable = (cs: Collection[]) =>
        mongo.standIn ? cs : cs.map((c) => ({ ...c, schema: c.schema && { ...c.schema, fields: [...c.schema.fields].sort((a, b) => (a.path < b.path ? -1 : 1)) } }));
      expect(comparable(collections(aggressive))).toEqual(comparable(collections(conservative)));
    });
  });
});
