import type { Document } from 'bson';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DiscoverDataSourceResponse } from '@sourced/api';
import { DiscoveryStrategy, type Collection, type DiscoveryFilter } from '@sourced/api';
import { METRICS, mongoFixture, TEST_USER, VISIBLE_COLLECTIONS } from './fixtures/mongodb/fixture';
import { startMongoStandIn, type MongoStandIn } from './harness/mongo/MongoStandIn';
import { mongoSource } from './harness/mongo/sources';
import { discoverCountingConnections, startTestDaemon, type TestDaemon } from './support/testDaemon';

const { CONSERVATIVE, AGGRESSIVE } = {
  CONSERVATIVE: DiscoveryStrategy.DISCOVERY_STRATEGY_CONSERVATIVE,
  AGGRESSIVE: DiscoveryStrategy.DISCOVERY_STRATEGY_AGGRESSIVE,
};

const filter = (f: Partial<DiscoveryFilter>): DiscoveryFilter => ({
  includeSchemas: [],
  excludeSchemas: [],
  includeTables: [],
  excludeTables: [],
  includeSystemSchemas: false,
  ...f,
});
const collections = (events: DiscoverDataSourceResponse[]): Collection[] =>
  events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.collections : []));
const names = (events: DiscoverDataSourceResponse[]) => collections(events).map((c) => `${c.database}.${c.name}`);

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

    // Each strategy's limit with every catalog command: shared by every connector, connectors.strategy.test.ts.

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

    /**
     * The count is names-only: listDatabases and listCollections with nameOnly. The schemas, the
     * count and the first page start at once, so their first commands come in any order.
     */
    it('counts with names-only commands', async () => {
      commands = [];
      await t.discover({ dataSource: source(), filter: filter({ includeSchemas: [METRICS] }) });
      const catalog = commands.filter((c) => ['listDatabases', 'listCollections', 'listIndexes', 'count', 'aggregate'].includes(c.name));
      const byText = (a: unknown[], b: unknown[]) => JSON.stringify(a).localeCompare(JSON.stringify(b));
      expect(
        catalog
          .slice(0, 4)
          .map((c) => [c.name, c.db, c.command.nameOnly])
          .sort(byText),
      ).toEqual(
        [
          ['listDatabases', 'admin', true], // the schemas
          ['listDatabases', 'admin', true], // the count: the databases, then the names of each one's collections
          ['listCollections', METRICS, true],
          ['listDatabases', 'admin', true], // the first page
        ].sort(byText),
      );
    });
  });

  describe('parallel reads', () => {
    const mongo = inject('mongodb');
    /** No database named: every database the user may list. */
    const everyDatabase = () => mongoSource(mongo, { primary: { host: mongo.host, port: mongo.port, database: '' } });

    // The progress total (every batch says how many collections the run sends, from the cursor
    // on when resuming) is shared by every connector: connectors.discover.test.ts.

    /** The same collections, read four at a time or one at a time. */
    it('gives the same collections with AGGRESSIVE as with CONSERVATIVE', async () => {
      const conservative = await t.discover({ dataSource: everyDatabase(), strategy: CONSERVATIVE, batchSize: 3 });
      const aggressive = await t.discover({ dataSource: everyDatabase(), strategy: AGGRESSIVE, batchSize: 3 });
      const comparable = (cs: Collection[]) =>
        mongo.standIn
          ? cs
          : cs.map((c) => ({ ...c, schema: c.schema && { ...c.schema, fields: [...c.schema.fields].sort((a, b) => (a.path < b.path ? -1 : 1)) } }));
      expect(comparable(collections(aggressive))).toEqual(comparable(collections(conservative)));
    });
  });
});
