/**
 * PreviewTable against MongoDB, through real gRPC: whole documents and chosen top-level
 * fields as canonical Extended JSON, masking (top-level fields left out of the find's
 * projection, nested ones replaced, values masked by BSON type), views and time-series
 * collections, and the commands the daemon sends. Chosen columns, bad field names,
 * collections not found, the row limit and cancellation are the cases every connector shares
 * (test/connectors.preview.test.ts).
 *
 * On the stand-in the suite starts its own server (the fixture plus the database
 * `sourced_preview`), so it can see every command the daemon sends. With
 * SOURCED_TEST_MONGODB_URL the database and its user are loaded into the real server instead
 * (nothing else there is touched), and what needs the stand-in's eyes is skipped.
 */
import { randomBytes } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { DEFAULT_MASKED_COLUMNS } from '@sourced/core';
import { Binary, Decimal128, Double, EJSON, Int32, Long, ObjectId, type Document } from 'bson';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PreviewTableRequest, PreviewTableResponse } from '@sourced/api';
import { DiscoveryStrategy } from '@sourced/api';
import type { Cell, PreviewHeader, PreviewSummary } from '@sourced/api';
import { cpu, METRICS, mongoFixture, orders, sessions, SHOP, TEST_USER } from './fixtures/mongodb/fixture';
import { loadMongoDataset } from './fixtures/mongodb/load';
import type { DatabaseSpec } from './harness/mongo/dataset';
import { startMongoStandIn, type MongoStandIn } from './harness/mongo/MongoStandIn';
import { mongoSource } from './harness/mongo/sources';
import type { MongoServerInfo } from './support/mongoSetup';
import { registerSecret } from './support/secretScan';
import { collect, startTestDaemon, type TestDaemon } from './support/testDaemon';

const DB = 'sourced_preview';
const PREVIEW_USER = 'sourced_previewer';

// Values of masked fields: registered with the run's secret scan, so none may appear in anything the daemon emits.
const SECRET = {
  password: `pw-${randomBytes(6).toString('hex')}`,
  apiKey: `key-${randomBytes(6).toString('hex')}`,
  token: `tok-${randomBytes(6).toString('hex')}`,
};
for (const [label, value] of Object.entries(SECRET)) registerSecret(`preview fixture ${label}`, value);

const id = (i: number) => new ObjectId(`66000000000000000000000${i}`);
/** The documents of `accounts`, in the order they are inserted (not `_id` order). */
const ACCOUNTS: Document[] = [
  { _id: id(3), name: 'Linus', balance: Long.fromNumber(0), active: true },
  {
    _id: id(1),
    name: 'Ada',
    balance: Long.fromString('9007199254740993'),
    price: Decimal128.fromString('12345.6700'),
    openedAt: new Date('2024-03-01T09:30:00.123Z'),
    avatar: new Binary(Buffer.from([0, 1, 2, 255])),
    uuid: new Binary(Buffer.from('0123456789abcdef0123456789abcdef', 'hex'), Binary.SUBTYPE_UUID),
    ref: new ObjectId('65000000000000000000abcd'),
    password: SECRET.password,
    profile: { city: 'Lisbon', apiKey: SECRET.apiKey, prefs: { theme: 'dark', refresh_token: SECRET.token } },
    tags: ['a', { label: 'b', token: SECRET.token }, [new Int32(1), new Long(2)]],
    score: new Int32(7),
    ratio: new Double(0.5),
    active: true,
    nickname: null,
  },
  {
    _id: id(2),
    name: 'Grace',
    balance: Long.fromString('-9223372036854775808'),
    price: Decimal128.fromString('-0.000001'),
    password: SECRET.password,
    active: true,
    nickname: 'G',
  },
  ...[5, 4, 7, 6].map((i) => ({ _id: id(i), name: `user${i}`, password: SECRET.password })),
];
const byId = (a: Document, b: Document) => (a._id as ObjectId).toHexString().localeCompare((b._id as ObjectId).toHexString());

