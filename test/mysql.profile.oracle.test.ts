/**
 * Oracle tests of ProfileTable's figures on MariaDB (issue 16): every expected figure is
 * computed here with the test's own SQL against a real MariaDB from the harness — the true
 * figures from the table, and the STATISTICS figures by decoding mysql.column_stats's stored
 * histogram bytes in the test — never through the connector's queries. Fixtures: skewed,
 * uniform, all-null and all-distinct columns, a BIT(10), strings, decimals and dates; the same
 * table analysed under each of MariaDB's histogram types (SINGLE_PREC_HB, DOUBLE_PREC_HB,
 * JSON_HB).
 */
import { randomBytes } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from '@sourced/api';
import type { ProfileTableRequest, ProfileTableResponse } from '@sourced/api';
import type { Cell } from '@sourced/api';
import { FigureMethod, ProfileMode, type ColumnProfile } from '@sourced/api';
import { rootQuery, startMariadb, type MariadbInstance } from './harness/mariadb';
import { collect, startTestDaemon, type TestDaemon } from './support/testDaemon';

const DB = 'oracle';
const USER = 'sourced_oracle';
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
const ROWS = 1000;
const BUCKETS = 10;

/**
 * sk: skewed, 1 in 41 % of the rows, 2 in 14 %, 3 in 10 %, 4 in 11 %, 7 in 13 %, 17 in 6 %, 25
 * in 5 % (no decile falls on a boundary between two values); u: 1..1000 in a shuffled order
 * (uniform and all-distinct); nul: all NULL; b: BIT(10), 0..682.
 */
const SHAPE = (table: string) => [
  `CREATE TABLE ${DB}.${table} (id INT PRIMARY KEY, sk INT, u INT, nul INT NULL, b BIT(10)) ENGINE=InnoDB`,
  `INSERT INTO ${DB}.${table} SELECT seq,
     CASE WHEN seq % 100 < 41 THEN 1 WHEN seq % 100 < 55 THEN 2 WHEN seq % 100 < 65 THEN 3 WHEN seq % 100 < 76 THEN 4
          WHEN seq % 100 < 89 THEN 7 WHEN seq % 100 < 95 THEN 17 ELSE 25 END,
     (seq * 7919) % ${ROWS} + 1, NULL, (seq * 31) % 683
   FROM ${DB}.seq_1_to_${ROWS}`,
];

/** The table of each histogram type, and the histogram_size that gives it ten buckets (nine stored ends, or ten JSON buckets at most). */
const HISTOGRAMS = [
  { table: 'h_single', type: 'SINGLE_PREC_HB', size: 9 },
  { table: 'h_double', type: 'DOUBLE_PREC_HB', size: 18 },
  { table: 'h_json', type: 'JSON_HB', size: 10 },
];

const columns = (events: ProfileTableResponse[]) => events.flatMap((e) => (e.event?.$case === 'column' ? [e.event.value] : []));
const column = (events: ProfileTableResponse[], name: string): ColumnProfile => {
  const c = columns(events).find((x) => x.name === name);
  if (!c) throw new Error(`no column ${name}`);
  return c;
};
const text = (c: Cell | undefined): string | undefined => (c?.value === undefined || c.value.$case === 'null' ? undefined : String(c.value.value));

