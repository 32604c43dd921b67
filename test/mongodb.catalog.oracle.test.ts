/**
 * The whole MongoDB catalog against the server's own answer (issue 19): a database of the
 * suite's own, loaded through the driver (createCollection, createIndexes, insertMany), holds
 * a collection with a `$jsonSchema` validator (level and action set) and a default collation,
 * a capped collection, a time-series collection with a TTL, a clustered collection, a view, a
 * view over that view and a unicode, quoted name, with unique, sparse, TTL, partial, hidden,
 * collated, text (weights, language), 2dsphere and wildcard indexes. The test reads the same
 * catalog with its own listCollections, listIndexes and count through the driver, builds every
 * Collection message discovery should send, and compares them whole both ways; then checks
 * the server's normalisations it relies on against literal values (the stand-in answers as a
 * mongod 7.0 does; against a real server, set SOURCED_TEST_MONGODB_URL).
 */
import { randomBytes } from 'node:crypto';
import { EJSON, type Document } from 'bson';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Collection, CollectionIndex, CollectionKind, DataSource, type DiscoverDataSourceResponse } from '@sourced/api';
import { startMongoStandIn, type MongoStandIn } from './harness/mongo/MongoStandIn';
import { registerSecret } from './support/secretScan';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

const toJson = (value: unknown) => EJSON.stringify(value, { relaxed: true });
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe('MongoDB catalog against its own answer (oracle)', () => {
  const shared = inject('mongodb');
  const DB = `catalog_oracle_${randomBytes(4).toString('hex')}`;
  let standIn: MongoStandIn | undefined;
  let url: string;
  let client: MongoClient;
  let t: TestDaemon;
  let events: DiscoverDataSourceResponse[];
  let source: DataSource;

  beforeAll(async () => {
    if (shared.standIn) {
      const password = `Pa55-${randomBytes(9).toString('base64url')}`;
      registerSecret('catalog oracle root password', password);
      standIn = await startMongoStandIn({
        dataset: { databases: [], roles: [], users: [{ user: 'oracle_root', db: 'admin', password, roles: [{ role: 'root', db: 'admin' }] }] },
      });
      url = `mongodb://oracle_root:${encodeURIComponent(password)}@${standIn.host}:${standIn.port}/?authSource=admin&directConnection=true`;
      source = DataSource.fromPartial({
        id: 'test-mongo-oracle',
        type: 'mongodb',
        primary: { host: standIn.host, port: standIn.port, database: DB },
        credentials: { username: 'oracle_root', password: { source: { $case: 'inlineValue', value: password } } },
      });
    } else {
      url = shared.url;
      const u = new URL(shared.url);
      source = DataSource.fromPartial({
        id: 'test-mongo-oracle',
        type: 'mongodb',
        primary: { host: shared.host, port: shared.port, database: DB },
        credentials: { username: decodeURIComponent(u.username), password: { source: { $case: 'inlineValue', value: decodeURIComponent(u.password) } } },
      });
    }
    client = new MongoClient(url, { serverSelectionTimeoutMS: 10_000 });
    await load(client.db(DB));
    t = await startTestDaemon({ plugins: ['@sourced/plugin-mongodb'] });
    events = await t.discover({ dataSource: source });
  });
  afterAll(async () => {
    await t?.stop();
    await client?.db(DB).dropDatabase();
    await client?.close();
    await standIn?.stop();
  });

  const discovered = () => events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.collections : []));

  /** Every collection with every field (the inferred schema aside: mongodb.discover covers it) as listCollections, listIndexes and count say. */
  it('sends every collection exactly as listCollections, listIndexes and count describe it', async () => {
    const db = client.db(DB);
    const infos = (await db.listCollections({}, { nameOnly: false }).toArray()) as Document[];
    infos.sort((a, b) => byBytes(String(a.name), String(b.name)));
    const expected: Collection[] = [];
    for (const info of infos) {
      const options = (info.options ?? {}) as Document;
      const type = String(info.type);
      const isView = type === 'view';
      const indexes = isView ? [] : ((await db.collection(String(info.name)).listIndexes().toArray()) as Document[]);
      const count = isView ? -1 : Number((await db.command({ count: info.name })).n);
      expected.push(
        Collection.fromPartial({
          database: DB,
          name: String(info.name),
          kind:
            type === 'view'
              ? CollectionKind.COLLECTION_KIND_VIEW
              : type === 'timeseries'
                ? CollectionKind.COLLECTION_KIND_TIMESERIES
                : CollectionKind.COLLECTION_KIND_COLLECTION,
          viewOn: isView ? String(options.viewOn) : '',
          pipeline: isView ? toJson(options.pipeline) : '',
          timeseries: type === 'timeseries' ? toJson(options.timeseries) : '',
          indexes: indexes.map((i) => {
            const { key, name, v: _v, ns: _ns, ...rest } = i;
            return CollectionIndex.fromPartial({
              name: String(name),
              keys: toJson(key),
              unique: rest.unique === true,
              sparse: rest.sparse === true,
              expireAfterSeconds: rest.expireAfterSeconds === undefined ? 0 : Number(rest.expireAfterSeconds),
              partialFilter: rest.partialFilterExpression ? toJson(rest.partialFilterExpression) : '',
              hidden: rest.hidden === true,
              weights: rest.weights ? toJson(rest.weights) : '',
              defaultLanguage: typeof rest.default_language === 'string' ? rest.default_language : '',
              languageOverride: typeof rest.language_override === 'string' ? rest.language_override : '',
              textIndexVersion: Number(rest.textIndexVersion ?? 0),
              wildcardProjection: rest.wildcardProjection ? toJson(rest.wildcardProjection) : '',
              sphereIndexVersion: Number(rest['2dsphereIndexVersion'] ?? 0),
              collation: rest.collation ? toJson(rest.collation) : '',
              options: toJson(rest),
            });
          }),
          estimatedDocuments: count,
          capped: options.capped === true,
          validator: options.validator ? toJson(options.validator) : '',
          validationLevel: typeof options.validationLevel === 'string' ? options.validationLevel : '',
          validationAction: typeof options.validationAction === 'string' ? options.validationAction : '',
          clustered: options.clusteredIndex !== undefined,
          options: toJson(options),
        }),
      );
    }
    const got = discovered().map(({ schema: _schema, ...c }) => ({ ...c, schema: undefined }));
    expect(got).toEqual(expected.map((c) => ({ ...c, schema: undefined })));
    expect(expected.map((c) => c.name)).toEqual(['adult_names', 'adults', 'events', 'orders', 'people', 'plain ü "quoted"', 'readings']);
    // Collections and views were sampled for their schema.
    expect(discovered().filter((c) => c.schema === undefined)).toEqual([]);
  });

  /** What the comparison relies on, as literal values: the validator and its settings, each kind of index option, the collection options. */
  it('carries validators, index options and collection options as the server normalises them', () => {
    const c = (name: string) => {
      const found = discovered().find((x) => x.name === name);
      if (!found) throw new Error(`${name} was not discovered`);
      return found;
    };
    const index = (collection: string, name: string) => c(collection).indexes.find((i) => i.name === name);
    const people = c('people');
    expect(JSON.parse(people.validator)).toEqual(VALIDATOR);
    expect([people.validationLevel, people.validationAction]).toEqual(['moderate', 'warn']);
    expect(JSON.parse(people.options)).toMatchObject({ collation: { locale: 'fr', strength: 2 } });
    expect(index('people', 'email_1')).toMatchObject({ unique: true, sparse: true });
    expect(index('people', 'created_1')).toMatchObject({ expireAfterSeconds: 3600 });
    expect(JSON.parse(index('people', 'age_1')?.partialFilter ?? '')).toEqual({ age: { $gt: 0 } });
    expect(index('people', 'nick_1')).toMatchObject({ hidden: true });
    expect(JSON.parse(index('people', 'name_de')?.collation ?? '')).toMatchObject({ locale: 'de', strength: 1 });
    // An index without a collation of its own takes the collection's.
    expect(JSON.parse(index('people', 'email_1')?.collation ?? '')).toMatchObject({ locale: 'fr', strength: 2 });
    expect(index('people', 'bio_text_title_text')).toMatchObject({
      keys: '{"_fts":"text","_ftsx":1}',
      weights: '{"bio":1,"title":10}',
      defaultLanguage: 'german',
      languageOverride: 'language',
      textIndexVersion: 3,
    });
    expect(index('people', 'loc_2dsphere')).toMatchObject({ sphereIndexVersion: 3 });
    expect(JSON.parse(index('people', '$**_1')?.wildcardProjection ?? '')).toEqual({ secret: 0 });
    expect(JSON.parse(c('events').options)).toMatchObject({ capped: true, size: 100000, max: 500 });
    expect(c('events').capped).toBe(true);
    expect(JSON.parse(c('readings').timeseries)).toEqual({ timeField: 'ts', metaField: 'sensor', granularity: 'minutes', bucketMaxSpanSeconds: 86400 });
    expect(JSON.parse(c('readings').options)).toMatchObject({ expireAfterSeconds: 86400 });
    expect(c('orders')).toMatchObject({ clustered: true });
    expect(c('orders').indexes.map((i) => [i.name, i.unique, JSON.parse(i.options)])).toEqual([['_id_', true, { unique: true, clustered: true }]]);
    expect(c('adult_names')).toMatchObject({ kind: CollectionKind.COLLECTION_KIND_VIEW, viewOn: 'adults', indexes: [] });
    expect(JSON.parse(c('adults').pipeline)).toEqual([{ $match: { age: { $gte: 18 } } }, { $project: { name: 1, age: 1 } }]);
  });
});