/** Ada, whole, as the preview must render it: password left out, nested masked fields replaced, every type canonical. */
const ADA_WHOLE =
  '{"_id":{"$oid":"660000000000000000000001"},"name":"Ada","balance":{"$numberLong":"9007199254740993"},"price":{"$numberDecimal":"12345.6700"},' +
  '"openedAt":{"$date":{"$numberLong":"1709285400123"}},"avatar":{"$binary":{"base64":"AAEC/w==","subType":"00"}},' +
  '"uuid":{"$binary":{"base64":"ASNFZ4mrze8BI0VniavN7w==","subType":"04"}},"ref":{"$oid":"65000000000000000000abcd"},' +
  '"profile":{"city":"Lisbon","apiKey":{"$masked":true},"prefs":{"theme":"dark","refresh_token":{"$masked":true}}},' +
  '"tags":["a",{"label":"b","token":{"$masked":true}},[{"$numberInt":"1"},{"$numberLong":"2"}]],' +
  '"score":{"$numberInt":"7"},"ratio":{"$numberDouble":"0.5"},"active":true,"nickname":null}';

function previewDatabase(): DatabaseSpec {
  return {
    name: DB,
    collections: [
      { name: 'accounts', type: 'collection', documents: ACCOUNTS },
      {
        name: 'active_accounts',
        type: 'view',
        options: { viewOn: 'accounts', pipeline: [{ $match: { active: true } }, { $project: { name: 1, password: 1 } }] },
      },
    ],
  };
}

/** The default masking globs the daemon applies (DEFAULT_MASKED_COLUMNS), as the test's own oracle. */
const MASKED = /password|passwd|secret|token|api_key|apikey|private_key|ssn|social_security|credit_card|card_number/i;
/** The test's oracle of a whole-document cell: masked top-level fields gone, nested ones replaced. */
function expectedWhole(doc: Document): string {
  const replace = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(replace);
    if (v && typeof v === 'object' && !('_bsontype' in v) && !(v instanceof Date)) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, MASKED.test(k) ? { $masked: true } : replace(x)]));
    }
    return v;
  };
  const top = Object.fromEntries(Object.entries(doc).filter(([k]) => !MASKED.test(k)));
  return EJSON.stringify(replace(top) as Document, { relaxed: false });
}

const json = (value: string): Cell => ({ value: { $case: 'json', value } });
const NULL: Cell = { value: { $case: 'null', value: 0 } };
const MASKED_CELL: Cell = { value: { $case: 'masked', value: true } };

interface Preview {
  events: PreviewTableResponse[];
  header: PreviewHeader;
  rows: Cell[][];
  summary: PreviewSummary;
}

