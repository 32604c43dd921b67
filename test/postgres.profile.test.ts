/**
 * ProfileTable on PostgreSQL, end to end through gRPC, against a PostgreSQL of this file's own
 * (statement logging on, so the test sees every statement the daemon ran): a fixture table of
 * known contents, ANALYZEd, profiled from pg_stats (STATISTICS: no statement reads the table)
 * and from a bounded sample (SAMPLE: TABLESAMPLE ... LIMIT n), masked columns, errors,
 * cancellation.
 *
 * Why one file (~480 lines): STATISTICS, SAMPLE and the errors all read one server of the file's own with statement
 * logging, ANALYZEd once; the log is how each case sees what the daemon ran.
 */
import { Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PREVIEW_SETTINGS } from '../core/src';
import { DataSource } from '@sourced/api';
import type { ProfileTableRequest, ProfileTableResponse } from '@sourced/api';
import { DiscoveryStrategy } from '@sourced/api';
import { EndpointRole } from '@sourced/api';
import type { Cell } from '@sourced/api';
import { FigureMethod, ProfileMode, type ColumnProfile } from '@sourced/api';
import { duj1 } from '../plugins/postgres/src/profile';
import { statisticsAge } from '../plugins/postgres/src/profileCommon';
import { sampleFrom, samplePercent, viewSampleFrom } from '../plugins/postgres/src/profileSample';
import { downsample } from '../plugins/postgres/src/profileStatistics';
import { startLatencyProxy } from './harness/latencyProxy';
import { startPostgres, type PostgresInstance } from './harness/postgres';
import { hybridSource } from './support/hybrid';
import { statementLog } from './support/pgStatementLog';
import { eventually } from './support/pg';
import { registerSecret } from './support/secretScan';
import { collect, expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

const MAX_SAMPLE_ROWS = 5_000;

// known: 1000 rows; the patterns repeat every 20 rows, so the first 200 rows have the same
// proportions as the whole table. autovacuum off: the statistics are exactly the fixture's ANALYZE.
const FIXTURE = (role: string) => `
CREATE SCHEMA profile_test;
CREATE TABLE profile_test.known (
  id int PRIMARY KEY, category text, note text, at timestamptz, password text, price numeric(8,2)
) WITH (autovacuum_enabled = false);
INSERT INTO profile_test.known
SELECT i,
       CASE WHEN i % 20 < 10 THEN 'alpha' WHEN i % 20 < 15 THEN 'beta' WHEN i % 20 < 18 THEN 'gamma' ELSE 'delta' END,
       CASE WHEN i % 5 = 0 THEN NULL ELSE 'note ' || (i % 7) END,
       timestamptz '2024-01-01 00:00:00+00' + (i - 1) * interval '1 hour',
       'hunter2-' || (i % 3),
       (i % 100) + 0.5
FROM generate_series(1, 1000) i;
ANALYZE profile_test.known;
-- added after ANALYZE: pg_stats has no row for it
ALTER TABLE profile_test.known ADD COLUMN late int;

CREATE TABLE profile_test.big (id int, grp int) WITH (autovacuum_enabled = false);
INSERT INTO profile_test.big SELECT i, i % 10 FROM generate_series(1, 50000) i;
ANALYZE profile_test.big;

CREATE TABLE profile_test.fresh (id int, label text) WITH (autovacuum_enabled = false);
INSERT INTO profile_test.fresh VALUES (1, 'never analysed');

-- A view whose rows wait until the gate is opened: a read the test can catch in the middle.
CREATE TABLE profile_test.gate (open boolean NOT NULL);
INSERT INTO profile_test.gate VALUES (true);
CREATE FUNCTION profile_test.wait_for_gate() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  WHILE NOT (SELECT open FROM profile_test.gate) LOOP PERFORM pg_sleep(0.05); END LOOP;
  RETURN true;
END $$;
CREATE VIEW profile_test.gated AS SELECT g AS id FROM generate_series(1, 3) g WHERE profile_test.wait_for_gate();
-- A view that takes a moment per row (a profile's REPEATABLE READ snapshot would never see a gate open).
CREATE VIEW profile_test.slow AS SELECT g AS id FROM generate_series(1, 3) g WHERE pg_sleep(0.3) IS NOT NULL;

GRANT USAGE ON SCHEMA profile_test TO ${role};
GRANT SELECT ON ALL TABLES IN SCHEMA profile_test TO ${role};
`;

const header = (events: ProfileTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'header' ? [e.event.value] : []))[0];
const columns = (events: ProfileTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'column' ? [e.event.value] : []));
const column = (events: ProfileTableResponse[], name: string): ColumnProfile => {
  const c = columns(events).find((x) => x.name === name);
  if (!c) throw new Error(`no column ${name}`);
  return c;
};
const summary = (events: ProfileTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'summary' ? [e.event.value] : []))[0];
const kinds = (events: ProfileTableResponse[]) => events.map((e) => e.event?.$case);

