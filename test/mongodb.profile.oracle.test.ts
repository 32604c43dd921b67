/**
 * Oracle tests of ProfileTable's figures on MongoDB (issue 16), through the real driver: every
 * expected figure is computed here with the test's own simple commands (countDocuments,
 * estimatedDocumentCount, find with sort/skip/limit, aggregate with $group, $type and
 * $bsonSize), never through the connector's `$sample` and projection. On the stand-in those
 * commands are answered by `test/harness/mongo` (its `$group` and `$bsonSize` exist for these
 * oracles); with SOURCED_TEST_MONGODB_URL by a real server.
 *
 * Fixture (database `sourced_oracle`):
 * - `shape`, 2,000 documents: skewed, uniform, all-null, all-distinct, all-same, long strings
 *   (multi-byte), binary, nested documents and arrays (JSON-like), dates (BC and before 1970
 *   included), doubles with a common minimum, booleans, a field of two types, a field missing
 *   in 30 % of the documents. A SAMPLE larger than the collection reads every document, so
 *   every figure must be EXACT and equal the truth.
 * - `big`, 50,000 documents (a column that follows insertion order, nulls spread evenly, an
 *   all-distinct, a skewed and a uniform one): a SAMPLE of 1,000 (2 %) is repeated four times,
 *   each a fresh `$sample` (the stand-in runs with `randomSample`, as a real server draws), and
 *   every figure must be labelled SAMPLED and fall within a tolerance derived from the sample
 *   size. 50,000 is enough for sampling to matter (the sample is 2 % of it) while the
 *   in-memory stand-in answers the oracle's `$group`s over it in well under a second.
 */
import { randomBytes } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { Binary, Double, EJSON, Int32, Long, ObjectId, type Document } from 'bson';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ProfileTableRequest, ProfileTableResponse } from '@sourced/api';
import type { Cell } from '@sourced/api';
import { FigureMethod, ProfileMode, type ColumnProfile } from '@sourced/api';
import { loadMongoDataset } from './fixtures/mongodb/load';
import type { DatabaseSpec } from './harness/mongo/dataset';
import { startMongoStandIn, type MongoStandIn } from './harness/mongo/MongoStandIn';
import { mongoSource } from './harness/mongo/sources';
import type { MongoServerInfo } from './support/mongoSetup';
import { registerSecret } from './support/secretScan';
import { collect, startTestDaemon, type TestDaemon } from './support/testDaemon';

const DB = 'sourced_oracle';
const READER = 'sourced_oracle_reader';
const SHAPE_N = 2_000;
const BIG_N = 50_000;
const BUCKETS = 10;
const DAY = 86_400_000;
const FAR_PAST = ['-000044-03-15T00:00:00.000Z', '0001-01-01T00:00:00.000Z', '1492-10-12T00:00:00.000Z', '1969-12-31T23:59:59.999Z'].map((d) => new Date(d));

/** 1 in 40 % of the rows, 9 in 30 %, the rest 2..8 and a rare 3502 and 3503 (the PostgreSQL oracle's skew). */
const skew = (i: number) => (i % 10 < 4 ? 1 : i % 10 < 7 ? 9 : i === 1999 ? 3503 : i === 1997 ? 3502 : 2 + (i % 7));
const oid = (i: number) => new ObjectId(i.toString(16).padStart(24, '0'));

