/**
 * Oracle tests of ProfileTable's figures on PostgreSQL (issue 16): every expected figure is
 * computed here with plain SQL of the test's own against a real server — the true figures
 * from the table itself, and the STATISTICS figures by decoding pg_stats's own arrays — never
 * through the connector's queries. Fixture columns: skewed (the extremes among the most common
 * values), uniform, all-null, all-distinct, all-MCV (no histogram at all), text in the "C"
 * collation and in the database's, numeric with a common minimum, dates; a large table whose
 * ANALYZE samples; and a materialized view created WITH NO DATA.
 */
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from '../daemon/src/gen/sourced/v1/data_source';
import type { PreviewTableRequest, ProfileTableRequest, ProfileTableResponse } from '../daemon/src/gen/sourced/v1/data_source_service';
import { DiscoveryStrategy } from '../daemon/src/gen/sourced/v1/discovery';
import type { Cell } from '../daemon/src/gen/sourced/v1/preview';
import { FigureMethod, ProfileMode, type ColumnProfile } from '../daemon/src/gen/sourced/v1/profile';
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
  day date
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
       date '2020-01-01' + (CASE WHEN i % 3 = 0 THEN 0 ELSE i END)
FROM generate_series(1, 2000) i;
ANALYZE oracle.shape;

CREATE TABLE oracle.wide (id int, v int, grp int) WITH (autovacuum_enabled = false);
ALTER TABLE oracle.wide ALTER COLUMN v SET STATISTICS 10;
ALTER TABLE oracle.wide ALTER COLUMN grp SET STATISTICS 10;
INSERT INTO oracle.wide SELECT i, ((i::bigint * 104729) % 200000)::int, CASE WHEN i % 4 = 0 THEN 0 ELSE i % 5000 END FROM generate_series(1, 200000) i;
ANALYZE oracle.wide;

-- clustered: grp follows the physical order (20 runs of 10,000 rows), so the first rows of a
-- few blocks see one or two of its values; rare: NULL in 30 % of the rows, spread evenly.
CREATE TABLE oracle.clustered (id int, grp int, maybe int) WITH (autovacuum_enabled = false);
INSERT INTO oracle.clustered SELECT i, i / 10000, CASE WHEN (i * 7) % 10 < 3 THEN NULL ELSE i % 50 END FROM generate_series(0, 199999) i;
ANALYZE oracle.clustered;

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
};
const SHAPE_COLUMNS = Object.keys(SHAPE);

const columns = (events: ProfileTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'column' ? [e.event.value] : []));
const header = (events: ProfileTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'header' ? [e.event.value] : []))[0];
const column = (events: ProfileTableResponse[], name: string): ColumnProfile => {
  const c = columns(events).find((x) => x.name === name);
  if (!c) throw new Error(`no column ${name}`);
  return c;
};
/** A cell's value as text (the renderings of integer, decimal, text and date are the server's text forms here). */
const value = (c: Cell | undefined): string | undefined => (c?.value === undefined || c.value.$case === 'null' ? undefined : String(c.value.value));

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
  const sql = async (statement: string): Promise<(string | undefined)[]> => (await pg.psql(statement)).replace(/\n$/, '').split('|').map((v) => (v === '' ? undefined : v));

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
      // in the column's own collation, as the server compares it
      const [min, max] = await sql(`SELECT min(${name})::text, max(${name})::text FROM oracle.shape`);
      expect({ name, min: value(c.min), max: value(c.max) }).toEqual({ name, min, max });
      // and what pg_stats holds, decoded by the test: the same
      const [smin, smax] = await statsExtremes('shape', name, SHAPE[name] ?? 'text');
      expect({ name, min: value(c.min), max: value(c.max) }).toEqual({ name, min: smin, max: smax });
    }
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
    expect(header(sampled)).toMatchObject({ rowCount: Number(count), rowCountExact: true, rowCountMethod: FigureMethod.FIGURE_METHOD_EXACT, sampleMethod: 'every row' });
    expect(header(stats)).toMatchObject({ rowCountExact: false, rowCountMethod: FigureMethod.FIGURE_METHOD_STATISTICS, sampleMethod: '' });
    for (const name of SHAPE_COLUMNS) {
      const c = column(sampled, name);
      const [nulls, distinct, min, max] = await sql(`SELECT avg((${name} IS NULL)::int)::float8, count(DISTINCT ${name}), min(${name})::text, max(${name})::text FROM oracle.shape`);
      expect({ name, nulls: c.nullFraction, distinct: c.distinctCount, exact: c.distinctExact, min: value(c.min), max: value(c.max) }).toEqual({
        name,
        nulls: Number(nulls),
        distinct: Number(distinct),
        exact: true,
        min,
        max,
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
   * of a 20-value column within a factor 1.25, min and max inside the true range, and nothing
   * claims to be exact.
   */
  it('SAMPLE of part of a table: uniform over the table, estimates labelled SAMPLED, over several seeds', async () => {
    const [trueDistinct, trueNulls, tmin, tmax] = (await sql(`SELECT count(DISTINCT grp), avg((maybe IS NULL)::int)::float8, min(grp), max(grp) FROM oracle.clustered`)).map(Number);
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
      expect(id.distinctCount ?? 0).toBeGreaterThan(200_000 / 1.25);
    }
  });

  /** Defect 6: a materialized view created WITH NO DATA is FAILED_PRECONDITION with a reason and a hint, for previews and profiles. */
  it('a materialized view never populated is FAILED_PRECONDITION MATERIALIZED_VIEW_NOT_POPULATED, not INTERNAL', async () => {
    const [populated] = await sql(`SELECT relispopulated FROM pg_class WHERE oid = 'oracle.unfilled'::regclass`);
    expect(populated).toBe('f');
    const previewRequest: PreviewTableRequest = { dataSource: source(), table: { schema: 'oracle', name: 'unfilled' }, columns: [], limit: 0, strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_BALANCED };
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
