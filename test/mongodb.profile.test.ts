/**
 * ProfileTable against MongoDB, through real gRPC: STATISTICS (the metadata count only, every
 * field without statistics), SAMPLE (one `$sample` with the statement time limit: null
 * fractions, `$type` shares, distinct counts, min/max, most common values and histograms as
 * canonical Extended JSON), masking (a masked field's value is never projected), errors and
 * cancellation.
 *
 * On the stand-in the suite starts its own server (the fixture plus the database
 * `sourced_profile`), so it can see every command the daemon sends and hold a `$sample`. With
 * SOURCED_TEST_MONGODB_URL the database and its user are loaded into the real server instead,
 * and what needs the stand-in's eyes is skipped.
 */
import { randomBytes } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { Int32, ObjectId, type Document } from 'bson';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ProfileTableRequest, ProfileTableResponse } from '@sourced/api';
import { DiscoveryStrategy } from '@sourced/api';
import type { Cell } from '@sourced/api';
import { ColumnFigureMethods, FigureMethod, ProfileMode, type ColumnProfile, type ProfileHeader, type ProfileSummary } from '@sourced/api';

/** A column with no figure has no method for any. */
const NO_FIGURES = ColumnFigureMethods.fromPartial({});
import { mongoFixture } from './fixtures/mongodb/fixture';
import { loadMongoDataset } from './fixtures/mongodb/load';
import type { DatabaseSpec } from './harness/mongo/dataset';
import { startMongoStandIn, type MongoStandIn } from './harness/mongo/MongoStandIn';
import { mongoSource, openConnections } from './harness/mongo/sources';
import { eventually } from './support/pg';
import type { MongoServerInfo } from './support/mongoSetup';
import { registerSecret } from './support/secretScan';
import { collect, expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

const DB = 'sourced_profile';
const PROFILE_USER = 'sourced_profiler';
/** A collection whose `$sample` of {@link SLOW_SIZE} the stand-in holds (sampleDelays), for cancellation. */
const SLOW = 'slow';
const SLOW_SIZE = 777;
const N = 400;
const DAY = 86_400_000;
const JAN_1 = Date.UTC(2024, 0, 1);

const SECRET = `pw-${randomBytes(6).toString('hex')}`;
registerSecret('profile fixture password', SECRET);

/** status: 50 % active, 25 % idle, 15 % away, 10 % gone. */
const statusOf = (i: number) => (i % 20 < 10 ? 'active' : i % 20 < 15 ? 'idle' : i % 20 < 18 ? 'away' : 'gone');
/** 400 people: status by known shares, nickname missing in 20 %, score int in 75 % and string in 25 %, a date per day, a password. */
const PEOPLE: Document[] = Array.from({ length: N }, (_v, i) => ({
  _id: new ObjectId(i.toString(16).padStart(24, '0')),
  status: statusOf(i),
  ...(i % 5 === 0 ? {} : { nickname: `nick${i % 3}` }),
  score: i % 4 === 3 ? `s${i}` : new Int32(i),
  joined: new Date(JAN_1 + i * DAY),
  password: `${SECRET}-${i}`,
}));

function profileDatabase(): DatabaseSpec {
  return {
    name: DB,
    collections: [
      { name: 'people', type: 'collection', documents: PEOPLE },
      { name: SLOW, type: 'collection', documents: [{ _id: new ObjectId(), n: new Int32(1) }] },
    ],
  };
}

const json = (value: string): Cell => ({ value: { $case: 'json', value } });
const date = (ms: number) => json(`{"$date":{"$numberLong":"${ms}"}}`);

interface Profile {
  header: ProfileHeader;
  columns: ColumnProfile[];
  summary: ProfileSummary;
}

describe('MongoDB profile', () => {
  const mongo = inject('mongodb');
  let t: TestDaemon;
  let standIn: MongoStandIn | undefined;
  let server: MongoServerInfo;
  let fixture: MongoServerInfo;
  const commands: { db: string; command: Document }[] = [];
  const sent = (name: string, collection: string) => commands.filter((c) => c.db === DB && c.command[name] === collection).map((c) => c.command);

  beforeAll(async () => {
    const password = `Pa55-${randomBytes(9).toString('base64url')}`;
    registerSecret('profile user password', password);
    const user = { user: PROFILE_USER, db: 'admin', password, roles: [{ role: 'read', db: DB }] };
    if (mongo.standIn) {
      const passwords = {
        test: `Pa55-${randomBytes(9).toString('base64url')}`,
        shop: `Pa55-${randomBytes(9).toString('base64url')}`,
        admin: `Pa55-${randomBytes(9).toString('base64url')}`,
      };
      Object.entries(passwords).forEach(([k, v]) => registerSecret(`profile stand-in ${k} password`, v));
      const dataset = mongoFixture(passwords);
      dataset.databases.push(profileDatabase());
      dataset.users.push(user);
      standIn = await startMongoStandIn({
        dataset,
        sampleDelays: { [SLOW_SIZE]: 60_000 },
        onCommand: (command, db, appName) => {
          if (appName === 'sourced') commands.push({ db, command });
        },
      });
      const url = `mongodb://sourced_admin:${encodeURIComponent(passwords.admin)}@${standIn.host}:${standIn.port}/?authSource=admin&directConnection=true`;
      fixture = { ...mongo, host: standIn.host, port: standIn.port, password: passwords.test, url, standIn: true };
    } else {
      await loadMongoDataset(mongo.url, { databases: [profileDatabase()], roles: [], users: [user] });
      fixture = mongo;
    }
    server = { ...fixture, user: PROFILE_USER, password, database: DB };
    t = await startTestDaemon({ plugins: ['@sourced/plugin-mongodb'], profile: { defaultSampleRows: 1000, maxSampleRows: 5000 } });
  });
  afterAll(async () => {
    await t?.stop();
    await standIn?.stop();
  });

  const request = (table: string, extra: Partial<ProfileTableRequest> = {}): ProfileTableRequest => ({
    dataSource: mongoSource(server),
    table: { schema: DB, name: table },
    columns: [],
    mode: ProfileMode.PROFILE_MODE_SAMPLE,
    sampleRows: 0,
    mostCommonLimit: 0,
    histogramBuckets: 0,
    strategy: 0,
    ...extra,
  });
  const profile = async (table: string, extra: Partial<ProfileTableRequest> = {}): Promise<Profile> => {
    const events: ProfileTableResponse[] = await collect(t.dataSources.profileTable(request(table, extra), new Metadata()));
    expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => i + 1));
    const first = events[0]?.event;
    const last = events.at(-1)?.event;
    if (first?.$case !== 'header' || last?.$case !== 'summary') throw new Error(`not a profile stream: ${events.map((e) => e.event?.$case).join(', ')}`);
    return { header: first.value, columns: events.flatMap((e) => (e.event?.$case === 'column' ? [e.event.value] : [])), summary: last.value };
  };
  const column = (p: Profile, name: string): ColumnProfile => {
    const c = p.columns.find((x) => x.name === name);
    if (!c) throw new Error(`no column ${name} in ${p.columns.map((x) => x.name).join(', ')}`);
    return c;
  };

  /** A sample at least as large as the collection reads every document: exact shares. */
  it('profiles a sample: shares, types, distinct counts, min/max and most common values', async () => {
    commands.length = 0;
    const p = await profile('people', { columns: ['status', 'nickname', 'score', 'joined', 'password', '_id'] });
    // fewer documents than asked: $sample returned every one, so the figures are exact (issue 16)
    expect(p.header).toMatchObject({
      table: { schema: DB, name: 'people' },
      mode: ProfileMode.PROFILE_MODE_SAMPLE,
      rowCount: N,
      rowCountExact: true,
      sampleRows: N,
    });
    expect(p.header).toMatchObject({ rowCountMethod: FigureMethod.FIGURE_METHOD_EXACT, sampleMethod: 'every document' });
    expect(p.header.source).toContain(`every document (${N}`);
    expect(p.columns.map((c) => c.name)).toEqual(['status', 'nickname', 'score', 'joined', 'password', '_id']);

    const status = column(p, 'status');
    expect(status).toMatchObject({ dataType: 'field', nullFraction: 0, distinctCount: 4, distinctExact: true, masked: false, noStatistics: false });
    expect(status.types).toEqual([{ type: 'string', frequency: 1 }]);
    expect(status.methods).toMatchObject({
      nullFraction: FigureMethod.FIGURE_METHOD_EXACT,
      distinctCount: FigureMethod.FIGURE_METHOD_EXACT,
      mostCommon: FigureMethod.FIGURE_METHOD_EXACT,
    });
    expect(status.mostCommon).toEqual([
      { value: json('"active"'), frequency: 0.5 },
      { value: json('"idle"'), frequency: 0.25 },
      { value: json('"away"'), frequency: 0.15 },
      { value: json('"gone"'), frequency: 0.1 },
    ]);
    // BSON order of strings: by bytes
    expect([status.min, status.max]).toEqual([json('"active"'), json('"idle"')]);
    expect(status.histogramBounds).toEqual([]);
    // a BSON string: int32 length, the bytes, NUL
    expect(status.averageLength).toBeCloseTo(0.5 * 11 + 0.25 * 9 + 0.15 * 9 + 0.1 * 9, 6);

    const nickname = column(p, 'nickname');
    expect(nickname.nullFraction).toBeCloseTo(0.2, 10);
    expect(nickname.types).toEqual([
      { type: 'string', frequency: 0.8 },
      { type: 'missing', frequency: 0.2 },
    ]);
    expect(nickname.distinctCount).toBe(3);

    const score = column(p, 'score');
    expect(score.types).toEqual([
      { type: 'int', frequency: 0.75 },
      { type: 'string', frequency: 0.25 },
    ]);
    expect(score.nullFraction).toBe(0);
    expect(score.distinctCount).toBe(N);
    // two types: no min, max or histogram
    expect([score.min, score.max]).toEqual([undefined, undefined]);
    expect(score.histogramBounds).toEqual([]);
    expect(score.mostCommon).toHaveLength(10);
    expect(score.mostCommon.every((m) => m.frequency === 1 / N)).toBe(true);

    const joined = column(p, 'joined');
    expect(joined.types).toEqual([{ type: 'date', frequency: 1 }]);
    expect([joined.min, joined.max]).toEqual([date(JAN_1), date(JAN_1 + (N - 1) * DAY)]);
    expect(joined.histogramBounds).toHaveLength(11);
    expect(joined.histogramBounds[0]).toEqual(date(JAN_1));
    expect(joined.histogramBounds[10]).toEqual(date(JAN_1 + (N - 1) * DAY));
    // percentile_disc: the value at the 1-based position ⌈i·N/10⌉
    expect(joined.histogramBounds[5]).toEqual(date(JAN_1 + (Math.ceil((5 * N) / 10) - 1) * DAY));

    expect(column(p, '_id')).toMatchObject({
      distinctCount: N,
      min: json('{"$oid":"000000000000000000000000"}'),
      max: json(`{"$oid":"${(N - 1).toString(16).padStart(24, '0')}"}`),
    });
    expect(p.summary).toMatchObject({ columns: 6, maskedColumns: ['password'] });

    if (standIn) {
      const aggregates = sent('aggregate', 'people');
      expect(aggregates).toHaveLength(1);
      expect(aggregates[0]).toMatchObject({ comment: 'sourced profile', maxTimeMS: 30_000 });
      expect((aggregates[0].pipeline as Document[])[0]).toEqual({ $sample: { size: 1000 } });
      expect(sent('find', 'people')).toEqual([]);
    }
  });

  /** A masked field's value is never projected: its null fraction and types only. */
  it('reports only counts and types of a masked field, never reading its value', async () => {
    commands.length = 0;
    const p = await profile('people', { columns: ['password', 'status'], sampleRows: N });
    const pw = column(p, 'password');
    expect(pw).toMatchObject({ masked: true, nullFraction: 0, types: [{ type: 'string', frequency: 1 }], mostCommon: [], histogramBounds: [] });
    expect([pw.min, pw.max, pw.distinctCount]).toEqual([undefined, undefined, undefined]);
    expect(JSON.stringify(p)).not.toContain(SECRET);
    if (standIn) {
      const [aggregate] = sent('aggregate', 'people');
      const [sample, projection] = aggregate.pipeline as Document[];
      expect(sample).toEqual({ $sample: { size: N } });
      // the value-bearing entries name status only; password is asked for its $type
      expect(Object.values(projection.$project as Document).filter((v) => typeof v === 'string')).toEqual(['$status']);
      expect(JSON.stringify(projection)).toContain('{"$type":"$password"}');
    }
  });

  /** With no fields named, the fields are the top-level names of a small names-only sample. */
  it('profiles the top-level fields found in a sample when none are named', async () => {
    commands.length = 0;
    const p = await profile('people', { sampleRows: N });
    expect(p.columns.map((c) => c.name).sort()).toEqual(['_id', 'joined', 'nickname', 'password', 'score', 'status']);
    expect(p.columns[0].name).toBe('_id');
    expect(p.columns.every((c) => c.dataType === 'field')).toBe(true);
    expect(column(p, 'nickname').nullFraction).toBeCloseTo(0.2, 10);
    expect(column(p, 'password').masked).toBe(true);
    if (standIn) {
      const [names, sample] = sent('aggregate', 'people');
      expect(names.pipeline).toEqual([
        { $sample: { size: 100 } },
        { $project: { _id: 0, names: { $map: { input: { $objectToArray: '$$ROOT' }, as: 'field', in: '$$field.k' } } } },
      ]);
      expect((sample.pipeline as Document[])[0]).toEqual({ $sample: { size: N } });
    }
  });

  /** Histogram buckets and most common values follow the request; the strategy's time limit goes as maxTimeMS. */
  it('honours most_common_limit, histogram_buckets and the strategy time limit', async () => {
    commands.length = 0;
    const p = await profile('people', {
      columns: ['status', 'joined'],
      sampleRows: N,
      mostCommonLimit: 2,
      histogramBuckets: 4,
      strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_CONSERVATIVE,
    });
    expect(column(p, 'status').mostCommon.map((m) => m.value)).toEqual([json('"active"'), json('"idle"')]);
    expect(column(p, 'joined').histogramBounds).toEqual([0, 99, 199, 299, 399].map((d) => date(JAN_1 + d * DAY)));
    if (standIn) expect(sent('aggregate', 'people')[0].maxTimeMS).toBe(5_000);
  });

  /** STATISTICS: the metadata count, nothing that reads documents; every field says it has no statistics. */
  it('reads only the metadata count in STATISTICS mode', async () => {
    commands.length = 0;
    const p = await profile('people', { columns: ['status', 'password'], mode: ProfileMode.PROFILE_MODE_STATISTICS });
    expect(p.header).toMatchObject({ mode: ProfileMode.PROFILE_MODE_STATISTICS, rowCount: N, rowCountExact: false, sampleRows: 0, source: 'collection stats' });
    expect(p.columns).toEqual([
      {
        name: 'status',
        dataType: 'field',
        distinctExact: false,
        mostCommon: [],
        histogramBounds: [],
        types: [],
        masked: false,
        noStatistics: true,
        methods: NO_FIGURES,
      },
      {
        name: 'password',
        dataType: 'field',
        distinctExact: false,
        mostCommon: [],
        histogramBounds: [],
        types: [],
        masked: true,
        noStatistics: true,
        methods: NO_FIGURES,
      },
    ]);
    if (standIn) {
      // the collection's lookup (names only), then the count: nothing else reaches the database
      expect(commands.filter((c) => c.db === DB).map((c) => Object.keys(c.command)[0])).toEqual(['listCollections', 'count']);
      const [count] = sent('count', 'people');
      expect(count.query).toBeUndefined();
      expect(sent('aggregate', 'people')).toEqual([]);
      expect(sent('find', 'people')).toEqual([]);
    }
  });

  /** STATISTICS naming no fields reads no document at all, not even for field names: one `document` column without statistics, then the count. */
  it('reads no document in STATISTICS mode when no field is named', async () => {
    commands.length = 0;
    const p = await profile('people', { mode: ProfileMode.PROFILE_MODE_STATISTICS });
    expect(p.columns.map((c) => [c.name, c.dataType, c.noStatistics])).toEqual([['document', 'document', true]]);
    if (standIn) expect(commands.filter((c) => c.db === DB).map((c) => Object.keys(c.command)[0])).toEqual(['listCollections', 'count']);
  });

  it('rejects sample_rows over the daemon maximum as INVALID_ARGUMENT', async () => {
    commands.length = 0;
    const status = richStatusOf(await expectFailure(profile('people', { sampleRows: 5001 })));
    expect(status.grpcCode).toBe(3);
    expect(status.badRequest?.map((v) => v.field)).toEqual(['sample_rows']);
    expect(commands.filter((c) => c.db === DB)).toEqual([]);
  });

  it.each([
    [ProfileMode.PROFILE_MODE_SAMPLE, 'SAMPLE'],
    [ProfileMode.PROFILE_MODE_STATISTICS, 'STATISTICS'],
  ])('fails with NOT_FOUND TABLE_NOT_FOUND for a missing collection (%i, %s)', async (mode) => {
    const status = richStatusOf(await expectFailure(profile('nope', { mode })));
    expect(status.grpcCode).toBe(5);
    expect(status.errorInfo?.reason).toBe('TABLE_NOT_FOUND');
  });

  /** Cancelling while the $sample runs ends the call CANCELLED and closes every connection of the daemon's client. */
  it('closes its connections when the client cancels', async () => {
    commands.length = 0;
    const call = t.dataSources.profileTable(request(SLOW, { columns: ['n'], sampleRows: SLOW_SIZE }), new Metadata());
    const ended = new Promise<string>((resolve) => {
      call.on('data', () => undefined);
      call.on('error', (e: { code: number }) => resolve(`error ${e.code}`));
      call.on('end', () => resolve('end'));
    });
    if (standIn) {
      await eventually(
        async () => sent('aggregate', SLOW).length,
        (n) => n > 0,
      );
      expect(await openConnections(fixture, 'sourced')).toBeGreaterThan(0);
    }
    call.cancel();
    if (standIn) expect(await ended).toBe('error 1');
    else expect(['error 1', 'end']).toContain(await ended);
    expect(
      await eventually(
        () => openConnections(fixture, 'sourced'),
        (n) => n === 0,
      ),
    ).toBe(0);
    if (standIn) expect(standIn.openCursors()).toBe(0);
  });
});
