/**
 * Oracle tests of the example's ProfileTable (and the cells it shares with PreviewTable): every
 * expected figure is computed here with SQL the test writes itself, through better-sqlite3, on
 * the same file the daemon reads — never through the plugin's statements.
 *
 * - `shape`, 2,000 rows: skewed, uniform, all-null, all-distinct, all-same, wide (multi-byte)
 *   text, blobs, REAL with a common minimum, NUMERIC, dates as text, and a column without a
 *   declared type holding integers and text. A SAMPLE of 10,000 reads every row: every figure
 *   must be EXACT and equal to the truth.
 * - `big`, 50,000 rows, `grp` following the key: a SAMPLE of 1,000 reads the first 1,000 rows
 *   (SQLite has no TABLESAMPLE; the example keeps to that) and must say so: the header's
 *   sample method, figures labelled SAMPLED, distinct counts not exact — and each figure must
 *   be the exact figure of those 1,000 rows.
 * - STATISTICS: the row estimate of `sqlite_stat1` (read by the test) and no column figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, FigureMethod, ProfileModeEnum, startTestDaemon, type ProfiledColumn, type ProfileTableRequest, type ProfileTableResponse, type TestDaemon } from '@sourced/plugin-sdk/testing';
import { PLUGIN, sqliteSource } from './helpers';

const ROWS = 2_000;
const BIG = 50_000;
const BUCKETS = 10;
/** The cell kind each column of `shape` renders in (by its affinity). */
const KIND: Record<string, string> = {
  id: 'integer',
  skewed: 'integer',
  uniform: 'integer',
  all_null: 'integer',
  all_distinct: 'integer',
  all_same: 'text',
  wide: 'text',
  bin: 'bytesBase64',
  price: 'float',
  amount: 'decimal',
  day: 'decimal', // DATE has NUMERIC affinity; its values are TEXT here: `other` cells
  mixed: 'bytesBase64', // no declared type: BLOB affinity; its values are INTEGER and TEXT: `other` cells
};
const SHAPE = Object.keys(KIND);
const HISTOGRAM = ['id', 'skewed', 'uniform', 'all_distinct', 'price', 'amount', 'day'];

const header = (events: ProfileTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'header' ? [e.event.value] : []))[0];
const column = (events: ProfileTableResponse[], name: string): ProfiledColumn => {
  const c = events.flatMap((e) => (e.event?.$case === 'column' ? [e.event.value] : [])).find((x) => x.name === name);
  if (!c) throw new Error(`no column ${name}`);
  return c;
};
type WireCell = ProfiledColumn['min'];
/** A wire cell as `kind:value`. */
const cell = (c: WireCell): string | undefined => (c?.value === undefined ? undefined : `${c.value.$case}:${String(c.value.value)}`);

