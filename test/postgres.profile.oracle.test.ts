/**
 * Oracle tests of ProfileTable's figures on PostgreSQL (issue 16): every expected figure is
 * computed here with plain SQL of the test's own against a real server — the true figures
 * from the table itself, and the STATISTICS figures by decoding pg_stats's own arrays — never
 * through the connector's queries. Fixture columns: skewed (the extremes among the most common
 * values), uniform, all-null, all-distinct, all-MCV (no histogram at all), text in the "C"
 * collation and in the database's, numeric with a common minimum, dates (BC and infinity),
 * timestamps (BC, ±infinity), bytea, bit(10), jsonb and a generated (STORED) column; text
 * stored out of line (TOAST); a large table whose ANALYZE samples; a view and a never-analysed
 * table whose first rows are one value; a table whose cumulative statistics were reset; and a
 * materialized view created WITH NO DATA.
 *
 * Why one file (~510 lines): every case compares against one fixture server whose ANALYZE and statistics state the set-up
 * fixes once (a second file would need a second server and a second ANALYZE).
 */
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from '@sourced/api';
import type { PreviewTableRequest, ProfileTableRequest, ProfileTableResponse } from '@sourced/api';
import { DiscoveryStrategy } from '@sourced/api';
import type { Cell } from '@sourced/api';
import { FigureMethod, ProfileMode, type ColumnProfile } from '@sourced/api';
import { startPostgres, type PostgresInstance } from './harness/postgres';
import { registerSecret } from './support/secretScan';
import { collect, expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

// shape: 2,000 rows, so ANALYZE (300 × the default statistics target of 100 = 30,000 rows)
// reads every row and the statistics' extremes are the true ones.
// wide: 200,000 rows with a statistics target of 10: ANALYZE reads a sample of 3,000.
const FIXTURE = (role: string) => `
CREATE SCHEMA oracle;
CREATE TABLE oracle.shape (
  id int PRIMARY KEY,
  skewed int,        -- 1 in 40 % of the rows, 9 in 30 %, the rest 2..8 and a rare 3502 and 3503
  uniform int,       -- 1..2000 in a shuffled order
  all_null int,
  all_distinct bigint,
  all_mcv int,       -- three values only: every value is a most common value, no histogram
  price numeric(8,2),-- 0.99 (the minimum) in half of the rows
  label text COLLATE "C",
  word text,         -- the database's collation
  day date,
  blob bytea,        -- one byte 00 in a third of the rows, else 16 bytes
  flags bit(10),
  doc jsonb,         -- 40 distinct objects
  at timestamptz,    -- -infinity and infinity once each, 44 BC in a tenth of the rows
  old date,          -- infinity once, dates BC in a seventh of the rows
  doubled int GENERATED ALWAYS AS (uniform * 2) STORED
) WITH (autovacuum_enabled = false);

INSERT INTO oracle.shape
SELECT i,
       CASE WHEN i % 10 < 4 THEN 1 WHEN i % 10 < 7 THEN 9 WHEN i = 1999 THEN 3503 WHEN i = 1997 THEN 3502 ELSE 2 + i % 7 END,
       (i * 7919) % 2000 + 1,
       NULL,
       i::bigint * 1000003,
       CASE WHEN i % 3 = 0 THEN 10 WHEN i % 3 = 1 THEN 20 ELSE 30 END,
       CASE WHEN i % 2 = 0 THEN 0.99 ELSE 2.98 + (i % 50) END,
       CASE WHEN i % 4 = 0 THEN 'Zed' WHEN i % 4 = 1 THEN 'apple' ELSE 'label ' || (i % 40) END,
       CASE WHEN i % 5 = 0 THEN 'b' WHEN i % 5 = 1 THEN 'A' ELSE 'word ' || i END,
       date '2020-01-01' + (CASE WHEN i % 3 = 0 THEN 0 ELSE i END),
       CASE WHEN i % 3 = 0 THEN decode('00', 'hex') ELSE decode(md5(i::text), 'hex') END,
       ((i * 31) % 683)::bit(10),
       jsonb_build_object('k', i % 20, 'tag', CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END),
       CASE WHEN i = 1 THEN '-infinity'::timestamptz WHEN i = 2 THEN 'infinity'::timestamptz
            WHEN i % 10 = 3 THEN '0044-03-15 12:00:00+00 BC'::timestamptz ELSE timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour' END,
       CASE WHEN i = 5 THEN 'infinity'::date WHEN i % 7 = 0 THEN date '0100-01-01 BC' + i ELSE date '2000-01-01' + i END
FROM generate_series(1, 2000) i;
ANALYZE oracle.shape;

-- long_text: 25 % null, else one of 700 values of 2,240 incompressible bytes, stored out of line (TOAST)
CREATE TABLE oracle.toasted (id int, long_text text, note text) WITH (autovacuum_enabled = false);
ALTER TABLE oracle.toasted ALTER COLUMN long_text SET STORAGE EXTERNAL;
INSERT INTO oracle.toasted
SELECT i, CASE WHEN i % 4 = 0 THEN NULL ELSE (SELECT string_agg(md5((i % 700)::text || '-' || j), '') FROM generate_series(1, 70) j) END, 'n' || (i % 9)
FROM generate_series(1, 2000) i;
ANALYZE oracle.toasted;

CREATE TABLE oracle.wide (id int, v int, grp int) WITH (autovacuum_enabled = false);
ALTER TABLE oracle.wide ALTER COLUMN v SET STATISTICS 10;
ALTER TABLE oracle.wide ALTER COLUMN grp SET STATISTICS 10;
INSERT INTO oracle.wide SELECT i, ((i::bigint * 104729) % 200000)::int, CASE WHEN i % 4 = 0 THEN 0 ELSE i % 5000 END FROM generate_series(1, 200000) i;
ANALYZE oracle.wide;

-- clustered: grp follows the physical order (30 runs of 10,000 rows: 300,000 rows), so the first rows of a
-- few blocks see one or two of its values; rare: NULL in 30 % of the rows, spread evenly.
CREATE TABLE oracle.clustered (id int, grp int, maybe int) WITH (autovacuum_enabled = false);
INSERT INTO oracle.clustered SELECT i, i / 10000, CASE WHEN (i * 7) % 10 < 3 THEN NULL ELSE i % 50 END FROM generate_series(0, 299999) i;
ANALYZE oracle.clustered;

-- ordered: the first 5,000 rows in storage order hold v = 0, the next 5,000 the values 1..5000
-- once each; a view over it. unanalysed: the same shape over 200,000 rows, never analysed.
CREATE TABLE oracle.ordered (id int, v int) WITH (autovacuum_enabled = false);
INSERT INTO oracle.ordered SELECT i, CASE WHEN i <= 5000 THEN 0 ELSE i - 5000 END FROM generate_series(1, 10000) i;
CREATE VIEW oracle.ordered_view AS SELECT id, v FROM oracle.ordered;
CREATE TABLE oracle.unanalysed (id int, v int) WITH (autovacuum_enabled = false);
INSERT INTO oracle.unanalysed SELECT i, CASE WHEN i <= 100000 THEN 0 ELSE i - 100000 END FROM generate_series(1, 200000) i;
-- forgotten: analysed, then its cumulative statistics reset (no ANALYZE time left)
CREATE TABLE oracle.forgotten (id int) WITH (autovacuum_enabled = false);
INSERT INTO oracle.forgotten SELECT generate_series(1, 100);
ANALYZE oracle.forgotten;
SELECT pg_stat_reset_single_table_counters('oracle.forgotten'::regclass);

CREATE MATERIALIZED VIEW oracle.unfilled AS SELECT id, skewed FROM oracle.shape WITH NO DATA;

GRANT USAGE ON SCHEMA oracle TO ${role};
GRANT SELECT ON ALL TABLES IN SCHEMA oracle TO ${role};
`;

/** The columns of `shape` with the SQL type (and collation) the test decodes pg_stats's values in. */
const SHAPE: Record<string, string> = {
  id: 'int',
  skewed: 'int',
  uniform: 'int',
  all_null: 'int',
  all_distinct: 'bigint',
  all_mcv: 'int',
  price: 'numeric',
  label: 'text COLLATE "C"',
  word: 'text',
  day: 'date',
  blob: 'bytea',
  flags: 'bit(10)',
  doc: 'jsonb',
  at: 'timestamptz',
  old: 'date',
  doubled: 'int',
};
const SHAPE_COLUMNS = Object.keys(SHAPE);
/** Columns of types without min/max in a profile (bytea, bit strings and JSON are not reported as ordered). */
const UNORDERED = new Set(['blob', 'flags', 'doc']);

const columns = (events: ProfileTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'column' ? [e.event.value] : []));
const header = (events: ProfileTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'header' ? [e.event.value] : []))[0];
const column = (events: ProfileTableResponse[], name: string): ColumnProfile => {
  const c = columns(events).find((x) => x.name === name);
  if (!c) throw new Error(`no column ${name}`);
  return c;
};
/** A cell's value as text (the renderings of integer, decimal, text and date are the server's text forms here). */
const value = (c: Cell | undefined): string | undefined => (c?.value === undefined || c.value.$case === 'null' ? undefined : String(c.value.value));
/**
 * PostgreSQL's text of a value (TimeZone UTC, DateStyle ISO) in the preview's documented
 * encoding, written here from the README's rules: dates and timestamps with years BC in ISO
 * 8601's astronomical numbering (44 BC is -0043), `infinity`/`-infinity` kept, a timestamptz
 * with T and a +00:00 offset; other types as PostgreSQL prints them.
 */
