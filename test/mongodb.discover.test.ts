import { EJSON, type Document } from 'bson';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DiscoverDataSourceResponse } from '@sourced/api';
import { CollectionKind, DiscoveryStrategy, type Collection, type DiscoveryFilter, type InferredField } from '@sourced/api';
import { HOLD_SAMPLE_SIZE, METRICS, mongoFixture, SHOP, VISIBLE_COLLECTIONS } from './fixtures/mongodb/fixture';
import type { CollectionSpec, IndexSpec } from './harness/mongo/dataset';
import { runPipeline } from './harness/mongo/pipeline';
import { mongoSource, peakSamplingOps } from './harness/mongo/sources';
import { freePort } from './harness/ports';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

// What every connector's discovery shares (batches of 2 with cursors, resuming after a cursor, the
// trace, freeing connections on cancel) runs in connectors.discover.test.ts.

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
const byName = (events: DiscoverDataSourceResponse[], qualified: string): Collection => {
  const c = collections(events).find((x) => `${x.database}.${x.name}` === qualified);
  if (!c) throw new Error(`${qualified} was not discovered`);
  return c;
};
const field = (c: Collection, path: string): InferredField => {
  const f = c.schema?.fields.find((x) => x.path === path);
  if (!f) throw new Error(`${c.name} has no inferred field ${path}`);
  return f;
};

// The fixture as data (passwords play no part in what is discovered).
const FIXTURE = mongoFixture({ test: '', shop: '', admin: '' });
const spec = (qualified: string): CollectionSpec => {
  const [db, name] = [qualified.slice(0, qualified.indexOf('.')), qualified.slice(qualified.indexOf('.') + 1)];
  const c = FIXTURE.databases.find((d) => d.name === db)?.collections.find((x) => x.name === name);
  if (!c) throw new Error(`${qualified} is not in the fixture`);
  return c;
};
/** The documents a collection holds, or a view yields (its pipeline run over its source). */
const documentsOf = (qualified: string): Document[] => {
  const c = spec(qualified);
  if (c.type !== 'view') return c.documents ?? [];
  const db = qualified.slice(0, qualified.indexOf('.'));
  return runPipeline(documentsOf(`${db}.${String(c.options?.viewOn)}`), (c.options?.pipeline as Document[]) ?? [], qualified);
};

/** The test's own oracle: MongoDB's $type name of a fixture value. */
function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  const tag = (v as { _bsontype?: string })._bsontype;
  const tags: Record<string, string> = {
    Int32: 'int',
    Double: 'double',
    Long: 'long',
    Decimal128: 'decimal',
    ObjectId: 'objectId',
    Binary: 'binData',
    Timestamp: 'timestamp',
    BSONRegExp: 'regex',
  };
  if (tag) return tags[tag] ?? `unexpected ${tag}`;
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'object') return 'object';
  return `unexpected ${typeof v}`;
}

/** Paths, documents holding each and values of each type, straight from the fixture documents. */
function expectedFields(docs: Document[]): Map<string, { documents: number; types: Record<string, number> }> {
  const out = new Map<string, { documents: number; types: Record<string, number>; last: number }>();
  const visit = (path: string, value: unknown, doc: number) => {
    const f = out.get(path) ?? { documents: 0, types: {}, last: -1 };
    out.set(path, f);
    if (f.last !== doc) {
      f.last = doc;
      f.documents++;
    }
    const type = typeName(value);
    f.types[type] = (f.types[type] ?? 0) + 1;
    if (type === 'array') for (const element of value as unknown[]) visit(`${path}[]`, element, doc);
    if (type === 'object') for (const [k, x] of Object.entries(value as Document)) visit(`${path}.${k}`, x, doc);
  };
  docs.forEach((d, i) => Object.entries(d).forEach(([k, v]) => visit(k, v, i)));
  return new Map([...out].map(([p, { documents, types }]) => [p, { documents, types }]));
}