function shapeDocument(i: number): Document {
  return {
    _id: oid(i),
    skewed: new Int32(skew(i)),
    uniform: new Int32(i % 50),
    all_null: null,
    all_distinct: Long.fromNumber(i * 1_000_003),
    all_same: 'same',
    long_text: `${'é'.repeat(500 + (i % 7) * 300)}${i}`,
    bin: new Binary(Buffer.from(Array.from({ length: i % 17 }, (_v, k) => (i * 31 + k) % 256))),
    nested: i % 4 === 0 ? [new Int32(i % 3), 'x', { k: new Int32(i % 2) }] : { a: new Int32(i % 3), b: { c: 'deep', d: [new Int32(i % 2)] } },
    day: i % 3 === 0 ? FAR_PAST[i % 4] : new Date(Date.UTC(2020, 0, 1) + i * DAY),
    price: new Double(i % 2 === 0 ? 0.99 : 2.98 + (i % 50)),
    flag: i % 3 === 0,
    mixed: i % 4 === 3 ? `s${i % 10}` : new Int32(i % 10),
    ...(i % 10 < 3 ? {} : { maybe: new Int32(i % 13) }),
  };
}
const SHAPE_FIELDS = Object.keys({ ...shapeDocument(5) }).filter((f) => f !== '_id');
/** Fields whose values have one BSON type that orders (min, max) — the rest must report none. */
const ORDERED = ['skewed', 'uniform', 'all_distinct', 'all_same', 'long_text', 'day', 'price', 'flag', 'maybe'];
/** Numeric and date fields: they get a histogram. */
const HISTOGRAM = ['skewed', 'uniform', 'all_distinct', 'day', 'price', 'maybe'];

/** grp follows insertion order (20 runs of 2,500); maybe is null in 30 %, spread evenly. */
function bigDocument(i: number): Document {
  return {
    _id: oid(i),
    grp: new Int32(Math.floor(i / 2_500)),
    maybe: (i * 7) % 10 < 3 ? null : new Int32(i % 50),
    uid: new Int32(i),
    sk: new Int32(skew(i)),
    u: new Int32((i * 7919) % 1_000),
  };
}

function oracleDatabase(): DatabaseSpec {
  return {
    name: DB,
    collections: [
      { name: 'shape', type: 'collection', documents: Array.from({ length: SHAPE_N }, (_v, i) => shapeDocument(i)) },
      { name: 'big', type: 'collection', documents: Array.from({ length: BIG_N }, (_v, i) => bigDocument(i)) },
    ],
  };
}

const columns = (events: ProfileTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'column' ? [e.event.value] : []));
const header = (events: ProfileTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'header' ? [e.event.value] : []))[0];
const column = (events: ProfileTableResponse[], name: string): ColumnProfile => {
  const c = columns(events).find((x) => x.name === name);
  if (!c) throw new Error(`no column ${name}`);
  return c;
};
/** A cell's canonical Extended JSON (the connector's rendering of every value), undefined for none. */
const json = (c: Cell | undefined): string | undefined => (c?.value?.$case === 'json' ? c.value.value : undefined);
/** The test's own rendering of a value read through the driver: canonical Extended JSON. */
const ejson = (v: unknown): string => EJSON.stringify(v as Document, { relaxed: false });

