/**
 * Scope of a MongoDB data source (issue 16, item 8): one that names a `database` is
 * discovered, previewed and profiled as that database only; one that names none covers every
 * database the user may list except admin, local and config. The expected catalogs come from
 * the server (the stand-in, through the official driver as the same user: listDatabases with
 * authorizedDatabases, listCollections), not from the connector.
 */
import { Metadata } from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DiscoverDataSourceResponse, PreviewTableRequest, ProfileTableRequest } from '@sourced/api';
import { ProfileMode } from '@sourced/api';
import { METRICS, SHOP } from './fixtures/mongodb/fixture';
import { mongoSource } from './harness/mongo/sources';
import { collect, expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

const SYSTEM = ['admin', 'local', 'config'];
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const schemaNames = (events: DiscoverDataSourceResponse[]) => events.flatMap((e) => (e.event?.$case === 'schemas' ? e.event.value.schemas.map((s) => s.name) : []));
const collectionNames = (events: DiscoverDataSourceResponse[]) =>
  events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.collections.map((c) => `${c.database}.${c.name}`) : []));

describe('MongoDB data source scope', () => {
  const mongo = inject('mongodb');
  let t: TestDaemon;
  let client: MongoClient;
  const source = (database: string) => mongoSource(mongo, { primary: { host: mongo.host, port: mongo.port, database } });
  /** The collections the user sees in `databases` (not system.*), in byte order, as the server lists them. */
  const collectionsIn = async (databases: string[]) => {
    const out: string[] = [];
    for (const db of databases) {
      for (const c of await client.db(db).listCollections({}, { nameOnly: true, authorizedCollections: true }).toArray()) if (!c.name.startsWith('system.')) out.push(`${db}.${c.name}`);
    }
    return out.sort((a, b) => byBytes(a.split('.')[0], b.split('.')[0]) || byBytes(a, b));
  };

  beforeAll(async () => {
    t = await startTestDaemon({ plugins: ['@sourced/plugin-mongodb'] });
    client = new MongoClient(`mongodb://${mongo.host}:${mongo.port}/?directConnection=true`, { auth: { username: mongo.user, password: mongo.password }, authSource: 'admin' });
    await client.connect();
  });
  afterAll(async () => {
    await client?.close();
    await t?.stop();
  });

  /** A data source naming the shop discovers the shop and nothing else. */
  it('discovers only the database a data source names', async () => {
    const expected = await collectionsIn([SHOP]);
    expect(expected.length).toBeGreaterThan(0);
    const events = await t.discover({ dataSource: source(SHOP) });
    expect(schemaNames(events)).toEqual([SHOP]);
    expect(collectionNames(events)).toEqual(expected);
  });

  /** With no database named: every database the user may list, but admin, local and config. */
  it('discovers every database the user may list but the system ones when none is named', async () => {
    const listed = (await client.db('admin').command({ listDatabases: 1, nameOnly: true, authorizedDatabases: true })).databases as { name: string }[];
    const expected = listed.map((d) => d.name).filter((n) => !SYSTEM.includes(n)).sort(byBytes);
    expect(expected.length).toBeGreaterThan(1);
    const events = await t.discover({ dataSource: source('') });
    expect(schemaNames(events)).toEqual(expected);
    expect(collectionNames(events)).toEqual(await collectionsIn(expected));
  });

  /** A preview or profile of a collection in another database is NOT_FOUND with a stable reason and a hint. */
  it('refuses to preview or profile a collection outside the named database', async () => {
    const [other] = await collectionsIn([METRICS]);
    const name = other.slice(METRICS.length + 1);
    const preview = (database: string): PreviewTableRequest => ({ dataSource: source(database), table: { schema: METRICS, name }, columns: [], limit: 2, strategy: 0 });
    const profile = (database: string): ProfileTableRequest => ({
      dataSource: source(database),
      table: { schema: METRICS, name },
      columns: [],
      mode: ProfileMode.PROFILE_MODE_STATISTICS,
      sampleRows: 0,
      mostCommonLimit: 0,
      histogramBuckets: 0,
      strategy: 0,
    });
    for (const call of [() => collect(t.dataSources.previewTable(preview(SHOP), new Metadata())), () => collect(t.dataSources.profileTable(profile(SHOP), new Metadata()))]) {
      const error = await expectFailure(call());
      expect(error.code).toBe(5);
      const status = richStatusOf(error);
      expect(status.errorInfo?.reason).toBe('TABLE_OUT_OF_SCOPE');
      expect(status.errorInfo?.metadata).toMatchObject({ database: SHOP, field: 'table.schema' });
      expect(status.errorInfo?.metadata.hint).toMatch(/data_source\.primary\.database/);
    }
    for (const database of [METRICS, '']) {
      expect((await collect(t.dataSources.previewTable(preview(database), new Metadata()))).at(-1)?.event?.$case).toBe('summary');
      expect((await collect(t.dataSources.profileTable(profile(database), new Metadata()))).at(-1)?.event?.$case).toBe('summary');
    }
  });
});