const VALIDATOR = {
  $jsonSchema: {
    bsonType: 'object',
    required: ['name'],
    properties: { name: { bsonType: 'string' }, age: { bsonType: 'int', minimum: 0 } },
  },
};

/** The fixture, through the driver as an application would create it. */
async function load(db: ReturnType<MongoClient['db']>): Promise<void> {
  await db.createCollection('people', {
    validator: VALIDATOR,
    validationLevel: 'moderate',
    validationAction: 'warn',
    collation: { locale: 'fr', strength: 2 },
  });
  await db
    .collection('people')
    .createIndexes([
      { key: { email: 1 }, unique: true, sparse: true },
      { key: { created: 1 }, expireAfterSeconds: 3600 },
      { key: { age: 1 }, partialFilterExpression: { age: { $gt: 0 } } },
      { key: { nick: 1 }, hidden: true },
      { key: { name: 1 }, name: 'name_de', collation: { locale: 'de', strength: 1 } },
      { key: { bio: 'text', title: 'text' }, weights: { title: 10 }, default_language: 'german' },
      { key: { loc: '2dsphere' } },
      { key: { '$**': 1 }, wildcardProjection: { secret: 0 } },
    ]);
  await db.collection('people').insertMany([
    { name: 'Ada', age: 36, email: 'ada@example.org', created: new Date('2024-01-01T00:00:00Z'), loc: { type: 'Point', coordinates: [4.9, 52.4] } },
    { name: 'Bo', age: 12, nick: 'b', bio: 'young' },
  ]);
  await db.createCollection('events', { capped: true, size: 100_000, max: 500 });
  await db.collection('events').insertOne({ at: new Date('2024-01-02T00:00:00Z'), kind: 'start' });
  await db.createCollection('readings', { timeseries: { timeField: 'ts', metaField: 'sensor', granularity: 'minutes' }, expireAfterSeconds: 86400 });
  await db.collection('readings').createIndex({ sensor: 1, ts: -1 });
  await db.collection('readings').insertOne({ ts: new Date('2024-01-03T00:00:00Z'), sensor: 's1', value: 1.5 });
  await db.createCollection('orders', { clusteredIndex: { key: { _id: 1 }, unique: true } });
  await db.collection('orders').insertOne({ _id: 1 as never, total: 10 });
  await db.createCollection('adults', { viewOn: 'people', pipeline: [{ $match: { age: { $gte: 18 } } }, { $project: { name: 1, age: 1 } }] });
  await db.createCollection('adult_names', { viewOn: 'adults', pipeline: [{ $project: { _id: 0, name: 1 } }] });
  await db.createCollection('plain ü "quoted"');
  await db.collection('plain ü "quoted"').insertOne({ x: 1 });
}