describe('ProfileTable on MongoDB: figures against the server (oracle)', () => {
  const mongo = inject('mongodb');
  let t: TestDaemon;
  let standIn: MongoStandIn | undefined;
  let server: MongoServerInfo;
  /** The test's own client (the reader), values kept in their BSON types. */
  let client: MongoClient;

  beforeAll(async () => {
    const password = `Pa55-${randomBytes(9).toString('base64url')}`;
    registerSecret('oracle reader password', password);
    const reader = { user: READER, db: 'admin', password, roles: [{ role: 'read', db: DB }] };
    let host = mongo.host;
    let port = mongo.port;
    if (mongo.standIn) {
      standIn = await startMongoStandIn({ dataset: { databases: [oracleDatabase()], roles: [], users: [reader] }, randomSample: true });
      host = standIn.host;
      port = standIn.port;
    } else {
      await loadMongoDataset(mongo.url, { databases: [oracleDatabase()], roles: [], users: [reader] });
    }
    server = { ...mongo, host, port, user: READER, password, database: DB };
    client = new MongoClient(`mongodb://${READER}:${encodeURIComponent(password)}@${host}:${port}/?authSource=admin&directConnection=true`, {
      promoteValues: false,
      promoteLongs: false,
      serverSelectionTimeoutMS: 10_000,
    });
    await client.connect();
    t = await startTestDaemon({ plugins: ['@sourced/plugin-mongodb'], profile: { defaultSampleRows: 10_000, maxSampleRows: 100_000 } });
  }, 120_000);
  afterAll(async () => {
    await client?.close();
    await t?.stop();
    await standIn?.stop();
  });

  const request = (name: string, fields: string[], over: Partial<ProfileTableRequest> = {}): ProfileTableRequest => ({
    dataSource: mongoSource(server),
    table: { schema: DB, name },
    columns: fields,
    mode: ProfileMode.PROFILE_MODE_SAMPLE,
    sampleRows: 0,
    mostCommonLimit: 5,
    histogramBuckets: BUCKETS,
    strategy: 0,
    ...over,
  });
  const profile = (req: ProfileTableRequest) => collect(t.dataSources.profileTable(req, new Metadata(), { deadline: Date.now() + 60_000 }));
  const coll = (name: string) => client.db(DB).collection(name);
  /** countDocuments as a number (the client keeps BSON types: the server's Int32). */
  const count = async (name: string, filter: Document) => Number(await coll(name).countDocuments(filter));
  /** Documents where the field is neither missing nor null. */
  const present = (f: string) => ({ [f]: { $ne: null } });
  const distinctOf = async (name: string, f: string) =>
    Number(
      (
        await coll(name)
          .aggregate([{ $match: present(f) }, { $group: { _id: `$${f}` } }, { $count: 'n' }])
          .toArray()
      )[0]?.n ?? 0,
    );
  /** The value at 0-based position `k` of the field's non-null values in BSON order. */
  const at = async (name: string, f: string, k: number) =>
    (
      await coll(name)
        .find(present(f), { projection: { _id: 0, [f]: 1 } })
        .sort({ [f]: 1 })
        .skip(k)
        .limit(1)
        .toArray()
    )[0]?.[f];
  /** The mean `$bsonSize` of `{ v: value }` over the non-null values, less that document's own 8 bytes (length, type, the name `v`, terminators). */
  const averageWidth = async (name: string, f: string) => {
    const [row] = await coll(name)
      .aggregate([{ $match: present(f) }, { $group: { _id: null, s: { $avg: { $bsonSize: { v: `$${f}` } } } } }])
      .toArray();
    return row === undefined ? undefined : Number(row.s) - 8;
  };

  /**
   * A SAMPLE larger than the collection reads every document: the header counts them, every
   * figure is EXACT, and each equals what the server answers to the test's own commands.
   */
  it('SAMPLE that reads every document: every figure EXACT and equal to the truth', async () => {
    const events = await profile(request('shape', SHAPE_FIELDS));
    const total = await count('shape', {});
    expect(total).toBe(SHAPE_N);
    expect(header(events)).toMatchObject({
      rowCount: total,
      rowCountExact: true,
      rowCountMethod: FigureMethod.FIGURE_METHOD_EXACT,
      sampleRows: total,
      sampleMethod: 'every document',
    });
    for (const f of SHAPE_FIELDS) {
      const c = column(events, f);
      const nulls = await count('shape', { [f]: null });
      const distinct = await distinctOf('shape', f);
      expect({ f, nulls: c.nullFraction, distinct: c.distinctCount, exact: c.distinctExact }).toEqual({ f, nulls: nulls / total, distinct, exact: true });
      // the share of each $type, as the server names them
      const types = await coll('shape')
        .aggregate([{ $group: { _id: { $type: `$${f}` }, n: { $sum: 1 } } }])
        .toArray();
      const byType = (xs: { type: string; frequency: number }[]) => [...xs].sort((a, b) => a.type.localeCompare(b.type));
      expect({ f, types: byType(c.types) }).toEqual({ f, types: byType(types.map((r) => ({ type: String(r._id), frequency: Number(r.n) / total }))) });
      // average length: the BSON size of a value, as the server's $bsonSize counts it
      const width = await averageWidth('shape', f);
      if (nulls === total) expect({ f, avg: c.averageLength }).toEqual({ f, avg: undefined });
      else expect({ f, avg: c.averageLength }).toEqual({ f, avg: expect.closeTo(width ?? NaN, 9) });
      // min and max in BSON order, for fields of one ordered type; none otherwise
      if (ORDERED.includes(f)) {
        const [min] = await coll('shape')
          .find(present(f))
          .sort({ [f]: 1 })
          .limit(1)
          .toArray();
        const [max] = await coll('shape')
          .find(present(f))
          .sort({ [f]: -1 })
          .limit(1)
          .toArray();
        expect({ f, min: json(c.min), max: json(c.max) }).toEqual({ f, min: ejson(min?.[f]), max: ejson(max?.[f]) });
      } else expect({ f, min: c.min, max: c.max }).toEqual({ f, min: undefined, max: undefined });
      // most common scalar values: the frequencies of the true top five, and each value's own share
      if (f === 'nested')
        expect(c.mostCommon).toEqual([]); // documents and arrays are not scalar values
      else {
        const top = await coll('shape')
          .aggregate([{ $match: present(f) }, { $group: { _id: `$${f}`, n: { $sum: 1 } } }, { $sort: { n: -1, _id: 1 } }, { $limit: 5 }])
          .toArray();
        expect({ f, frequencies: c.mostCommon.map((m) => m.frequency) }).toEqual({ f, frequencies: top.map((r) => Number(r.n) / total) });
        for (const m of c.mostCommon) {
          const value = EJSON.parse(json(m.value) ?? 'null', { relaxed: false });
          expect({ f, value: json(m.value), share: m.frequency }).toEqual({ f, value: json(m.value), share: (await count('shape', { [f]: value })) / total });
        }
      }
      // histogram: the value at each share i/10 of the non-null values (percentile_disc), repeats kept
      if (HISTOGRAM.includes(f)) {
        const m = total - nulls;
        const truth: string[] = [];
        for (let i = 0; i <= BUCKETS; i++) truth.push(ejson(await at('shape', f, Math.max(0, Math.ceil((i * m) / BUCKETS) - 1))));
        expect({ f, histogram: c.histogramBounds.map(json) }).toEqual({ f, histogram: truth });
      } else expect({ f, histogram: c.histogramBounds }).toEqual({ f, histogram: [] });
      // and every figure says it was computed from every document
      const methods = Object.values(c.methods ?? {}).filter((x) => x !== FigureMethod.FIGURE_METHOD_UNSPECIFIED);
      expect({ f, methods: new Set(methods) }).toEqual({ f, methods: new Set([FigureMethod.FIGURE_METHOD_EXACT]) });
    }
    // the cases the fixture is for: a common minimum, the skewed column's repeated first deciles, dates before the epoch and BC
    expect(json(column(events, 'price').min)).toBe('{"$numberDouble":"0.99"}');
    expect(column(events, 'skewed').histogramBounds.slice(0, 4).map(json)).toEqual(Array(4).fill('{"$numberInt":"1"}'));
    expect(json(column(events, 'day').min)).toBe(ejson(FAR_PAST[0]));
    expect(column(events, 'all_distinct').distinctCount).toBe(SHAPE_N);
    expect(column(events, 'all_same').distinctCount).toBe(1);
  });

  /** STATISTICS: MongoDB keeps no per-field statistics; the row count is the collection's metadata count, which the test reads itself. */
  it('STATISTICS: the metadata count (estimatedDocumentCount) and no field figures', async () => {
    const events = await profile(request('big', ['grp', 'uid'], { mode: ProfileMode.PROFILE_MODE_STATISTICS }));
    const estimated = Number(await coll('big').estimatedDocumentCount());
    expect(header(events)).toMatchObject({ rowCount: estimated, rowCountExact: false, rowCountMethod: FigureMethod.FIGURE_METHOD_STATISTICS, sampleRows: 0 });
    for (const f of ['grp', 'uid']) {
      const c = column(events, f);
      expect({ f, none: c.noStatistics, nulls: c.nullFraction, distinct: c.distinctCount, min: c.min }).toEqual({
        f,
        none: true,
        nulls: undefined,
        distinct: undefined,
        min: undefined,
      });
    }
  });

  /**
   * SAMPLE of 2 % of a collection, four draws: the figures are labelled SAMPLED (distinct
   * counts never exact), and each falls within a tolerance derived from the sample size n: the
   * null fraction and the most common value's share within 4 standard errors of the truth;
   * min, max and every histogram bound inside the true range, each bound's true cumulative
   * share within 4 standard errors (+10/n) of its decile; distinct counts the Duj1 estimate —
   * a 20-value column within a factor 1.25 of 20 and the all-distinct one within 1.25 of the
   * collection's documents (the sample's own count, 1,000, is 50 times too few).
   */
  it('SAMPLE of part of a collection: estimates labelled SAMPLED and within tolerances of the truth, over four draws', async () => {
    const total = await count('big', {});
    const trueNulls = (await count('big', { maybe: null })) / total;
    const trueGroups = await distinctOf('big', 'grp');
    const [topSk] = await coll('big')
      .aggregate([{ $group: { _id: '$sk', n: { $sum: 1 } } }, { $sort: { n: -1 } }, { $limit: 1 }])
      .toArray();
    const topShare = Number(topSk?.n) / total;
    const [uMin, uMax] = [ejson(await at('big', 'u', 0)), ejson(await at('big', 'u', total - 1))];
    const drawn = new Set<string>();
    for (let run = 0; run < 4; run++) {
      const events = await profile(request('big', ['grp', 'maybe', 'uid', 'sk', 'u'], { sampleRows: 1_000 }));
      const h = header(events);
      const n = h?.sampleRows ?? 0;
      expect(n).toBe(1_000);
      expect(h).toMatchObject({
        rowCount: Number(await coll('big').estimatedDocumentCount()),
        rowCountExact: false,
        rowCountMethod: FigureMethod.FIGURE_METHOD_STATISTICS,
        sampleMethod: '$sample (size 1000)',
      });
      for (const c of columns(events)) {
        expect({ run, f: c.name, exact: c.distinctExact }).toEqual({ run, f: c.name, exact: false });
        const methods = Object.values(c.methods ?? {}).filter((x) => x !== FigureMethod.FIGURE_METHOD_UNSPECIFIED);
        expect({ run, f: c.name, methods: new Set(methods) }).toEqual({ run, f: c.name, methods: new Set([FigureMethod.FIGURE_METHOD_SAMPLED]) });
      }
      const grp = column(events, 'grp');
      expect(grp.distinctCount ?? 0).toBeGreaterThanOrEqual(trueGroups / 1.25);
      expect(grp.distinctCount ?? 0).toBeLessThanOrEqual(trueGroups * 1.25);
      const uid = column(events, 'uid');
      expect({ run, uid: (uid.distinctCount ?? 0) >= total / 1.25 && (uid.distinctCount ?? 0) <= total }).toEqual({ run, uid: true });
      const se = (p: number) => Math.sqrt((p * (1 - p)) / n);
      expect(Math.abs((column(events, 'maybe').nullFraction ?? 0) - trueNulls)).toBeLessThanOrEqual(4 * se(trueNulls));
      const sk = column(events, 'sk');
      expect(json(sk.mostCommon[0]?.value)).toBe(ejson(topSk?._id));
      expect(Math.abs((sk.mostCommon[0]?.frequency ?? 0) - topShare)).toBeLessThanOrEqual(4 * se(topShare));
      // u: min, max and histogram inside the true range; each bound near its decile
      const u = column(events, 'u');
      const number = (c: Cell | undefined) => Number((EJSON.parse(json(c) ?? 'null') as unknown) ?? NaN);
      expect(number(u.min)).toBeGreaterThanOrEqual(Number(EJSON.parse(uMin)));
      expect(number(u.max)).toBeLessThanOrEqual(Number(EJSON.parse(uMax)));
      expect(u.histogramBounds).toHaveLength(BUCKETS + 1);
      for (const [i, bound] of u.histogramBounds.entries()) {
        const v = new Int32(number(bound));
        const below = (await count('big', { u: { $lt: v } })) / total;
        const upTo = (await count('big', { u: { $lte: v } })) / total;
        const q = i / BUCKETS;
        const tolerance = 4 * se(q) + 10 / n;
        expect({ run, i, below: below <= q + tolerance, upTo: upTo >= q - tolerance }).toEqual({ run, i, below: true, upTo: true });
      }
      drawn.add(u.histogramBounds.map(json).join());
    }
    // four fresh draws, not one sample repeated
    expect(drawn.size).toBeGreaterThan(1);
  });
});