const integer = (v: string): Cell => ({ value: { $case: 'integer', value: v } });
const text = (v: string): Cell => ({ value: { $case: 'text', value: v } });
const timestamp = (v: string): Cell => ({ value: { $case: 'timestamp', value: v } });
const cellValue = (c: Cell | undefined): unknown => c?.value?.value;

const FIRST_AT = '2024-01-01T00:00:00+00:00';
const LAST_AT = '2024-02-11T15:00:00+00:00'; // + 999 hours

describe('ProfileTable on PostgreSQL', () => {
  let pg: PostgresInstance;
  let t: TestDaemon;
  let readStatements: () => Promise<string[]>;

  const source = () =>
    DataSource.fromPartial({
      type: 'postgres',
      primary: { host: pg.host, port: pg.port, database: pg.database },
      credentials: { username: pg.user, password: { source: { $case: 'inlineValue', value: pg.password } } },
    });

  const request = (name: string, over: Partial<ProfileTableRequest> = {}): ProfileTableRequest => ({
    dataSource: source(),
    table: { schema: 'profile_test', name },
    columns: [],
    mode: ProfileMode.PROFILE_MODE_STATISTICS,
    sampleRows: 0,
    mostCommonLimit: 0,
    histogramBuckets: 0,
    strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_BALANCED,
    ...over,
  });

  const profileStream = (req: ProfileTableRequest): ClientReadableStream<ProfileTableResponse> =>
    t.dataSources.profileTable(req, new Metadata(), { deadline: Date.now() + 25_000 });
  const profile = (req: ProfileTableRequest) => collect(profileStream(req));

  /** The daemon's log entries since the last call: statements, and `parameters: ...` entries after those that had some. */
  const daemonStatements = (): Promise<string[]> => readStatements();
  /** The parameters logged right after the statement at `index`. */
  const parametersOf = (log: string[], index: number) => (log[index + 1]?.startsWith('parameters:') ? log[index + 1] : '');

  const daemonSessions = async () => (await pg.psql(`SELECT pid FROM pg_stat_activity WHERE application_name = 'sourced'`)).split('\n').filter(Boolean);
  const waitingAtGate = async () =>
    (await pg.psql(`SELECT pid FROM pg_stat_activity WHERE application_name = 'sourced' AND state = 'active' AND query LIKE '%"gated"%'`))
      .split('\n')
      .filter(Boolean);
  const setGate = (open: boolean) => pg.psql(`UPDATE profile_test.gate SET open = ${open}`);

  beforeAll(async () => {
    pg = await startPostgres({ extraConf: { log_statement: 'all', log_line_prefix: '%m [%p] %a ' } });
    readStatements = statementLog(pg.logFile);
    registerSecret('profile test password', pg.password);
    await pg.psql(FIXTURE(pg.user));
    t = await startTestDaemon({
      plugins: ['@sourced/plugin-postgres'],
      preview: { ...DEFAULT_PREVIEW_SETTINGS, maskColumns: [...DEFAULT_PREVIEW_SETTINGS.maskColumns], maskTypes: [] },
      profile: { defaultSampleRows: 1_000, maxSampleRows: MAX_SAMPLE_ROWS },
    });
  }, 120_000);

  afterEach(async () => {
    await setGate(true);
  });

  afterAll(async () => {
    await t?.stop();
    await pg?.destroy();
  });

  it('sizes the sample and builds its FROM from catalog names and computed numbers only', () => {
    // a block per row wanted, at most the blocks of 20 × the rows, at least those of 3 × the rows and ten;
    // no TABLESAMPLE at 100% or without an estimate
    expect(samplePercent({ kind: 'r', reltuples: 1_000_000, relpages: 10_000 }, 1_000)).toBe(2); // 200 blocks of 100 rows
    expect(samplePercent({ kind: 'r', reltuples: 1_000_000, relpages: 100_000 }, 1_000)).toBe(1); // 1,000 blocks of 10 rows
    expect(samplePercent({ kind: 'r', reltuples: 50_000, relpages: 200 }, 200)).toBe(8); // 16 blocks
    expect(samplePercent({ kind: 'r', reltuples: 1_000, relpages: 8 }, 200)).toBeUndefined();
    expect(samplePercent({ kind: 'r', reltuples: -1, relpages: 0 }, 200)).toBeUndefined();
    expect(samplePercent({ kind: 'v', reltuples: 1e6, relpages: 1e4 }, 200)).toBeUndefined();
    expect(sampleFrom({ schema: 's"1', name: 'T' }, 2.5, 42, 200)).toBe('FROM "s""1"."T" TABLESAMPLE SYSTEM (2.5) REPEATABLE (42) LIMIT 200');
    expect(sampleFrom({ schema: 's', name: 't' }, undefined, 42, 10)).toBe('FROM "s"."t" LIMIT 10');
    expect(() => sampleFrom({ schema: 's', name: 't' }, undefined, 42, 1.5)).toThrow();
    expect(sampleFrom({ schema: 's', name: 't' }, 2.5, 42, 10, true)).toBe(
      `FROM "s"."t" TABLESAMPLE SYSTEM (2.5) REPEATABLE (42) ORDER BY md5(tableoid::text || ctid::text || '42') LIMIT 10`,
    );
    // a view: n rows drawn by a hash of each row's text and the seed, among at most `bound` rows
    expect(viewSampleFrom({ schema: 's', name: 'v"w' }, 200, 42, 10)).toBe(
      `FROM (SELECT * FROM "s"."v""w" LIMIT 200) r ORDER BY md5(ROW(r.*)::text || '42') LIMIT 10`,
    );
    expect(() => viewSampleFrom({ schema: 's', name: 'v' }, 5, 42, 10)).toThrow();
    // statistics' age: the latest of the times asked, or unknown
    const times = { last_analyze: 1_000, last_autoanalyze: 3_000, last_vacuum: 5_000, last_autovacuum: null };
    expect(statisticsAge(times, ['last_analyze', 'last_autoanalyze'])).toEqual({ collectedAt: new Date(3_000), source: 'pg_stat_all_tables.last_autoanalyze' });
    expect(statisticsAge(times, ['last_analyze', 'last_autoanalyze', 'last_vacuum', 'last_autovacuum'])).toEqual({
      collectedAt: new Date(5_000),
      source: 'pg_stat_all_tables.last_vacuum',
    });
    expect(statisticsAge({ last_analyze: null, last_autoanalyze: null, last_vacuum: null, last_autovacuum: null }, ['last_analyze']).source).toMatch(
      /^unknown: /,
    );
    // Duj1: nothing seen once is every value; everything seen once is all-distinct
    expect(duj1(1_000, 20, 0, 200_000)).toBe(20);
    expect(duj1(1_000, 1_000, 1_000, 200_000)).toBe(200_000);
    expect(duj1(1_000, 500, 250, 1_000)).toBe(500);
    expect(downsample([1, 2, 3, 4, 5, 6, 7, 8, 9], 4)).toEqual([1, 3, 5, 7, 9]);
    expect(downsample([1, 2, 3], 10)).toEqual([1, 2, 3]);
  });

  describe('STATISTICS', () => {
    it('reports pg_stats figures of the known data, values rendered by type', async () => {
      const events = await profile(request('known'));
      expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => i + 1));
      expect(kinds(events)).toEqual(['header', 'column', 'column', 'column', 'column', 'column', 'column', 'column', 'summary']);
      const h = header(events);
      expect(h).toMatchObject({
        table: { schema: 'profile_test', name: 'known' },
        mode: ProfileMode.PROFILE_MODE_STATISTICS,
        rowCount: 1000,
        rowCountExact: false,
        sampleRows: 0,
        source: 'pg_stats',
      });
      expect(columns(events).map((c) => [c.name, c.dataType])).toEqual([
        ['id', 'integer'],
        ['category', 'text'],
        ['note', 'text'],
        ['at', 'timestamp with time zone'],
        ['password', 'text'],
        ['price', 'numeric(8,2)'],
        ['late', 'integer'],
      ]);

      // ANALYZE samples up to 30000 rows: with 1000 rows its figures are exact.
      const id = column(events, 'id');
      expect(id).toMatchObject({ nullFraction: 0, distinctCount: 1000, distinctExact: false, averageLength: 4, masked: false, noStatistics: false });
      expect(id.mostCommon).toEqual([]); // every value unique: no most common values
      expect(id.min).toEqual(integer('1'));
      expect(id.max).toEqual(integer('1000'));
      expect(id.histogramBounds).toHaveLength(11); // the default 10 buckets
      const ids = id.histogramBounds.map((b) => Number(cellValue(b)));
      expect(ids[0]).toBe(1);
      expect(ids[10]).toBe(1000);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));

      const category = column(events, 'category');
      expect(category).toMatchObject({ nullFraction: 0, distinctCount: 4, distinctExact: false });
      expect(category.mostCommon.map((m) => m.value)).toEqual([text('alpha'), text('beta'), text('gamma'), text('delta')]);
      const freqs = category.mostCommon.map((m) => m.frequency);
      [0.5, 0.25, 0.15, 0.1].forEach((f, i) => expect(freqs[i]).toBeCloseTo(f, 5)); // float4 in pg_stats
      expect(category.histogramBounds).toEqual([]); // text: no histogram reported
      // min/max of the most common values and histogram bounds (issue 16), in the column's collation
      expect(category.min).toEqual(text('alpha'));
      expect(category.max).toEqual(text('gamma'));

      const note = column(events, 'note');
      expect(note.nullFraction).toBeCloseTo(0.2, 5);
      expect(note.distinctCount).toBe(7);
      expect(note.mostCommon).toHaveLength(7);
      expect(note.mostCommon.map((m) => m.value?.value?.$case)).toEqual(Array(7).fill('text'));
      expect(note.mostCommon.reduce((a, m) => a + m.frequency, 0)).toBeCloseTo(0.8, 4);

      const at = column(events, 'at');
      expect(at).toMatchObject({ nullFraction: 0, distinctCount: 1000, averageLength: 8 });
      expect(at.min).toEqual(timestamp(FIRST_AT));
      expect(at.max).toEqual(timestamp(LAST_AT));
      const times = at.histogramBounds.map((b) => String(cellValue(b)));
      expect(at.histogramBounds.every((b) => b.value?.$case === 'timestamp')).toBe(true);
      expect(times).toEqual([...times].sort());
      expect(times.every((v) => v >= FIRST_AT && v <= LAST_AT)).toBe(true);

      // price: 100 values (x.5) 10 times each: most common values, rendered as decimals
      const price = column(events, 'price');
      expect(price.distinctCount).toBe(100);
      expect(price.mostCommon.length).toBe(10); // the default limit
      expect(price.mostCommon.every((m) => m.value?.value?.$case === 'decimal' && Math.abs(m.frequency - 0.01) < 1e-6)).toBe(true);

      expect(column(events, 'late')).toMatchObject({ noStatistics: true, mostCommon: [], histogramBounds: [] });
      expect(column(events, 'late').nullFraction).toBeUndefined();
      expect(summary(events)).toMatchObject({ columns: 7, maskedColumns: ['password'] });
    });

    it('reads only the catalog (no statement reads the table) and never selects a masked column values', async () => {
      await daemonStatements();
      const events = await profile(request('known', { columns: ['password', 'id'], mostCommonLimit: 3, histogramBuckets: 4 }));
      const password = column(events, 'password');
      expect(password).toMatchObject({ masked: true, nullFraction: 0, distinctCount: 3, mostCommon: [], histogramBounds: [] });
      expect(password.min).toBeUndefined();
      expect(JSON.stringify(events)).not.toContain('hunter2');
      expect(column(events, 'id').histogramBounds).toHaveLength(5);

      const log = await daemonStatements();
      const statements = log.filter((s) => !s.startsWith('parameters:'));
      // every FROM is a catalog (or the catalog query's own CTE, or the statistics' own values passed back), never the table
      const froms = statements.flatMap((s) => [...s.matchAll(/\bFROM\s+([^\s(]+)/gi)].map((m) => m[1]));
      expect(froms.length).toBeGreaterThan(0);
      expect(froms.filter((f) => !/^(pg_\w+|base|unnest)$/.test(f ?? ''))).toEqual([]);
      // the extremes statement unnests parameters only
      expect(statements.filter((s) => /FROM unnest/.test(s)).every((s) => /FROM unnest\(\$\d+::text\[\]::[\w ]+\[\]\) v/.test(s))).toBe(true);
      expect(statements.filter((s) => /known|TABLESAMPLE/.test(s))).toEqual([]);
      expect(statements.some((s) => s.includes('READ ONLY'))).toBe(true);
      // the one pg_stats query: values only of the columns named in $4/$5, the masked one not among them
      const stats = log.findIndex((s) => s.includes('FROM pg_stats'));
      expect(log.filter((s) => s.includes('FROM pg_stats'))).toHaveLength(1);
      const params = parametersOf(log, stats);
      expect(params).toMatch(/\$3 = '\{password,id\}'/);
      expect(params).toMatch(/\$4 = '\{id\}'/);
      expect(params).toMatch(/\$5 = '\{id\}'/);
      expect(log.join('\n')).not.toContain('hunter2');
    });

    it('says no_statistics for a table never analysed (and no row count)', async () => {
      const events = await profile(request('fresh'));
      expect(header(events)?.rowCount).toBeUndefined();
      expect(columns(events).map((c) => [c.name, c.noStatistics])).toEqual([
        ['id', true],
        ['label', true],
      ]);
    });
  });

  describe('SAMPLE', () => {
    it('profiles 200 rows drawn at random from a small table: shares of the sample, distinct counts estimated for the table', async () => {
      await daemonStatements();
      const events = await profile(request('known', { mode: ProfileMode.PROFILE_MODE_SAMPLE, sampleRows: 200 }));
      const h = header(events);
      expect(h).toMatchObject({ mode: ProfileMode.PROFILE_MODE_SAMPLE, rowCount: 1000, rowCountExact: false });
      // under ten pages: no TABLESAMPLE; 200 of the 1000 rows drawn at random (issue 16)
      expect(h?.sampleRows).toBe(200);
      expect(h?.source).toBe('a sample of 200 rows (rows drawn at random from the whole table)');
      expect(h).toMatchObject({ rowCountMethod: FigureMethod.FIGURE_METHOD_STATISTICS, sampleMethod: '200 rows drawn at random from every row' });

      const id = column(events, 'id');
      // 200 of 1000 rows, every one seen once: Duj1 extrapolates to all-distinct, an estimate
      expect(id).toMatchObject({ nullFraction: 0, distinctCount: 1000, distinctExact: false, averageLength: 4 });
      expect(id.methods).toMatchObject({
        nullFraction: FigureMethod.FIGURE_METHOD_SAMPLED,
        distinctCount: FigureMethod.FIGURE_METHOD_SAMPLED,
        minMax: FigureMethod.FIGURE_METHOD_SAMPLED,
      });
      expect(Number(cellValue(id.min))).toBeGreaterThanOrEqual(1);
      expect(Number(cellValue(id.max))).toBeLessThanOrEqual(1000);
      expect(id.histogramBounds).toHaveLength(11);
      const ids = id.histogramBounds.map((b) => Number(cellValue(b)));
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(ids[0]).toBe(Number(cellValue(id.min)));
      expect(ids[10]).toBe(Number(cellValue(id.max)));

      // four values of 10 % and more: all in the sample (a miss has odds under 1e-9), none seen once
      const category = column(events, 'category');
      expect(category).toMatchObject({ nullFraction: 0, distinctCount: 4, distinctExact: false });
      expect(category.mostCommon.map((m) => m.value).sort((x, y) => String(cellValue(x)).localeCompare(String(cellValue(y))))).toEqual([
        text('alpha'),
        text('beta'),
        text('delta'),
        text('gamma'),
      ]);
      expect(category.mostCommon.reduce((a, m) => a + m.frequency, 0)).toBeCloseTo(1, 10);
      expect(category.min).toEqual(text('alpha'));
      expect(category.max).toEqual(text('gamma'));

      // 20 % NULL in the table: the sample's share within 4 standard errors
      const note = column(events, 'note');
      expect(Math.abs((note.nullFraction ?? 0) - 0.2)).toBeLessThanOrEqual(4 * Math.sqrt((0.2 * 0.8) / 200));
      expect(note.distinctCount).toBe(7);
      expect(note.mostCommon.reduce((a, m) => a + m.frequency, 0)).toBeCloseTo(1 - (note.nullFraction ?? 0), 10);

      const at = column(events, 'at');
      const times = at.histogramBounds.map((b) => String(cellValue(b)));
      expect(times).toEqual([...times].sort());
      expect(times.every((v) => v >= FIRST_AT && v <= LAST_AT)).toBe(true);
      expect(String(cellValue(at.min)) >= FIRST_AT && String(cellValue(at.max)) <= LAST_AT).toBe(true);

      const password = column(events, 'password');
      expect(password).toMatchObject({ masked: true, nullFraction: 0, distinctCount: 3, distinctExact: false, mostCommon: [], histogramBounds: [] });
      expect(password.min).toBeUndefined();
      expect(password.max).toBeUndefined();
      expect(JSON.stringify(events)).not.toContain('hunter2');

      // late: all NULL in the sample
      expect(column(events, 'late')).toMatchObject({ nullFraction: 1, distinctCount: 0, noStatistics: false });

      const log = (await daemonStatements()).filter((s) => !s.startsWith('parameters:'));
      const reads = log.filter((s) => s.includes('"profile_test"."known"'));
      expect(reads).toHaveLength(1 + 7); // the count, then one per column
      expect(reads.every((s) => /FROM "profile_test"\."known" ORDER BY md5\(tableoid::text \|\| ctid::text \|\| '\d+'\) LIMIT 200\)/.test(s))).toBe(true);
      expect(log.some((s) => /BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY/.test(s))).toBe(true);
      // the masked column: counts only, none of its values selected
      const pw = reads.filter((s) => s.includes('"password"'));
      expect(pw).toHaveLength(1);
      expect(pw[0]).not.toMatch(/min\(|max\(|percentile_disc|GROUP BY k ORDER BY|array_agg/);
      expect(pw[0]).toMatch(/count\(DISTINCT k\)/);
      expect(log.join('\n')).not.toContain('hunter2');
    });

    it('samples a larger table through TABLESAMPLE SYSTEM ... LIMIT n, never more rows than asked', async () => {
      await daemonStatements();
      const events = await profile(request('big', { mode: ProfileMode.PROFILE_MODE_SAMPLE, sampleRows: 200 }));
      const h = header(events);
      expect(h?.rowCount).toBe(50_000);
      expect(h?.sampleRows).toBeLessThanOrEqual(200);
      expect(h?.source).toMatch(
        /^a sample of \d+ rows \(TABLESAMPLE SYSTEM [\d.]+%, rows drawn at random from its blocks; distinct counts: Haas–Stokes Duj1 estimate\)$/,
      );
      const n = h?.sampleRows ?? 0;
      // at least ten pages of ~220 rows on average: an empty sample has odds of about e^-10
      expect(n).toBeGreaterThan(0);
      const id = column(events, 'id');
      // every id seen once: Duj1 extrapolates to the table's rows
      expect(id).toMatchObject({ nullFraction: n > 0 ? 0 : undefined, distinctCount: 50_000, distinctExact: false });
      const grp = column(events, 'grp');
      expect(grp.distinctCount).toBeLessThanOrEqual(10);
      expect(grp.mostCommon).toHaveLength(grp.distinctCount ?? 0);
      if (n > 0) expect(grp.mostCommon.reduce((a, m) => a + m.frequency, 0)).toBeCloseTo(1, 10);
      expect(grp.mostCommon.every((m) => m.value?.value?.$case === 'integer')).toBe(true);

      const reads = (await daemonStatements()).filter((s) => !s.startsWith('parameters:') && s.includes('"profile_test"."big"'));
      expect(reads).toHaveLength(3);
      expect(
        reads.every((s) =>
          /FROM "profile_test"\."big" TABLESAMPLE SYSTEM \([\d.]+\) REPEATABLE \((\d+)\) ORDER BY md5\(tableoid::text \|\| ctid::text \|\| '\1'\) LIMIT 200\)/.test(
            s,
          ),
        ),
      ).toBe(true);
      // the same seed in every statement: the same sample
      expect(new Set(reads.map((s) => /REPEATABLE \((\d+)\)/.exec(s)?.[1])).size).toBe(1);
    });

    it('cancelling mid-read cancels the statement and closes every session', async () => {
      await setGate(false);
      const stream = profileStream(request('gated', { mode: ProfileMode.PROFILE_MODE_SAMPLE, sampleRows: 10 }));
      stream.on('data', () => undefined);
      const ended = new Promise<{ code?: number }>((resolve) => {
        stream.on('error', (e) => resolve(e as { code?: number }));
        stream.on('end', () => resolve({}));
      });
      expect(await eventually(waitingAtGate, (p) => p.length === 1, 10_000)).toHaveLength(1);
      stream.cancel();
      expect((await ended).code).toBe(1); // CANCELLED
      expect(await eventually(daemonSessions, (p) => p.length === 0, 10_000)).toEqual([]);
    });
  });

  /**
   * HYBRID: the primary's connection (through a proxy) is dropped while the sample is read; the
   * profile goes on on the secondary and still reports every column once.
   */
  it('fails over to the secondary when the primary connection drops mid-profile', async () => {
    const proxy = await startLatencyProxy(pg);
    try {
      const facts = { user: pg.user, password: pg.password, database: pg.database, host: pg.host };
      const reading = async () =>
        (await pg.psql(`SELECT pid FROM pg_stat_activity WHERE application_name = 'sourced' AND state = 'active' AND query LIKE '%"slow"%'`))
          .split('\n')
          .filter(Boolean);
      const call = profile(
        request('slow', {
          mode: ProfileMode.PROFILE_MODE_SAMPLE,
          sampleRows: 10,
          dataSource: hybridSource('postgres', { ...facts, port: proxy.port }, { ...facts, port: pg.port }),
        }),
      );
      call.catch(() => undefined);
      // the primary's session (through the proxy) is reading the slow view: drop it there
      expect(await eventually(reading, (p) => p.length === 1, 10_000)).toHaveLength(1);
      await proxy.close();
      const events = await call;
      expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => i + 1));
      expect(kinds(events)).toEqual(['failover', 'header', 'column', 'summary']);
      const failover = events[0].event as Extract<ProfileTableResponse['event'], { $case: 'failover' }>;
      expect(failover.value.active).toBe(EndpointRole.ENDPOINT_ROLE_SECONDARY);
      const header = events[1].event as Extract<ProfileTableResponse['event'], { $case: 'header' }>;
      expect(header.value.endpoint).toBe(EndpointRole.ENDPOINT_ROLE_SECONDARY);
      expect(columns(events).map((c) => [c.name, c.nullFraction, c.distinctCount])).toEqual([['id', 0, 3]]);
      expect(await eventually(daemonSessions, (p) => p.length === 0, 10_000)).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  describe('errors', () => {
    it('fails INVALID_ARGUMENT naming sample_rows over the maximum', async () => {
      const error = await expectFailure(profile(request('known', { mode: ProfileMode.PROFILE_MODE_SAMPLE, sampleRows: MAX_SAMPLE_ROWS + 1 })));
      expect(error.code).toBe(3);
      expect(richStatusOf(error).badRequest?.map((v) => v.field)).toEqual(['sample_rows']);
    });

    it('fails INVALID_ARGUMENT naming columns[i] for a column the table does not have', async () => {
      const error = await expectFailure(profile(request('known', { columns: ['id', 'nope'] })));
      expect(error.code).toBe(3);
      expect(richStatusOf(error).badRequest?.map((v) => v.field)).toEqual(['columns[1]']);
    });

    it('fails NOT_FOUND with TABLE_NOT_FOUND for a table that is not there', async () => {
      const error = await expectFailure(profile(request('no_such_table')));
      expect(error.code).toBe(5);
      expect(richStatusOf(error).errorInfo?.reason).toBe('TABLE_NOT_FOUND');
      expect((await expectFailure(profile(request('KNOWN', { mode: ProfileMode.PROFILE_MODE_SAMPLE })))).code).toBe(5);
    });
  });
});