describe('sourced-plugin-sqlite ProfileTable: figures against SQLite (oracle)', () => {
  let base: string;
  let db: Database.Database;
  let t: TestDaemon;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'sourced-sqlite-oracle-'));
    db = new Database(join(base, 'oracle.db'));
    db.exec(`
      CREATE TABLE shape (id INTEGER PRIMARY KEY, skewed INTEGER, uniform INTEGER, all_null INTEGER, all_distinct INTEGER, all_same TEXT,
        wide TEXT, bin BLOB, price REAL, amount NUMERIC, day DATE, mixed);
      WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ${ROWS})
      INSERT INTO shape SELECT i,
        CASE WHEN i % 10 < 4 THEN 1 WHEN i % 10 < 7 THEN 9 WHEN i = 1999 THEN 3503 WHEN i = 1997 THEN 3502 ELSE 2 + i % 7 END,
        (i * 7919) % 50, NULL, i * 1000003 * 1000003, 'same',
        CASE WHEN i % 5 = 0 THEN NULL ELSE replace(hex(zeroblob(200 + i % 300)), '00', 'é') END,
        CASE WHEN i % 7 = 0 THEN NULL ELSE randomblob(i % 17) END,
        CASE WHEN i % 2 = 0 THEN 0.99 ELSE 2.98 + i % 50 END,
        CASE WHEN i % 3 = 0 THEN i ELSE i / 8.0 END,
        date('2020-01-01', '+' || (i % 400) || ' days'),
        CASE WHEN i % 4 = 3 THEN 's' || (i % 10) ELSE i % 10 END
      FROM seq;
      CREATE TABLE big (id INTEGER PRIMARY KEY, grp INTEGER, maybe INTEGER);
      WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ${BIG - 1})
      INSERT INTO big SELECT i, i / 2500, CASE WHEN (i * 7) % 10 < 3 THEN NULL ELSE i % 50 END FROM seq;
      ANALYZE;
    `);
    t = await startTestDaemon({ plugins: [PLUGIN], config: { pluginSettings: { sqlite: { root: base } } } });
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    db?.close();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  const request = (table: string, over: Partial<ProfileTableRequest> = {}): ProfileTableRequest => ({
    dataSource: sqliteSource('oracle.db'),
    table: { schema: 'main', name: table },
    columns: [],
    mode: ProfileModeEnum.PROFILE_MODE_SAMPLE,
    sampleRows: 10_000,
    mostCommonLimit: 5,
    histogramBuckets: BUCKETS,
    strategy: 0,
    ...over,
  });
  const profile = (req: ProfileTableRequest) => collect(t.dataSources.profileTable(req));
  const one = <T>(sql: string, ...params: unknown[]) => db.prepare(sql).safeIntegers(true).get(...params) as T;
  const all = <T>(sql: string, ...params: unknown[]) => db.prepare(sql).safeIntegers(true).all(...params) as T[];
  /** The test's own rendering of a value in its column's kind: the value's text when its storage class fits, else SQLite's text as `other`. */
  const expected = (kind: string, v: unknown, storage: string, text: string): string => {
    const fits = { integer: ['integer'], float: ['real', 'integer'], decimal: ['integer', 'real'], text: ['text'], bytesBase64: ['blob'] }[kind] ?? [];
    if (!fits.includes(storage)) return `other:${text}`;
    if (kind === 'bytesBase64') return `${kind}:${Buffer.from(v as Buffer).toString('base64')}`;
    if (kind === 'float') return `${kind}:${Number(v)}`;
    return `${kind}:${String(v)}`;
  };
  /** The bytes SQLite stores a value in (record payload, serial types of the file format), computed here in JavaScript. */
  const storageBytes = (v: unknown): number => {
    if (typeof v === 'bigint') {
      if (v === 0n || v === 1n) return 0;
      for (const [bytes, limit] of [[1, 1n << 7n], [2, 1n << 15n], [3, 1n << 23n], [4, 1n << 31n], [6, 1n << 47n]] as const) if (v >= -limit && v < limit) return bytes;
      return 8;
    }
    if (typeof v === 'number') return 8;
    if (typeof v === 'string') return Buffer.byteLength(v);
    return (v as Buffer).length;
  };
  /** A value of a column at 0-based position k of its non-null values in SQLite's order, with its storage class and text. */
  const at = (from: string, col: string, k: number) =>
    one<{ v: unknown; s: string; t: string }>(`SELECT "${col}" AS v, typeof("${col}") AS s, CAST("${col}" AS TEXT) AS t FROM ${from} WHERE "${col}" IS NOT NULL ORDER BY "${col}" LIMIT 1 OFFSET ?`, k);

  /** Checks every figure of `events` against the exact figures of `from` (the table, or the first rows the test selects itself). */
  const checkExact = (events: ProfileTableResponse[], from: string, columns: string[], kinds: Record<string, string>, histogram: string[]) => {
    const total = Number(one<{ n: bigint }>(`SELECT count(*) AS n FROM ${from}`).n);
    for (const col of columns) {
      const c = column(events, col);
      const q = `"${col}"`;
      const { nulls, distinct } = one<{ nulls: bigint; distinct: bigint }>(
        `SELECT (SELECT count(*) FROM ${from} WHERE ${q} IS NULL) AS nulls, (SELECT count(*) FROM (SELECT DISTINCT ${q} FROM ${from} WHERE ${q} IS NOT NULL)) AS "distinct"`,
      );
      const m = total - Number(nulls);
      expect({ col, nulls: c.nullFraction, distinct: c.distinctCount }).toEqual({ col, nulls: Number(nulls) / total, distinct: Number(distinct) });
      const values = all<{ v: unknown }>(`SELECT ${q} AS v FROM ${from} WHERE ${q} IS NOT NULL`).map((r) => r.v);
      if (m === 0) {
        expect({ col, avg: c.averageLength, min: c.min, top: c.mostCommon, histogram: c.histogramBounds }).toEqual({ col, avg: undefined, min: undefined, top: [], histogram: [] });
        continue;
      }
      expect({ col, avg: c.averageLength }).toEqual({ col, avg: expect.closeTo(values.reduce<number>((a, v) => a + storageBytes(v), 0) / m, 9) });
      const min = at(from, col, 0);
      const max = at(from, col, m - 1);
      const kind = kinds[col] ?? 'other';
      expect({ col, min: cell(c.min), max: cell(c.max) }).toEqual({ col, min: expected(kind, min.v, min.s, min.t), max: expected(kind, max.v, max.s, max.t) });
      const top = all<{ v: unknown; s: string; t: string; n: bigint }>(
        `SELECT ${q} AS v, typeof(${q}) AS s, CAST(${q} AS TEXT) AS t, count(*) AS n FROM ${from} WHERE ${q} IS NOT NULL GROUP BY ${q} ORDER BY n DESC, ${q} LIMIT 5`,
      );
      expect({ col, top: c.mostCommon.map((x) => [cell(x.value), x.frequency]) }).toEqual({ col, top: top.map((r) => [expected(kind, r.v, r.s, r.t), Number(r.n) / total]) });
      if (histogram.includes(col)) {
        const truth = Array.from({ length: BUCKETS + 1 }, (_v, i) => at(from, col, Math.max(0, Math.ceil((i * m) / BUCKETS) - 1))).map((x) => expected(kind, x.v, x.s, x.t));
        expect({ col, histogram: c.histogramBounds.map(cell) }).toEqual({ col, histogram: truth });
      } else expect({ col, histogram: c.histogramBounds }).toEqual({ col, histogram: [] });
    }
  };

  it('SAMPLE that reads every row: every figure EXACT and equal to what SQLite answers', async () => {
    const events = await profile(request('shape'));
    expect(header(events)).toMatchObject({ rowCount: ROWS, rowCountExact: true, rowCountMethod: FigureMethod.FIGURE_METHOD_EXACT, sampleRows: ROWS, sampleMethod: 'every row' });
    checkExact(events, 'shape', SHAPE, KIND, HISTOGRAM);
    for (const col of SHAPE) {
      const c = column(events, col);
      expect(c.distinctExact).toBe(true);
      const methods = Object.values(c.methods ?? {}).filter((x) => x !== FigureMethod.FIGURE_METHOD_UNSPECIFIED);
      expect({ col, methods: new Set(methods) }).toEqual({ col, methods: new Set([FigureMethod.FIGURE_METHOD_EXACT]) });
    }
    // the fixture's cases: repeated first deciles kept, a common minimum, mixed storage classes as `other`
    expect(column(events, 'skewed').histogramBounds.slice(0, 4).map(cell)).toEqual(Array(4).fill('integer:1'));
    expect(cell(column(events, 'price').min)).toBe('float:0.99');
    expect(cell(column(events, 'mixed').max)).toBe('other:s9');
  });

  it('SAMPLE of part of a table: the first rows, said so, labelled SAMPLED, and exact over those rows', async () => {
    const events = await profile(request('big', { sampleRows: 1_000 }));
    const [stat] = String(one<{ stat: string }>(`SELECT stat FROM sqlite_stat1 WHERE tbl = 'big' AND idx IS NULL`)?.stat ?? one<{ stat: string }>(`SELECT stat FROM sqlite_stat1 WHERE tbl = 'big'`).stat).split(' ');
    expect(header(events)).toMatchObject({
      rowCount: Number(stat),
      rowCountExact: false,
      rowCountMethod: FigureMethod.FIGURE_METHOD_STATISTICS,
      sampleRows: 1_000,
      sampleMethod: 'the first 1000 rows in primary-key order',
    });
    checkExact(events, '(SELECT * FROM big ORDER BY id LIMIT 1000)', ['id', 'grp', 'maybe'], { id: 'integer', grp: 'integer', maybe: 'integer' }, ['id', 'grp', 'maybe']);
    for (const col of ['id', 'grp', 'maybe']) {
      const c = column(events, col);
      expect({ col, exact: c.distinctExact, method: c.methods?.distinctCount, nulls: c.methods?.nullFraction }).toEqual({
        col,
        exact: false,
        method: FigureMethod.FIGURE_METHOD_SAMPLED,
        nulls: FigureMethod.FIGURE_METHOD_SAMPLED,
      });
    }
  });

  it('STATISTICS: the row estimate of sqlite_stat1 and no column figures', async () => {
    const events = await profile(request('big', { mode: ProfileModeEnum.PROFILE_MODE_STATISTICS }));
    const stat = one<{ stat: string }>(`SELECT stat FROM sqlite_stat1 WHERE tbl = 'big'`).stat;
    expect(header(events)).toMatchObject({ rowCount: Number(stat.split(' ')[0]), rowCountExact: false, rowCountMethod: FigureMethod.FIGURE_METHOD_STATISTICS, sampleRows: 0 });
    for (const col of ['id', 'grp', 'maybe']) expect(column(events, col)).toMatchObject({ noStatistics: true, nullFraction: undefined, distinctCount: undefined });
  });
});