describe('ProfileTable on MariaDB: figures against the server (oracle)', () => {
  let db: MariadbInstance;
  let t: TestDaemon;
  const request = (table: string, over: Partial<ProfileTableRequest> = {}): ProfileTableRequest => ({
    dataSource: DataSource.fromPartial({
      type: 'mysql',
      primary: { host: db.host, port: db.port, database: '' },
      credentials: { username: USER, password: { source: { $case: 'inlineValue', value: PASSWORD } } },
    }),
    table: { schema: DB, name: table },
    columns: [],
    mode: ProfileMode.PROFILE_MODE_STATISTICS,
    sampleRows: 0,
    mostCommonLimit: 0,
    histogramBuckets: BUCKETS,
    strategy: 0,
    ...over,
  });
  const profile = (table: string, over: Partial<ProfileTableRequest> = {}) => collect(t.dataSources.profileTable(request(table, over), new Metadata()));
  const one = async <T>(sql: string): Promise<T> => (await rootQuery<T>(db, sql))[0] as T;

  /**
   * The true value at each share i/buckets of the non-null rows, by the definition MariaDB's
   * histograms use: the smallest value whose cumulative count passes that share (the minimum
   * at 0, the maximum at 1).
   */
  const trueQuantiles = async (table: string, col: string): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i <= BUCKETS; i++) {
      const row = await one<{ v: string | number }>(
        `SELECT COALESCE(MIN(CASE WHEN cum * ${BUCKETS} > ${i} * n THEN v END), MAX(v)) AS v
         FROM (SELECT v, SUM(c) OVER (ORDER BY v) AS cum, SUM(c) OVER () AS n
               FROM (SELECT ${col} + 0 AS v, COUNT(*) AS c FROM ${DB}.${table} WHERE ${col} IS NOT NULL GROUP BY ${col}) g) w`,
      );
      out.push(String(row.v));
    }
    return out;
  };

  /** The stored histogram of a column, decoded by the test: SINGLE/DOUBLE_PREC_HB into values at the shares j/(N+1). */
  const decodedPositions = async (table: string, col: string): Promise<{ type: string; values: number[] }> => {
    const row = await one<{ hist_type: string; hex: string; mn: string; mx: string }>(
      `SELECT hist_type, HEX(histogram) AS hex, CONVERT(min_value USING utf8mb4) AS mn, CONVERT(max_value USING utf8mb4) AS mx
       FROM mysql.column_stats WHERE db_name = '${DB}' AND table_name = '${table}' AND column_name = '${col}'`,
    );
    const bytes = Buffer.from(row.hex, 'hex');
    const width = row.hist_type === 'DOUBLE_PREC_HB' ? 2 : 1;
    const scale = width === 2 ? 65535 : 255;
    const [min, max] = [Number(row.mn), Number(row.mx)];
    const ends: number[] = [];
    for (let i = 0; i < bytes.length; i += width) ends.push(Math.round(min + ((width === 2 ? bytes.readUInt16LE(i) : bytes[i] ?? 0) / scale) * (max - min)));
    return { type: row.hist_type, values: [min, ...ends, max] };
  };

  beforeAll(async () => {
    [db, t] = await Promise.all([startMariadb(), startTestDaemon({ plugins: ['@sourced/plugin-mysql'] })]);
    const conn = await createConnection({ host: db.host, port: db.port, user: db.superuser, password: db.superuserPassword });
    try {
      await conn.query(`CREATE DATABASE ${DB}`);
      for (const h of HISTOGRAMS) {
        for (const s of SHAPE(h.table)) await conn.query(s);
        await conn.query(`SET SESSION histogram_type = '${h.type}', histogram_size = ${h.size}`);
        await conn.query(`ANALYZE TABLE ${DB}.${h.table} PERSISTENT FOR ALL`);
      }
      await conn.query(`CREATE TABLE ${DB}.kinds (id INT PRIMARY KEY, b BIT(10), vc VARCHAR(30), maybe VARCHAR(10) NULL, n INT, d DECIMAL(8,2),
        at DATETIME, ch CHAR(6), e ENUM('x','y','z'), nul INT NULL) ENGINE=InnoDB`);
      await conn.query(`INSERT INTO ${DB}.kinds SELECT seq, (seq * 31) % 683, REPEAT('é', seq % 13), IF(seq % 3 = 0, NULL, REPEAT('y', seq % 4)), seq % 97,
        seq / 7, '2024-01-01' + INTERVAL seq MINUTE, CONCAT('c', seq % 5), ELT(1 + seq % 3, 'x', 'y', 'z'), NULL FROM ${DB}.seq_1_to_${ROWS}`);
      await conn.query(`SET SESSION histogram_type = 'DOUBLE_PREC_HB', histogram_size = 254`);
      await conn.query(`ANALYZE TABLE ${DB}.kinds PERSISTENT FOR ALL`);
      // grp follows the key (20 runs of 10,000 rows): the first rows in storage order hold one value
      await conn.query(`CREATE TABLE ${DB}.clustered (id INT PRIMARY KEY, grp INT, maybe INT NULL) ENGINE=InnoDB`);
      await conn.query(`INSERT INTO ${DB}.clustered SELECT seq, seq DIV 10000, IF((seq * 7) % 10 < 3, NULL, seq % 50) FROM ${DB}.seq_0_to_199999`);
      await conn.query(`ANALYZE TABLE ${DB}.clustered`);
      await conn.query(`CREATE USER '${USER}'@'%' IDENTIFIED BY '${PASSWORD}'`);
      await conn.query(`GRANT SELECT ON ${DB}.* TO '${USER}'@'%'`);
      await conn.query(`GRANT SELECT ON mysql.column_stats TO '${USER}'@'%'`);
    } finally {
      await conn.end();
    }
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    await db?.destroy();
  });

  /**
   * Defect 3: SINGLE_PREC_HB and DOUBLE_PREC_HB histograms are read as MariaDB stored them:
   * ten buckets give the true deciles of a skewed column, repeated bounds kept. The test
   * decodes the stored bytes itself and checks them against the table's true quantiles too.
   */
  it.each(HISTOGRAMS.filter((h) => h.type !== 'JSON_HB'))('STATISTICS histogram of $type: the true deciles, repeated bounds kept', async ({ table, type }) => {
    const events = await profile(table);
    for (const col of type === 'DOUBLE_PREC_HB' ? ['sk', 'u', 'b'] : ['sk']) {
      const truth = await trueQuantiles(table, col);
      const decoded = await decodedPositions(table, col);
      expect(decoded.type).toBe(type);
      expect(decoded.values).toHaveLength(BUCKETS + 1); // N stored ends + min and max
      expect({ col, decoded: decoded.values.map(String) }).toEqual({ col, decoded: truth });
      expect({ col, reported: column(events, col).histogramBounds.map(text) }).toEqual({ col, reported: truth });
    }
    // repeated bounds: the skewed column's first deciles are all 1
    expect(new Set((await trueQuantiles(table, 'sk')).slice(0, 4))).toEqual(new Set(['1']));
    expect(column(events, 'nul').histogramBounds).toEqual([]);
  });

  /**
   * JSON_HB: where a decile falls in a bucket of one value (decoded from the stored JSON by the
   * test), the bound is that value, which is the true quantile; every bound lies in the true range.
   */
  it('STATISTICS histogram of JSON_HB: deciles in single-value buckets are the true ones', async () => {
    const events = await profile('h_json');
    const row = await one<{ h: string }>(`SELECT CONVERT(histogram USING utf8mb4) AS h FROM mysql.column_stats WHERE db_name = '${DB}' AND table_name = 'h_json' AND column_name = 'sk'`);
    const buckets = (JSON.parse(row.h) as { histogram_hb: { start: string; size: number; ndv: number }[] }).histogram_hb;
    const truth = await trueQuantiles('h_json', 'sk');
    const reported = column(events, 'sk').histogramBounds.map(text);
    expect(reported).toHaveLength(BUCKETS + 1);
    let checked = 0;
    for (let i = 0; i <= BUCKETS; i++) {
      let before = 0;
      const holding = buckets.find((b) => {
        const inside = i / BUCKETS >= before - 1e-9 && i / BUCKETS < before + b.size - 1e-9;
        before += b.size;
        return inside;
      });
      if (holding?.ndv === 1) {
        expect({ i, bound: reported[i] }).toEqual({ i, bound: truth[i] });
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(5);
    expect(reported[0]).toBe(truth[0]);
    expect(reported[BUCKETS]).toBe(truth[BUCKETS]);
  });

  /**
   * Defect 4: a BIT(n) column's min, max, most common values and histogram in SAMPLE are its
   * numbers (not the bytes of their text); STATISTICS's min and max too.
   */
  it('BIT(n): min, max and most common values are the numbers, in SAMPLE and STATISTICS', async () => {
    const truth = await one<{ mn: string; mx: string; top: string }>(
      `SELECT MIN(b + 0) AS mn, MAX(b + 0) AS mx, (SELECT b + 0 FROM ${DB}.kinds GROUP BY b ORDER BY COUNT(*) DESC, b LIMIT 1) AS top FROM ${DB}.kinds`,
    );
    for (const mode of [ProfileMode.PROFILE_MODE_SAMPLE, ProfileMode.PROFILE_MODE_STATISTICS]) {
      const b = column(await profile('kinds', { mode, mostCommonLimit: 5 }), 'b');
      expect({ mode, min: text(b.min), max: text(b.max) }).toEqual({ mode, min: String(truth.mn), max: String(truth.mx) });
      expect(b.min?.value?.$case).toBe('integer');
      if (mode === ProfileMode.PROFILE_MODE_SAMPLE) expect(text(b.mostCommon[0]?.value)).toBe(String(truth.top));
      const bounds = b.histogramBounds.map((c) => Number(text(c)));
      expect(bounds.every((v) => v >= Number(truth.mn) && v <= Number(truth.mx))).toBe(true);
    }
  });

  /**
   * Defect 2: SAMPLE of part of a table spreads over the whole table (random primary-key
   * ranges), not the first rows in storage order. Repeated runs (each draws its own points): a
   * column that follows the key shows nearly all its values (the truth computed here), the null
   * fraction stays within 4 standard errors, and nothing claims to be exact.
   */
  it('SAMPLE of part of a table: random primary-key ranges over the whole table, over several runs', async () => {
    const truth = await one<{ d: number; nulls: string }>(`SELECT COUNT(DISTINCT grp) AS d, AVG(maybe IS NULL) AS nulls FROM ${DB}.clustered`);
    const p = Number(truth.nulls);
    for (let run = 0; run < 4; run++) {
      const events = await profile('clustered', { mode: ProfileMode.PROFILE_MODE_SAMPLE, sampleRows: 1_000 });
      const h = events.find((e) => e.event?.$case === 'header')?.event;
      const header = h?.$case === 'header' ? h.value : undefined;
      expect(header).toMatchObject({ rowCountExact: false, rowCountMethod: FigureMethod.FIGURE_METHOD_STATISTICS });
      const n = header?.sampleRows ?? 0;
      expect(n).toBeGreaterThan(900);
      const grp = column(events, 'grp');
      expect(grp.distinctCount ?? 0).toBeGreaterThanOrEqual(Number(truth.d) / 1.25);
      expect(header?.sampleMethod).toMatch(/^100 ranges of 10 rows at random points of the primary key id$/);
      expect({ run, exact: grp.distinctExact, method: grp.methods?.distinctCount }).toEqual({ run, exact: false, method: FigureMethod.FIGURE_METHOD_SAMPLED });
      expect(grp.distinctCount ?? 0).toBeGreaterThanOrEqual(Number(truth.d) / 1.25);
      const maybe = column(events, 'maybe');
      expect(Math.abs((maybe.nullFraction ?? 0) - p)).toBeLessThanOrEqual(4 * Math.sqrt((p * (1 - p)) / n));
    }
  });

  /**
   * Defect 5: average_length is the mean storage size in bytes of a non-null value, the same
   * in SAMPLE (every row read here) as MariaDB's own avg_length, and the bytes of the value
   * (LENGTH, not the characters or the text of a number) for strings. SAMPLE's other figures
   * over the whole table are the exact ones.
   */
  it('average_length is the same figure in SAMPLE and STATISTICS: mysql.column_stats avg_length', async () => {
    const [sampled, stats] = [await profile('kinds', { mode: ProfileMode.PROFILE_MODE_SAMPLE }), await profile('kinds')];
    for (const name of ['id', 'b', 'vc', 'maybe', 'n', 'd', 'at', 'ch', 'e', 'nul']) {
      const kept = await one<{ avg_length: string | null }>(`SELECT avg_length FROM mysql.column_stats WHERE db_name = '${DB}' AND table_name = 'kinds' AND column_name = '${name}'`);
      const s = column(sampled, name);
      if (kept.avg_length === null) {
        expect({ name, avg: s.averageLength }).toEqual({ name, avg: undefined });
        continue;
      }
      expect({ name, avg: s.averageLength === undefined ? undefined : Number(s.averageLength.toFixed(4)) }).toEqual({ name, avg: Number(kept.avg_length) });
      expect({ name, avg: column(stats, name).averageLength }).toEqual({ name, avg: Number(kept.avg_length) });
      const exact = await one<{ nulls: string; distinct: number }>(`SELECT AVG(${name} IS NULL) AS nulls, COUNT(DISTINCT ${name}) AS \`distinct\` FROM ${DB}.kinds`);
      expect({ name, nulls: s.nullFraction, distinct: s.distinctCount, exact: s.distinctExact }).toEqual({ name, nulls: Number(exact.nulls), distinct: Number(exact.distinct), exact: true });
      expect(s.methods).toMatchObject({ nullFraction: FigureMethod.FIGURE_METHOD_EXACT, distinctCount: FigureMethod.FIGURE_METHOD_EXACT, averageLength: FigureMethod.FIGURE_METHOD_EXACT });
      expect(column(stats, name).methods).toMatchObject({ averageLength: FigureMethod.FIGURE_METHOD_STATISTICS });
    }
    for (const name of ['vc', 'maybe', 'ch']) {
      const bytes = await one<{ l: string }>(`SELECT AVG(LENGTH(${name})) AS l FROM ${DB}.kinds`);
      expect(column(sampled, name).averageLength).toBeCloseTo(Number(bytes.l), 4);
    }
  });
});