describe('MongoDB preview', () => {
  const mongo = inject('mongodb');
  let t: TestDaemon;
  let standIn: MongoStandIn | undefined;
  /** The preview database's user (read on sourced_preview only). */
  let server: MongoServerInfo;
  /** The fixture's test user, on the same server. */
  let fixture: MongoServerInfo;
  /** Commands the daemon sent to the stand-in (appName `sourced`), with their database. */
  const commands: { db: string; command: Document }[] = [];
  const sent = (name: string, collection: string) => commands.filter((c) => c.db === DB && c.command[name] === collection).map((c) => c.command);

  beforeAll(async () => {
    const previewPassword = `Pa55-${randomBytes(9).toString('base64url')}`;
    registerSecret('preview user password', previewPassword);
    const previewUser = { user: PREVIEW_USER, db: 'admin', password: previewPassword, roles: [{ role: 'read', db: DB }] };
    if (mongo.standIn) {
      const passwords = {
        test: `Pa55-${randomBytes(9).toString('base64url')}`,
        shop: `Pa55-${randomBytes(9).toString('base64url')}`,
        admin: `Pa55-${randomBytes(9).toString('base64url')}`,
      };
      Object.entries(passwords).forEach(([k, v]) => registerSecret(`preview stand-in ${k} password`, v));
      const dataset = mongoFixture(passwords);
      dataset.databases.push(previewDatabase());
      dataset.users.push(previewUser);
      standIn = await startMongoStandIn({
        dataset,
        onCommand: (command, db, appName) => {
          if (appName === 'sourced') commands.push({ db, command });
        },
      });
      const url = `mongodb://sourced_admin:${encodeURIComponent(passwords.admin)}@${standIn.host}:${standIn.port}/?authSource=admin&directConnection=true`;
      fixture = { ...mongo, host: standIn.host, port: standIn.port, user: TEST_USER, password: passwords.test, url, standIn: true };
    } else {
      await loadMongoDataset(mongo.url, { databases: [previewDatabase()], roles: [], users: [previewUser] });
      fixture = mongo;
    }
    server = { ...fixture, user: PREVIEW_USER, password: previewPassword, database: DB };
    t = await startTestDaemon({ plugins: ['@sourced/plugin-mongodb'] });
  });
  afterAll(async () => {
    await t?.stop();
    await standIn?.stop();
  });

  const request = (table: string, extra: Partial<PreviewTableRequest> = {}, on: MongoServerInfo = server): PreviewTableRequest => {
    const dot = table.indexOf('.');
    return {
      dataSource: mongoSource(on),
      table: dot < 0 ? { schema: DB, name: table } : { schema: table.slice(0, dot), name: table.slice(dot + 1) },
      columns: [],
      limit: 0,
      strategy: 0,
      ...extra,
    };
  };
  const preview = async (table: string, extra: Partial<PreviewTableRequest> = {}, on?: MongoServerInfo): Promise<Preview> => {
    const events = await collect(t.dataSources.previewTable(request(table, extra, on), new Metadata()));
    expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => i + 1));
    const first = events[0]?.event;
    const last = events.at(-1)?.event;
    if (first?.$case !== 'header' || last?.$case !== 'summary') throw new Error(`not a preview stream: ${events.map((e) => e.event?.$case).join(', ')}`);
    const rows = events.flatMap((e) => (e.event?.$case === 'rows' ? e.event.value.rows.map((r) => r.cells) : []));
    return { events, header: first.value, rows, summary: last.value };
  };

  /** Each document whole, in `_id` order, as exact canonical Extended JSON: Int64 past 2^53, Decimal128, dates, ObjectIds, binary, nested documents and arrays. */
  it('renders whole documents as canonical Extended JSON, in _id order', async () => {
    const p = await preview('accounts');
    expect(p.header.table).toEqual({ schema: DB, name: 'accounts' });
    expect(p.header.columns).toEqual([{ name: 'document', dataType: 'document', masked: false }]);
    const sorted = [...ACCOUNTS].sort(byId);
    expect(p.rows).toEqual(sorted.map((d) => [json(expectedWhole(d))]));
    expect(p.rows[0]).toEqual([json(ADA_WHOLE)]);
    expect(p.rows[1]).toEqual([
      json(
        '{"_id":{"$oid":"660000000000000000000002"},"name":"Grace","balance":{"$numberLong":"-9223372036854775808"},"price":{"$numberDecimal":"-0.000001"},"active":true,"nickname":"G"}',
      ),
    ]);
    // the values survive a round trip through the driver's parser, types included
    const ada = EJSON.parse((p.rows[0][0].value as { value: string }).value, { relaxed: false }) as Document;
    expect((ada.balance as Long).toString()).toBe('9007199254740993');
    expect(ada.balance).toBeInstanceOf(Long);
    expect(ada.price).toBeInstanceOf(Decimal128);
    expect(p.summary).toMatchObject({ rows: ACCOUNTS.length, truncated: false, limit: 50, maskedColumns: [] });
  });

  /** A masked top-level field is left out of the find's projection (never read); masked nested fields are replaced; no masked value leaves the daemon. */
  it.skipIf(!mongo.standIn)('never reads a masked top-level field: the find excludes it', async () => {
    commands.length = 0;
    await preview('accounts', { limit: 3 });
    const [names] = sent('aggregate', 'accounts');
    // the names of the fields come first, values never leave the server
    expect(names.pipeline).toEqual([
      { $sort: { _id: 1 } },
      { $limit: 4 },
      { $project: { _id: 0, names: { $map: { input: { $objectToArray: '$$ROOT' }, as: 'field', in: '$$field.k' } } } },
    ]);
    const finds = sent('find', 'accounts');
    expect(finds).toHaveLength(1);
    expect(finds[0]).toMatchObject({ filter: {}, projection: { password: 0 }, sort: { _id: 1 }, limit: 4, comment: 'sourced preview', maxTimeMS: 30_000 });
    // one batch: the driver asks for one more than the limit, so that the server closes the cursor itself
    expect(finds[0].batchSize).toBeGreaterThanOrEqual(4);
    expect(commands.filter((c) => c.command.getMore !== undefined || c.command.killCursors !== undefined)).toEqual([]);
    expect(Object.keys(finds[0].projection as Document)).toEqual(['password']);
  });

  /** The fixture's sessions: `token` (top-level, binary) matches `*token*`, so it is neither read nor returned. */
  it('masks the fixture sessions token field in whole-document mode', async () => {
    commands.length = 0;
    const p = await preview(`${SHOP}.sessions`, { limit: 5 }, fixture);
    expect(p.rows).toEqual(
      [...sessions()]
        .sort(byId)
        .slice(0, 5)
        .map((d) => [json(expectedWhole(d))]),
    );
    expect(p.rows.flat().every((c) => !(c.value as { value: string }).value.includes('"token"'))).toBe(true);
    expect(p.summary).toMatchObject({ rows: 5, truncated: true, limit: 5 });
    if (standIn) expect(commands.find((c) => c.command.find === 'sessions')?.command.projection).toEqual({ token: 0 });
  });

  /** Chosen top-level fields, in the order asked: one JSON cell each, null for a missing or null field, `masked` for a masked one (not requested at all). */
  it('returns chosen fields as columns, with null and masked cells', async () => {
    commands.length = 0;
    const columns = ['name', 'password', 'balance', 'nickname', 'profile', '_id'];
    const p = await preview('accounts', { columns, limit: 3 });
    expect(p.header.columns).toEqual([
      { name: 'name', dataType: 'field', masked: false },
      { name: 'password', dataType: 'field', masked: true },
      { name: 'balance', dataType: 'field', masked: false },
      { name: 'nickname', dataType: 'field', masked: false },
      { name: 'profile', dataType: 'field', masked: false },
      { name: '_id', dataType: 'field', masked: false },
    ]);
    expect(p.rows).toEqual([
      [
        json('"Ada"'),
        MASKED_CELL,
        json('{"$numberLong":"9007199254740993"}'),
        NULL,
        json('{"city":"Lisbon","apiKey":{"$masked":true},"prefs":{"theme":"dark","refresh_token":{"$masked":true}}}'),
        json('{"$oid":"660000000000000000000001"}'),
      ],
      [json('"Grace"'), MASKED_CELL, json('{"$numberLong":"-9223372036854775808"}'), json('"G"'), NULL, json('{"$oid":"660000000000000000000002"}')],
      [json('"Linus"'), MASKED_CELL, json('{"$numberLong":"0"}'), NULL, NULL, json('{"$oid":"660000000000000000000003"}')],
    ]);
    expect(p.summary).toMatchObject({ rows: 3, truncated: true, limit: 3, maskedColumns: ['password'] });
    if (standIn) {
      const finds = sent('find', 'accounts');
      expect(finds.map((f) => f.projection)).toEqual([{ _id: 1, name: 1, balance: 1, nickname: 1, profile: 1 }]);
      // no field-name lookup in this mode
      expect(sent('aggregate', 'accounts')).toEqual([]);
    }
  });

  /** Fixture orders: Decimal128 in arrays of documents, doubles, dates, binary; 150 rows come in batches of 100 and 50. */
  it('previews the fixture orders exactly, in batches, and says it truncated', async () => {
    const p = await preview(`${SHOP}.orders`, { limit: 150 }, fixture);
    const expected = [...orders()].sort(byId).slice(0, 150);
    expect(p.rows).toEqual(expected.map((d) => [json(EJSON.stringify(d, { relaxed: false }))]));
    expect(p.events.filter((e) => e.event?.$case === 'rows').map((e) => (e.event?.$case === 'rows' ? e.event.value.rows.length : 0))).toEqual([100, 50]);
    expect(p.summary).toMatchObject({ rows: 150, truncated: true, limit: 150 });
    const receipt = p.rows.map(([c]) => EJSON.parse((c.value as { value: string }).value, { relaxed: false }) as Document).find((d) => d.receipt);
    expect(receipt?.receipt).toBeInstanceOf(Binary);
  });

  /** Exactly as many rows as the limit: not truncated. One more is read to tell (the shared cases check the truncation on every engine). */
  it.skipIf(!mongo.standIn)('asks the server for one document more than the limit, to tell whether it truncated', async () => {
    commands.length = 0;
    const p = await preview('accounts', { limit: ACCOUNTS.length, columns: ['name'] });
    expect(p.rows).toHaveLength(ACCOUNTS.length);
    expect(p.summary).toMatchObject({ rows: ACCOUNTS.length, truncated: false, limit: ACCOUNTS.length });
    expect(sent('find', 'accounts')[0]).toMatchObject({ limit: ACCOUNTS.length + 1 });
  });

  /** A view reads in its natural order (no sort, which would sort the whole view), masking as a collection. */
  it('previews a view in its natural order', async () => {
    commands.length = 0;
    const p = await preview('active_accounts');
    const active = ACCOUNTS.filter((d) => d.active === true).map((d) => ({ _id: d._id, name: d.name }));
    expect(p.rows).toEqual(active.map((d) => [json(EJSON.stringify(d, { relaxed: false }))]));
    if (standIn) {
      const [find] = sent('find', 'active_accounts');
      expect(find.sort).toBeUndefined();
      expect(find.projection).toEqual({ password: 0 });
    }
  });

  /** A time-series collection reads in its natural order too. */
  it('previews a time-series collection without a sort', async () => {
    commands.length = 0;
    // a data source naming no database: every database the user may list is in scope
    const p = await preview(`${METRICS}.cpu`, { limit: 3 }, { ...fixture, database: '' });
    expect(p.rows).toHaveLength(3);
    expect(p.summary).toMatchObject({ rows: 3, truncated: true });
    if (standIn) {
      // a real server rebuilds measurements from buckets, in bucket order
      expect(p.rows).toEqual(
        cpu()
          .slice(0, 3)
          .map((d) => [json(EJSON.stringify(d, { relaxed: false }))]),
      );
      expect(commands.find((c) => c.command.find === 'cpu')?.command.sort).toBeUndefined();
    }
  });

  /** The strategy's statement time limit goes to the server as maxTimeMS. */
  it.skipIf(!mongo.standIn)('sends the strategy statement time limit as maxTimeMS', async () => {
    commands.length = 0;
    await preview('accounts', { strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_CONSERVATIVE, columns: ['name'] });
    expect(sent('find', 'accounts')[0].maxTimeMS).toBe(5_000);
    expect(commands.find((c) => c.command.listCollections !== undefined && c.db === DB)?.command).toMatchObject({
      filter: { name: 'accounts' },
      nameOnly: true,
      maxTimeMS: 5_000,
    });
  });

  /** Masking by type sees MongoDB's $type names of field values: binary values are replaced in documents, and a chosen binary field's cell is masked. */
  it('masks values by BSON type when the daemon masks that type', async () => {
    const typed = await startTestDaemon({
      plugins: ['@sourced/plugin-mongodb'],
      preview: { defaultRows: 50, maxRows: 1000, maskColumns: [...DEFAULT_MASKED_COLUMNS], maskTypes: ['binData'] },
    });
    try {
      const whole = await collect(typed.dataSources.previewTable(request('accounts', { limit: 1 }), new Metadata()));
      const ada = whole.flatMap((e) => (e.event?.$case === 'rows' ? e.event.value.rows : []))[0].cells[0];
      const doc = JSON.parse((ada.value as { value: string }).value) as Document;
      expect([doc.avatar, doc.uuid]).toEqual([{ $masked: true }, { $masked: true }]);
      // names are masked as before
      expect(doc.profile).toMatchObject({ city: 'Lisbon', apiKey: { $masked: true } });
      expect(doc.password).toBeUndefined();
      const fields = await collect(typed.dataSources.previewTable(request('accounts', { limit: 1, columns: ['avatar', 'name'] }), new Metadata()));
      expect(fields.flatMap((e) => (e.event?.$case === 'rows' ? e.event.value.rows.map((r) => r.cells) : []))).toEqual([[MASKED_CELL, json('"Ada"')]]);
    } finally {
      await typed.stop();
    }
  });
});