describe('MongoDB discovery', () => {
  const mongo = inject('mongodb');
  /** The harness's data source with no database named: every database the user may list (one that names a database is scoped to it, see connectors.scope.test.ts). */
  const everyDatabase = () => mongoSource(mongo, { primary: { host: mongo.host, port: mongo.port, database: '' } });
  let t: TestDaemon;
  let full: DiscoverDataSourceResponse[];
  beforeAll(async () => {
    t = await startTestDaemon({ plugins: ['@sourced/plugin-mongodb'] });
    full = await t.discover({ dataSource: everyDatabase() });
  });
  afterAll(() => t.stop());

  /** Databases the user may list come first, then every collection it may see in (database, name) byte order, then a summary. */
  it('streams databases, then every visible collection in order, then a summary', () => {
    expect(full.map((e) => e.sequence)).toEqual(full.map((_e, i) => i + 1));
    const first = full[0].event;
    expect(first?.$case).toBe('schemas');
    if (first?.$case === 'schemas')
      expect(first.value.schemas.map((s) => [s.name, s.usable])).toEqual([
        ['sourced_hr', true],
        ['sourced_metrics', true],
        ['sourced_shop', true],
      ]);
    expect(names(full)).toEqual(VISIBLE_COLLECTIONS);
    expect(full.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.relations : []))).toEqual([]);
    const last = full.at(-1)?.event;
    expect(last?.$case).toBe('summary');
    if (last?.$case === 'summary') expect(last.value).toMatchObject({ schemas: 3, collections: 9, relations: 0, failovers: 0 });
  });

  /** Each collection matches the fixture: kind, view definition, time-series options, capped, estimated count and indexes. */
  it.each(VISIBLE_COLLECTIONS)('describes %s as the fixture defines it', (qualified) => {
    const c = byName(full, qualified);
    const s = spec(qualified);
    const kind = {
      collection: CollectionKind.COLLECTION_KIND_COLLECTION,
      view: CollectionKind.COLLECTION_KIND_VIEW,
      timeseries: CollectionKind.COLLECTION_KIND_TIMESERIES,
    }[s.type];
    expect(c.kind).toBe(kind);
    expect(c.viewOn).toBe(s.type === 'view' ? s.options?.viewOn : '');
    expect(c.pipeline === '' ? undefined : JSON.parse(c.pipeline)).toEqual(s.type === 'view' ? s.options?.pipeline : undefined);
    if (s.type === 'timeseries') expect(JSON.parse(c.timeseries)).toMatchObject(s.options?.timeseries as object);
    else expect(c.timeseries).toBe('');
    expect(c.capped).toBe(s.options?.capped === true);
    expect(c.estimatedDocuments).toBe(s.type === 'view' ? -1 : documentsOf(qualified).length);
    const indexes = [...(s.type === 'collection' ? [{ name: '_id_', key: { _id: 1 } }] : []), ...(s.indexes ?? [])];
    const sorted = <T extends { name: string }>(xs: T[]) => [...xs].sort((a, b) => (a.name < b.name ? -1 : 1));
    expect(
      sorted(c.indexes).map((i) => ({
        ...i,
        keys: JSON.parse(i.keys),
        partialFilter: i.partialFilter ? JSON.parse(i.partialFilter) : undefined,
        options: JSON.parse(i.options) as unknown,
      })),
    ).toEqual(
      sorted(indexes).map(({ name, key, ...options }: IndexSpec) => ({
        name,
        keys: key,
        unique: options.unique ?? false,
        sparse: options.sparse ?? false,
        expireAfterSeconds: options.expireAfterSeconds ?? 0,
        partialFilter: options.partialFilterExpression,
        hidden: options.hidden ?? false,
        // The fixture has no text, wildcard, 2dsphere or collated index (mongodb.catalog.oracle.test.ts has).
        weights: '',
        defaultLanguage: '',
        languageOverride: '',
        textIndexVersion: 0,
        wildcardProjection: '',
        sphereIndexVersion: 0,
        collation: '',
        // Every option as listIndexes gives it: all but the name and key.
        options: JSON.parse(EJSON.stringify(options, { relaxed: true })) as unknown,
      })),
    );
  });

  /** Schema inference of every collection equals what the fixture holds: paths, documents, frequencies and type counts. */
  it.each(VISIBLE_COLLECTIONS)('infers the schema of %s from all its documents', (qualified) => {
    const c = byName(full, qualified);
    const docs = documentsOf(qualified);
    const expected = expectedFields(docs);
    expect(c.schema?.sampledDocuments).toBe(docs.length);
    expect(c.schema?.truncated).toBe(false);
    const fields = c.schema?.fields ?? [];
    expect(fields.map((f) => f.path).sort()).toEqual([...expected.keys()].sort());
    for (const f of fields) {
      const e = expected.get(f.path)!;
      expect({ path: f.path, documents: f.documents, frequency: f.frequency, types: Object.fromEntries(f.types.map((x) => [x.type, x.count])) }).toEqual({
        path: f.path,
        documents: e.documents,
        frequency: e.documents / docs.length,
        types: e.types,
      });
      // most frequent type first
      expect(f.types.map((x) => x.count)).toEqual([...f.types.map((x) => x.count)].sort((a, b) => b - a));
    }
    // a parent path always comes before its children
    const seen = new Set<string>();
    for (const f of fields) {
      const parent = f.path.replace(/(\[\]|\.[^.[\]]+)$/, '');
      if (parent !== f.path) expect(seen.has(parent), `${f.path} before ${parent}`).toBe(true);
      seen.add(f.path);
    }
  });

  /** Nested fields, array elements, mixed types and rare fields are reported with their exact frequencies. */
  it('reports nested fields, array elements, mixed types and rare fields', () => {
    const customers = byName(full, `${SHOP}.customers`);
    const docs = documentsOf(`${SHOP}.customers`);
    const count = (p: (d: Document) => boolean) => docs.filter(p).length;
    // nested documents
    expect(field(customers, 'address.geo.lat')).toMatchObject({
      documents: count((d) => d.address !== undefined),
      types: [{ type: 'double', count: count((d) => d.address !== undefined) }],
    });
    // mixed types, most frequent first
    const ints = count((d) => d.score._bsontype === 'Int32');
    expect(field(customers, 'score').types).toEqual([
      { type: 'int', count: ints },
      { type: 'double', count: docs.length - ints },
    ]);
    expect(field(customers, 'phone').types.map((x) => x.type)).toEqual(['string', 'null']);
    // array elements: each value counts, each document once
    const tags = docs.flatMap((d) => d.tags as string[]);
    expect(field(customers, 'tags[]')).toMatchObject({ documents: count((d) => d.tags.length > 0), types: [{ type: 'string', count: tags.length }] });
    expect(field(customers, 'history[][]').types).toEqual([{ type: 'int', count: docs.flatMap((d) => (d.history ?? []).flat()).length }]);
    // rare fields: a few percent of the documents
    for (const [path, key] of [
      ['loyalty.points', 'loyalty'],
      ['notes', 'notes'],
      ['history', 'history'],
    ] as const) {
      const f = field(customers, path);
      expect(f.frequency).toBe(count((d) => d[key] !== undefined) / docs.length);
      expect(f.frequency).toBeLessThan(0.05);
      expect(f.frequency).toBeGreaterThan(0);
    }
    expect(field(customers, 'loyalty.points').types).toEqual([{ type: 'long', count: 5 }]);

    const orders = byName(full, `${SHOP}.orders`);
    expect(field(orders, 'items[].price').types).toEqual([{ type: 'decimal', count: documentsOf(`${SHOP}.orders`).flatMap((d) => d.items).length }]);
    expect(field(orders, 'items[].discount').frequency).toBeLessThan(0.1);
    expect(field(orders, 'receipt').types).toEqual([{ type: 'binData', count: 30 }]);

    const events = byName(full, `${METRICS}.events`);
    expect(field(events, 'payload').types).toEqual([
      { type: 'array', count: 10 },
      { type: 'null', count: 10 },
      { type: 'object', count: 10 },
      { type: 'string', count: 10 },
    ]);
    expect(field(events, 'payload[]')).toMatchObject({ documents: 10, types: [{ type: 'int', count: 20 }] });
    expect(field(byName(full, `${SHOP}.audit_log`), 'at').types).toEqual([{ type: 'timestamp', count: 20 }]);
    expect(field(byName(full, `${SHOP}.audit_log`), 'pattern').types).toEqual([{ type: 'regex', count: 4 }]);
  });

  /** A smaller sample gives frequencies over the sampled documents; the field cap truncates and says so. */
  it('honours sample size and field cap', async () => {
    const events = await t.discover({
      dataSource: everyDatabase(),
      filter: filter({ includeTables: [`${SHOP}.customers`] }),
      sampling: { sampleSize: 50, maxTimeMs: 0, maxFields: 0 },
    });
    const customers = byName(events, `${SHOP}.customers`);
    expect(customers.schema?.sampledDocuments).toBe(50);
    expect(field(customers, '_id')).toMatchObject({ documents: 50, frequency: 1 });
    for (const f of customers.schema?.fields ?? []) expect(f.frequency).toBe(f.documents / 50);

    const capped = await t.discover({
      dataSource: everyDatabase(),
      filter: filter({ includeTables: [`${SHOP}.customers`] }),
      sampling: { sampleSize: 0, maxTimeMs: 0, maxFields: 5 },
    });
    const schema = byName(capped, `${SHOP}.customers`).schema;
    expect(schema?.fields).toHaveLength(5);
    expect(schema?.truncated).toBe(true);
    expect(schema?.sampledDocuments).toBe(200);
  });

  /** A sample larger than the maximum is bad input naming sampling.sample_size, before anything connects. */
  it('rejects a sample size over the maximum', async () => {
    const status = richStatusOf(
      await expectFailure(t.discover({ dataSource: everyDatabase(), sampling: { sampleSize: 1_000_000, maxTimeMs: 0, maxFields: 0 } })),
    );
    expect(status.grpcCode).toBe(3);
    expect(status.badRequest).toEqual([
      { field: 'sampling.sample_size', description: "1000000 is more than this daemon's maximum of 100000 (limits.maxSampleSize)" },
    ]);
  });

  /** Database and collection globs filter the stream, databases too. */
  it('filters by database and collection patterns', async () => {
    const metrics = await t.discover({ dataSource: everyDatabase(), filter: filter({ includeSchemas: ['sourced_m*'] }) });
    expect(names(metrics)).toEqual(VISIBLE_COLLECTIONS.filter((n) => n.startsWith(`${METRICS}.`)));
    expect(metrics[0].event?.$case === 'schemas' ? metrics[0].event.value.schemas.map((s) => s.name) : []).toEqual([METRICS]);

    const some = await t.discover({ dataSource: everyDatabase(), filter: filter({ excludeTables: ['*.s*', 'audit_log'], excludeSchemas: ['sourced_hr'] }) });
    expect(names(some)).toEqual(VISIBLE_COLLECTIONS.filter((n) => !n.startsWith('sourced_hr.') && !/\.s|audit_log/.test(n)));

    const orders = await t.discover({ dataSource: everyDatabase(), filter: filter({ includeTables: [`${SHOP}.*orders`] }) });
    expect(names(orders)).toEqual([`${SHOP}.orders`, `${SHOP}.paid_orders`]);
  });

  /** A sample that exceeds max_time_ms leaves its collection without a schema; the run goes on. */
  it.skipIf(!mongo.standIn)('lists a collection without a schema when sampling exceeds max_time_ms', async () => {
    const events = await t.discover({
      dataSource: everyDatabase(),
      filter: filter({ includeTables: [`${SHOP}.Returns`, `${SHOP}.paid_orders`] }),
      sampling: { sampleSize: HOLD_SAMPLE_SIZE, maxTimeMs: 50, maxFields: 0 },
    });
    expect(byName(events, `${SHOP}.Returns`).schema).toBeUndefined();
    // a view is sampled with $limit, which the stand-in does not hold
    expect(byName(events, `${SHOP}.paid_orders`).schema?.sampledDocuments).toBe(75);
    expect(t.logs.some((l) => l.includes('schema sampling exceeded its time limit') && l.includes('Returns'))).toBe(true);
  });

  /** The strategy bounds how many collections are sampled at once: one for CONSERVATIVE, at most four for AGGRESSIVE. */
  it.each([
    ['CONSERVATIVE', DiscoveryStrategy.DISCOVERY_STRATEGY_CONSERVATIVE, 1, [`${SHOP}.*`]],
    ['AGGRESSIVE', DiscoveryStrategy.DISCOVERY_STRATEGY_AGGRESSIVE, 4, []],
  ] as const)('never samples more collections at once than %s allows', async (_name, strategy, limit, include) => {
    const call = t.discover({
      dataSource: everyDatabase(),
      strategy,
      filter: filter({ includeTables: [...include], excludeTables: ['*.customers', '*.orders', '*.paid_orders'] }),
      sampling: { sampleSize: HOLD_SAMPLE_SIZE, maxTimeMs: 0, maxFields: 0 },
    });
    const [events, peak] = await Promise.all([call, peakSamplingOps(mongo, call)]);
    expect(collections(events).length).toBeGreaterThan(limit);
    expect(peak).toBeLessThanOrEqual(limit);
    if (mongo.standIn) expect(peak).toBe(limit);
  });

  /** A wrong password ends the call with PERMISSION_DENIED and a reason; the password appears nowhere. */
  it('fails with PERMISSION_DENIED on a wrong password, without leaking it', async () => {
    const wrong = `wrong-Pa55-${Math.random().toString(36).slice(2)}`;
    const error = await expectFailure(t.discover({ dataSource: mongoSource(mongo, {}, wrong) }));
    const status = richStatusOf(error);
    expect(status.grpcCode).toBe(7);
    expect(status.errorInfo?.reason).toBe('AUTHENTICATION_FAILED');
    expect(status.message).toContain(`authentication failed for user "${mongo.user}"`);
    const spans = JSON.stringify(t.spans.getFinishedSpans().map((s) => [s.attributes, s.events, s.status]));
    expect(JSON.stringify(status) + t.logs.join('\n') + spans).not.toContain(wrong);
  });

  /** Nothing listening: UNAVAILABLE at the first failed handshake, not after the whole server selection time. */
  it('fails fast with UNAVAILABLE on a closed port', async () => {
    const port = await freePort();
    const started = Date.now();
    const status = richStatusOf(await expectFailure(t.discover({ dataSource: mongoSource(mongo, { primary: { host: '127.0.0.1', port, database: '' } }) })));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(status.grpcCode).toBe(14);
    expect(status.errorInfo?.reason).toBe('CONNECTION_REFUSED');
  });
});