const asCell = (column: string, text: string | undefined): string | undefined => {
  const type = SHAPE[column] ?? 'text';
  if (text === undefined || !['date', 'timestamptz'].includes(type) || /infinity$/.test(text)) return text;
  const m = /^(\d{4,})(-\d{2}-\d{2})(?: (\d{2}:\d{2}:\d{2}(?:\.\d+)?)\+00)?( BC)?$/.exec(text);
  if (!m) throw new Error(`unexpected ${type} text ${text}`);
  const year = m[4] ? 1 - Number(m[1]) : Number(m[1]);
  const y = year < 0 ? `-${String(-year).padStart(4, '0')}` : String(year).padStart(4, '0');
  return type === 'date' ? `${y}${m[2]}` : `${y}${m[2]}T${m[3]}+00:00`;
};

describe('ProfileTable on PostgreSQL: figures against the server (oracle)', () => {
  let pg: PostgresInstance;
  let t: TestDaemon;

  const source = () =>
    DataSource.fromPartial({
      type: 'postgres',
      primary: { host: pg.host, port: pg.port, database: pg.database },
      credentials: { username: pg.user, password: { source: { $case: 'inlineValue', value: pg.password } } },
    });
  const request = (name: string, over: Partial<ProfileTableRequest> = {}): ProfileTableRequest => ({
    dataSource: source(),
    table: { schema: 'oracle', name },
    columns: [],
    mode: ProfileMode.PROFILE_MODE_STATISTICS,
    sampleRows: 0,
    mostCommonLimit: 0,
    histogramBuckets: 0,
    strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_BALANCED,
    ...over,
  });
  const profile = (req: ProfileTableRequest) => collect(t.dataSources.profileTable(req, new Metadata(), { deadline: Date.now() + 60_000 }));
  /** One row of the test's own SQL, as text, columns separated by `|` (psql -A -t). */
  const sql = async (statement: string): Promise<(string | undefined)[]> =>
    (await pg.psql(`SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; ${statement}`))
      .replace(/\n$/, '')
      .split('|')
      .map((v) => (v === '' ? undefined : v));

  /** The extremes of what pg_stats keeps of a column (most common values and histogram bounds), decoded here in its own type. */
  const statsExtremes = (table: string, col: string, typed: string) => {
    const [type, collate] = typed.split(/ (?=COLLATE)/);
    return sql(`SELECT min(v ${collate ?? ''})::text, max(v ${collate ?? ''})::text FROM pg_stats s,
           unnest(coalesce(s.most_common_vals::text::${type}[], '{}') || coalesce(s.histogram_bounds::text::${type}[], '{}')) v
         WHERE s.schemaname = 'oracle' AND s.tablename = '${table}' AND s.attname = '${col}'`);
  };

  beforeAll(async () => {
    pg = await startPostgres();
    registerSecret('oracle test password', pg.password);
    await pg.psql(FIXTURE(pg.user));
    t = await startTestDaemon({ plugins: ['@sourced/plugin-postgres'], profile: { defaultSampleRows: 10_000, maxSampleRows: 100_000 } });
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    await pg?.destroy();
  });

  /**
   * Defect 1: min/max in STATISTICS include the most common values. ANALYZE read every row of
   * `shape`, so they equal the true extremes; a column that is all most-common values still
   * has both.
   */
  it('STATISTICS min/max equal the true extremes when ANALYZE read every row, most common values included', async () => {
    const events = await profile(request('shape'));
    for (const name of SHAPE_COLUMNS) {
      const c = column(events, name);
      if (UNORDERED.has(name)) {
        expect({ name, min: c.min, max: c.max }).toEqual({ name, min: undefined, max: undefined });
        continue;
      }
      // what pg_stats holds, decoded by the test
      const [smin, smax] = await statsExtremes('shape', name, SHAPE[name] ?? 'text');
      expect({ name, min: value(c.min), max: value(c.max) }).toEqual({ name, min: asCell(name, smin), max: asCell(name, smax) });
      // and the true extremes, in the column's own collation, as the server compares it: the same
      const [min, max] = await sql(`SELECT min(${name})::text, max(${name})::text FROM oracle.shape`);
      expect({ name, min: value(c.min), max: value(c.max) }).toEqual({ name, min: asCell(name, min), max: asCell(name, max) });
    }
    // the special values: -infinity and infinity are the extremes, years BC are ordered before AD
    expect([value(column(events, 'at').min), value(column(events, 'at').max)]).toEqual(['-infinity', 'infinity']);
    expect(value(column(events, 'old').min)).toMatch(/^-0099-/);
    // the cases of the issue: a common minimum, a rare maximum beside common values, all common
    expect(value(column(events, 'price').min)).toBe('0.99');
    expect(column(events, 'all_mcv').histogramBounds).toEqual([]);
    expect(value(column(events, 'all_mcv').min)).toBeDefined();
    const [mcvOnly] = await sql(`SELECT histogram_bounds IS NULL FROM pg_stats WHERE tablename = 'shape' AND attname = 'all_mcv'`);
    expect(mcvOnly).toBe('t');
  });

  /** Where ANALYZE sampled, min/max are what pg_stats itself holds (decoded by the test), within the true range, and labelled as statistics. */
  it('STATISTICS min/max of a sampled ANALYZE are the extremes of pg_stats, inside the true range', async () => {
    const events = await profile(request('wide'));
    expect(header(events)?.source).toBe('pg_stats');
    for (const name of ['v', 'grp']) {
      const c = column(events, name);
      const [smin, smax] = await statsExtremes('wide', name, 'int');
      const [tmin, tmax] = await sql(`SELECT min(${name}), max(${name}) FROM oracle.wide`);
      expect({ name, min: value(c.min), max: value(c.max) }).toEqual({ name, min: smin, max: smax });
      expect(Number(value(c.min))).toBeGreaterThanOrEqual(Number(tmin));
      expect(Number(value(c.max))).toBeLessThanOrEqual(Number(tmax));
      expect(c.distinctExact).toBe(false);
    }
  });

  /** The other STATISTICS figures are pg_stats's, decoded by the test; all-null has no average length and no extremes. */
  it('STATISTICS null fraction, distinct count, most common values and average length are those of pg_stats', async () => {
    const events = await profile(request('shape', { mostCommonLimit: 100 }));
    for (const name of SHAPE_COLUMNS) {
      const c = column(events, name);
      const [nullFrac, nDistinct, avgWidth, mcvCount] = await sql(
        `SELECT null_frac, n_distinct, avg_width, coalesce(array_length(most_common_vals::text::text[], 1), 0) FROM pg_stats WHERE schemaname = 'oracle' AND tablename = 'shape' AND attname = '${name}'`,
      );
      const [reltuples] = await sql(`SELECT reltuples FROM pg_class WHERE oid = 'oracle.shape'::regclass`);
      expect(c.nullFraction).toBeCloseTo(Number(nullFrac), 6);
      const nd = Number(nDistinct);
      const expected = nd > 0 ? nd : nd < 0 ? Math.round(-nd * Number(reltuples)) : 0;
      expect({ name, distinct: c.distinctCount }).toEqual({ name, distinct: expected });
      expect(c.mostCommon).toHaveLength(Number(mcvCount));
      // every figure says it comes from the statistics (estimates)
      const methods = Object.values(c.methods ?? {}).filter((m) => m !== FigureMethod.FIGURE_METHOD_UNSPECIFIED);
      expect(methods.length).toBeGreaterThan(0);
      expect(new Set(methods)).toEqual(new Set([FigureMethod.FIGURE_METHOD_STATISTICS]));
      if (Number(nullFrac) >= 1) {
        expect(c.averageLength).toBeUndefined();
        expect(c.min).toBeUndefined();
      } else expect(c.averageLength).toBe(Number(avgWidth));
    }
  });

  /**
   * Defect 5: average_length is one thing in both modes: the mean storage size in bytes of a
   * non-null value, pg_column_size (computed here by the test). A SAMPLE of a table smaller
   * than the sample reads every row; STATISTICS keeps whole bytes (avg_width, truncated).
   */
  it('average_length is the mean pg_column_size of the non-null values, in both modes', async () => {
    const [sampled, stats] = [await profile(request('shape', { mode: ProfileMode.PROFILE_MODE_SAMPLE })), await profile(request('shape'))];
    // the sample (10,000 asked) read every row: counted, exact, and said so
    const [count] = await sql(`SELECT count(*) FROM oracle.shape`);
    expect(header(sampled)).toMatchObject({
      rowCount: Number(count),
      rowCountExact: true,
      rowCountMethod: FigureMethod.FIGURE_METHOD_EXACT,
      sampleMethod: 'every row',
    });
    expect(header(stats)).toMatchObject({ rowCountExact: false, rowCountMethod: FigureMethod.FIGURE_METHOD_STATISTICS, sampleMethod: '' });
    for (const name of SHAPE_COLUMNS) {
      const c = column(sampled, name);
      const extremes = UNORDERED.has(name) ? 'NULL, NULL' : `min(${name})::text, max(${name})::text`;
      const [nulls, distinct, min, max] = await sql(`SELECT avg((${name} IS NULL)::int)::float8, count(DISTINCT ${name}), ${extremes} FROM oracle.shape`);
      expect({ name, nulls: c.nullFraction, distinct: c.distinctCount, exact: c.distinctExact, min: value(c.min), max: value(c.max) }).toEqual({
        name,
        nulls: Number(nulls),
        distinct: Number(distinct),
        exact: true,
        min: asCell(name, min),
        max: asCell(name, max),
      });
      expect(c.methods).toMatchObject({ nullFraction: FigureMethod.FIGURE_METHOD_EXACT, distinctCount: FigureMethod.FIGURE_METHOD_EXACT });
    }
    for (const name of SHAPE_COLUMNS) {
      const [avg] = await sql(`SELECT avg(pg_column_size(${name}))::float8 FROM oracle.shape`);
      if (avg === undefined) {
        expect(column(sampled, name).averageLength).toBeUndefined();
        continue;
      }
      expect(column(sampled, name).averageLength).toBeCloseTo(Number(avg), 9);
      expect(column(stats, name).averageLength).toBe(Math.trunc(Number(avg)));
    }
  });

  /**
   * Defect 2: SAMPLE of part of a table is uniform over the whole table. Repeated (each run
   * draws its own seed), on a column that follows the physical order: the sample's null
   * fraction stays within 4 standard errors of the truth (computed here), the distinct count
   * of a 30-value column within a factor 1.25, min and max inside the true range, and nothing
   * claims to be exact.
   */
  it('SAMPLE of part of a table: uniform over the table, estimates labelled SAMPLED, over several seeds', async () => {
    const [trueDistinct, trueNulls, tmin, tmax] = (
      await sql(`SELECT count(DISTINCT grp), avg((maybe IS NULL)::int)::float8, min(grp), max(grp) FROM oracle.clustered`)
    ).map(Number);
    for (let run = 0; run < 4; run++) {
      const events = await profile(request('clustered', { mode: ProfileMode.PROFILE_MODE_SAMPLE, sampleRows: 1_000 }));
      const h = header(events);
      const n = h?.sampleRows ?? 0;
      expect(n).toBe(1_000);
      expect(h).toMatchObject({ rowCountExact: false, rowCountMethod: FigureMethod.FIGURE_METHOD_STATISTICS });
      const grp = column(events, 'grp');
      expect(grp.distinctExact).toBe(false);
      expect(grp.methods?.distinctCount).toBe(FigureMethod.FIGURE_METHOD_SAMPLED);
      expect({ run, distinct: grp.distinctCount }).toMatchObject({ run });
      expect(grp.distinctCount ?? 0).toBeGreaterThanOrEqual(trueDistinct / 1.25);
      expect(grp.distinctCount ?? 0).toBeLessThanOrEqual(trueDistinct * 1.25);
      expect(Number(value(grp.min))).toBeGreaterThanOrEqual(tmin);
      expect(Number(value(grp.max))).toBeLessThanOrEqual(tmax);
      const maybe = column(events, 'maybe');
      const se = Math.sqrt((trueNulls * (1 - trueNulls)) / n);
      expect(Math.abs((maybe.nullFraction ?? 0) - trueNulls)).toBeLessThanOrEqual(4 * se);
      // the id column is all-distinct: the estimator extrapolates it to about the table's rows
      const id = column(events, 'id');
      expect(id.distinctCount ?? 0).toBeGreaterThan(300_000 / 1.25);
    }
  });

  /**
   * A column stored out of line (TOAST: values over 2 kB): ANALYZE keeps none of its values
   * (nothing over 1 kB) and counts each as its 18-byte pointer in avg_width, so STATISTICS has
   * no min/max and no average length for it (nor for the table's other columns that may be
   * stored out of line) rather than wrong ones; its counts are pg_stats's; SAMPLE reads the
   * values themselves.
   */
  it('TOAST: STATISTICS reports no min/max or average length rather than the pointer size; SAMPLE reads the values', async () => {
    const [stats, sampled] = [await profile(request('toasted')), await profile(request('toasted', { mode: ProfileMode.PROFILE_MODE_SAMPLE }))];
    const [toast] = await sql(`SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'oracle.toasted'::regclass`);
    expect(Number(toast)).toBeGreaterThan(0);
    const [noMcv, noHistogram, avgWidth, nullFrac, nDistinct, reltuples] = await sql(
      `SELECT most_common_vals IS NULL, histogram_bounds IS NULL, avg_width, null_frac, n_distinct, (SELECT reltuples FROM pg_class WHERE oid = 'oracle.toasted'::regclass)
       FROM pg_stats WHERE schemaname = 'oracle' AND tablename = 'toasted' AND attname = 'long_text'`,
    );
    const [avgSize, min, max, nulls, distinct] = await sql(
      `SELECT avg(pg_column_size(long_text))::float8, min(long_text), max(long_text), avg((long_text IS NULL)::int)::float8, count(DISTINCT long_text) FROM oracle.toasted`,
    );
    expect([noMcv, noHistogram]).toEqual(['t', 't']);
    expect(Number(avgWidth)).toBeLessThan(Number(avgSize) / 10); // the pointer, not the value
    const s = column(stats, 'long_text');
    expect({ min: s.min, max: s.max, averageLength: s.averageLength }).toEqual({ min: undefined, max: undefined, averageLength: undefined });
    expect(s.nullFraction).toBeCloseTo(Number(nullFrac), 6);
    const nd = Number(nDistinct);
    expect(s.distinctCount).toBe(nd > 0 ? nd : Math.round(-nd * Number(reltuples)));
    expect(column(stats, 'note').averageLength).toBeUndefined();
    expect(column(stats, 'id').averageLength).toBe(4);
    const w = column(sampled, 'long_text');
    expect({ min: value(w.min), max: value(w.max), nulls: w.nullFraction, distinct: w.distinctCount }).toEqual({
      min,
      max,
      nulls: Number(nulls),
      distinct: Number(distinct),
    });
    expect(w.averageLength).toBeCloseTo(Number(avgSize), 6);
  });

  /**
   * STATISTICS figures carry their age: the later of pg_stat_user_tables's last_analyze and
   * last_autoanalyze, read here by the test; the row count's also counts VACUUM (it sets
   * reltuples too). A table whose cumulative statistics were reset says the time is unknown.
   */
  it('STATISTICS figures carry the age of the last ANALYZE, as pg_stat_user_tables says', async () => {
    const ms = (a: { collectedAt?: { seconds: number; nanos: number } } | undefined) =>
      a?.collectedAt ? a.collectedAt.seconds * 1000 + a.collectedAt.nanos / 1e6 : undefined;
    const times = async (table: string) =>
      (
        await sql(
          `SELECT extract(epoch FROM last_analyze) * 1000, extract(epoch FROM last_autoanalyze) * 1000, extract(epoch FROM last_vacuum) * 1000, extract(epoch FROM last_autovacuum) * 1000
           FROM pg_stat_user_tables WHERE relid = 'oracle.${table}'::regclass`,
        )
      ).map((v) => (v === undefined ? undefined : Math.trunc(Number(v))));
    const latest = (values: (number | undefined)[]) =>
      values.some((v) => v !== undefined) ? Math.max(...values.filter((v): v is number => v !== undefined)) : undefined;
    const [analyze, autoanalyze, vacuum, autovacuum] = await times('shape');
    expect(analyze).toBeDefined();
    const events = await profile(request('shape'));
    expect(ms(header(events)?.statisticsAge)).toBe(latest([analyze, autoanalyze, vacuum, autovacuum]));
    for (const c of columns(events)) {
      expect({ name: c.name, at: ms(c.statisticsAge), source: c.statisticsAge?.source }).toEqual({
        name: c.name,
        at: latest([analyze, autoanalyze]),
        source: analyze === latest([analyze, autoanalyze]) ? 'pg_stat_all_tables.last_analyze' : 'pg_stat_all_tables.last_autoanalyze',
      });
    }
    // SAMPLE: the row count is still reltuples (its age is told); the figures are the sample's (none)
    const sampled = await profile(request('clustered', { mode: ProfileMode.PROFILE_MODE_SAMPLE, sampleRows: 100 }));
    expect(ms(header(sampled)?.statisticsAge)).toBe(latest(await times('clustered')));
    expect(columns(sampled).map((c) => c.statisticsAge)).toEqual(columns(sampled).map(() => undefined));
    // statistics whose time the server no longer keeps: unknown, and said so
    expect(await times('forgotten')).toEqual([undefined, undefined, undefined, undefined]);
    const forgotten = await profile(request('forgotten'));
    expect(header(forgotten)?.statisticsAge?.collectedAt).toBeUndefined();
    expect(header(forgotten)?.statisticsAge?.source).toMatch(/^unknown: /);
    expect(column(forgotten, 'id').statisticsAge?.source).toMatch(/^unknown: pg_stat_all_tables has no last_analyze, last_autoanalyze time/);
  });

  /**
   * Views and never-analysed tables (issue 16 leftover): their SAMPLE is drawn at random, not
   * their first rows — a view over a table whose first half in storage order is one value,
   * and a never-analysed table of that shape. Several runs (each its own seed): the share of
   * that value stays within 4 standard errors of the truth (computed here; for the table, of a
   * sample of the blocks TABLESAMPLE drew, its units, not of n rows), the largest value
   * comes from the second half, and the header says how the rows were drawn.
   */
  it('SAMPLE of a view or a never-analysed table is drawn at random, not the first rows', async () => {
    const [viewRows, viewZero] = (await sql(`SELECT count(*), avg((v = 0)::int)::float8 FROM oracle.ordered_view`)).map(Number);
    const [tableRows, tableZero, reltuples] = (
      await sql(`SELECT count(*), avg((v = 0)::int)::float8, (SELECT reltuples FROM pg_class WHERE oid = 'oracle.unanalysed'::regclass) FROM oracle.unanalysed`)
    ).map(Number);
    expect(reltuples).toBe(-1); // never analysed
    const [tableBlocks] = (await sql(`SELECT pg_relation_size('oracle.unanalysed') / current_setting('block_size')::int`)).map(Number);
    const n = 1_000;
    for (let run = 0; run < 4; run++) {
      for (const [name, p, rows] of [
        ['ordered_view', viewZero, viewRows],
        ['unanalysed', tableZero, tableRows],
      ] as const) {
        const events = await profile(request(name, { mode: ProfileMode.PROFILE_MODE_SAMPLE, sampleRows: n, mostCommonLimit: 1 }));
        const h = header(events);
        expect(h?.sampleRows).toBe(n);
        const v = column(events, 'v');
        const zero = v.mostCommon[0];
        expect({ run, name, top: value(zero?.value) }).toEqual({ run, name, top: '0' });
        // the units drawn at random: rows of the view; whole blocks of the table (TABLESAMPLE SYSTEM at p %
        // of its blocks), whose rows are alike here, so the standard error is the blocks' (at most)
        const percent = Number(/^TABLESAMPLE SYSTEM \(([\d.]+)%\)/.exec(h?.sampleMethod ?? '')?.[1] ?? 100);
        const units = name === 'ordered_view' ? n : Math.min(n, (percent / 100) * tableBlocks);
        const se = Math.sqrt((p * (1 - p)) / units);
        expect({ run, name, share: zero?.frequency, within: Math.abs((zero?.frequency ?? 0) - p) <= 4 * se }).toMatchObject({ run, name, within: true });
        expect(Number(value(v.max))).toBeGreaterThan(rows / 4);
        expect(v.methods?.distinctCount).toBe(FigureMethod.FIGURE_METHOD_SAMPLED);
        if (name === 'ordered_view') {
          // 20 × n rows at most are read: this view is read whole, its rows counted
          expect(h).toMatchObject({ rowCount: rows, rowCountExact: true, rowCountMethod: FigureMethod.FIGURE_METHOD_EXACT });
          expect(h?.sampleMethod).toBe(`${n} rows drawn at random from every row of the view (${rows}, read whole: at most ${20 * n} rows are read)`);
        } else {
          expect(h?.rowCount).toBeUndefined();
          expect(h?.sampleMethod).toMatch(
            /^TABLESAMPLE SYSTEM \([\d.]+%\), 1000 rows drawn at random from the blocks read \(never analysed: ~\d+ rows estimated from 32 blocks drawn at random\)$/,
          );
        }
      }
    }
    // a view with more rows than the bound: its first rows only, and the header says it is not uniform
    const bounded = await profile(request('ordered_view', { mode: ProfileMode.PROFILE_MODE_SAMPLE, sampleRows: 100 }));
    expect(header(bounded)?.rowCount).toBeUndefined();
    expect(header(bounded)?.sampleMethod).toMatch(
      /^100 rows drawn at random from the first 2000 rows the view returned: it returns more, so not uniform over the whole view/,
    );
  });

  /** Defect 6: a materialized view created WITH NO DATA is FAILED_PRECONDITION with a reason and a hint, for previews and profiles. */
  it('a materialized view never populated is FAILED_PRECONDITION MATERIALIZED_VIEW_NOT_POPULATED, not INTERNAL', async () => {
    const [populated] = await sql(`SELECT relispopulated FROM pg_class WHERE oid = 'oracle.unfilled'::regclass`);
    expect(populated).toBe('f');
    const previewRequest: PreviewTableRequest = {
      dataSource: source(),
      table: { schema: 'oracle', name: 'unfilled' },
      columns: [],
      limit: 0,
      strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_BALANCED,
    };
    const failures = [
      await expectFailure(collect(t.dataSources.previewTable(previewRequest, new Metadata()))),
      await expectFailure(profile(request('unfilled', { mode: ProfileMode.PROFILE_MODE_SAMPLE }))),
      await expectFailure(profile(request('unfilled'))),
    ];
    for (const error of failures) {
      expect(error.code).toBe(9); // FAILED_PRECONDITION
      const info = richStatusOf(error).errorInfo;
      expect(info?.reason).toBe('MATERIALIZED_VIEW_NOT_POPULATED');
      expect(info?.metadata).toMatchObject({ schema: 'oracle', name: 'unfilled' });
      expect(info?.metadata['hint']).toContain('REFRESH MATERIALIZED VIEW oracle.unfilled');
      expect(error.details).toContain('REFRESH MATERIALIZED VIEW');
    }
  });
});
