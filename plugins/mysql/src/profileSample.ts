/**
 * SAMPLE mode of a MySQL/MariaDB profile.
 *
 * SAMPLE is bounded: MySQL has no TABLESAMPLE. A table of fewer than n rows is read whole
 * (exact figures). Otherwise, with a one-column integer primary key, the sample is about a
 * hundred ranges of the key from random points between its least and greatest value, each
 * ending before the next one's start ({@link keyRanges}; a range after a gap in the key is a
 * little likelier); a view, or a table without such a key, reads at most 20 × n rows and
 * draws n of them at random ({@link drawnRows}: uniform when that is every row, else over
 * those first rows only, and the header says so). Every statement over the table reads the
 * same derived table, in one read-only transaction (InnoDB's consistent snapshot: the same
 * rows each time); distinct counts over a sample of part of the table are the Haas–Stokes
 * Duj1 estimate (SAMPLED). A BIT column is read as its number (`CAST(b AS UNSIGNED)`), so min, max,
 * the most common values and the histogram are numbers. The average length is the storage
 * size in bytes of a non-null value, the figure mysql.column_stats avg_length keeps: the
 * type's fixed size ({@link fixedStorageBytes}) or, for strings, binary strings, JSON and
 * spatial values, the average LENGTH() in bytes. Masked columns: counts and the average
 * length only (rows, non-null rows, distinct values); their values are never selected out of
 * the derived table.
 */
import { duj1, type ColumnProfile, type PreviewColumnInfo, type ProfileItem, type ProfileRead } from '@sourced/core';
import type { Connection } from 'mysql2';
import { atLeast, sessionOf, type ServerVersion } from './connect';
import { GEOMETRY_TYPES, INTEGER_TYPES, baseTypeOf, queryRaw, quoteIdentifier } from './preview';
import { innodbStatisticsAge, isHistogrammable, rowCountAge, step, tableInfo, UNORDERED_TYPES } from './profileCommon';
import { fixedStorageBytes, numberTextCell } from './profileValues';
import { closedByCancel, query } from './query';

/** A row as queryRaw reads it: a column absent from the select list reads as undefined. */
type RawRow = Record<string, Buffer | null | undefined>;

/** Where a sample's rows come from: its derived table `(…) s` over a select list, and the parameters it takes. */
export interface SampleRows {
  sql(list: string): string;
  params: unknown[];
}

/** The first `n` rows in storage order: `(SELECT <list> FROM t LIMIT ?) s`. */
export function firstRows(from: string, n: number): SampleRows {
  return { sql: (list) => `(SELECT ${list} FROM ${from} LIMIT ?) s`, params: [n] };
}

/**
 * `n` rows drawn at random among the first `bound` rows the table or view returns:
 * `(SELECT <list> FROM (SELECT * FROM t LIMIT bound) r ORDER BY MD5(CONCAT(seed, QUOTE(c1), ',', …)) LIMIT n) s`,
 * ordered by a hash of each row's values (`columns`, NULL as `NULL`) and the seed, so every
 * statement over it, in the same snapshot, keeps the same rows.
 */
export function drawnRows(from: string, columns: readonly string[], bound: number, n: number, seed: number): SampleRows {
  if (!columns.length || !Number.isSafeInteger(bound) || !Number.isSafeInteger(n) || n < 1 || bound < n || !Number.isSafeInteger(seed))
    throw new Error('bad draw');
  const hash = `MD5(CONCAT('${seed}', ${columns.map((c) => `QUOTE(r.${quoteIdentifier(c)})`).join(", ',', ")}))`;
  return { sql: (list) => `(SELECT ${list} FROM (SELECT * FROM ${from} LIMIT ${bound}) r ORDER BY ${hash} LIMIT ${n}) s`, params: [] };
}

/** Rows a bounded draw reads at most per row it keeps ({@link drawnRows}). */
export const SAMPLE_READ_FACTOR = 20;

/**
 * Rows of random primary-key ranges that never overlap: for each start (ascending), the
 * `per` rows from it in key order that come before the next start (or up to `end`),
 * `((SELECT <list> FROM t WHERE pk >= ? AND pk < ? ORDER BY pk LIMIT per) UNION ALL …) s`. A
 * row is never read twice (a duplicate would look like a value seen twice, and bias the
 * distinct estimate). The bounds are parameters; the snapshot of the read-only transaction
 * keeps the rows the same in every statement.
 */
export function keyRanges(from: string, key: string, starts: readonly number[], per: number, end: number): SampleRows {
  if (!starts.length || !Number.isSafeInteger(per) || per < 1) throw new Error('bad key ranges');
  const id = quoteIdentifier(key);
  const sorted = [...new Set(starts)].sort((x, y) => x - y);
  return {
    sql: (list) => `(${sorted.map(() => `(SELECT ${list} FROM ${from} WHERE ${id} >= ? AND ${id} < ? ORDER BY ${id} LIMIT ${per})`).join(' UNION ALL ')}) s`,
    params: sorted.flatMap((start, i) => [start, sorted[i + 1] ?? end]),
  };
}

/** Rows a key range holds in a sample of `n` rows: about a hundred ranges. */
export function rowsPerRange(n: number): number {
  return Math.max(1, Math.ceil(n / 100));
}

/** The table's primary key when it is one integer column, else undefined. */
async function integerKey(conn: Connection, read: ProfileRead, signal: AbortSignal): Promise<string | undefined> {
  const rows = await step('the primary key', () =>
    query<{ name: string; data_type: unknown }>(
      conn,
      `SELECT k.COLUMN_NAME AS name, c.DATA_TYPE AS data_type FROM information_schema.KEY_COLUMN_USAGE k
JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME AND c.COLUMN_NAME = k.COLUMN_NAME
WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ? AND k.CONSTRAINT_NAME = 'PRIMARY' ORDER BY k.ORDINAL_POSITION`,
      [read.table.schema, read.table.name],
      signal,
    ),
  );
  return rows.length === 1 && rows[0] && INTEGER_TYPES.has(String(rows[0].data_type).toLowerCase()) ? rows[0].name : undefined;
}

/**
 * SAMPLE. One read-only transaction. First a bounded count (`LIMIT n`): a table of fewer
 * rows is read whole (exact figures). Otherwise, when the primary key is one integer column,
 * the sample is about a hundred ranges of the key starting at random points between its
 * least and greatest value, none reaching into the next ({@link keyRanges}): spread over the
 * whole table, not the first rows in storage order. A view, or a table without such a key, is read no further than
 * {@link SAMPLE_READ_FACTOR} × n rows, and n of them are drawn at random ({@link drawnRows}):
 * a uniform sample when that is every row (then counted), else of those first rows only, and
 * the header says so. Distinct counts over part of the table are the Haas–Stokes Duj1
 * estimate (core's {@link duj1}) for the rows sampled from: the table's TABLE_ROWS for key
 * ranges, the rows read for a draw.
 */
export async function* sampleProfile(conn: Connection, read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
  const version = sessionOf(conn).version;
  const n = read.sampleRows;
  const info = await tableInfo(conn, read, signal);
  const estimate = info.rows;
  const from = `${quoteIdentifier(read.table.schema)}.${quoteIdentifier(read.table.name)}`;
  const key = info.view ? undefined : await integerKey(conn, read, signal);
  const innodbAge = await innodbStatisticsAge(conn, read, info, signal);
  await step('the sample', () => query(conn, 'START TRANSACTION READ ONLY', [], signal));
  try {
    const count = async (rows: SampleRows) =>
      Number(
        (await step('the sample', () => queryRaw<RawRow>(conn, `SELECT COUNT(*) AS n FROM ${rows.sql('1 AS one')}`, rows.params, signal)))[0]?.n?.toString() ??
          0,
      );
    let rows = firstRows(from, n);
    let sampled = await count(rows);
    const whole = sampled < n;
    let method = 'every row';
    let rowCount = whole ? sampled : info.view ? undefined : estimate;
    let rowCountExact = whole;
    // The rows the distinct counts are extrapolated to (Duj1); undefined: not extrapolated.
    let population: number | undefined;
    let drawn = false;
    if (!whole && key !== undefined) {
      const id = quoteIdentifier(key);
      const ends = (await step('the sample', () => queryRaw<RawRow>(conn, `SELECT MIN(${id}) AS lo, MAX(${id}) AS hi FROM ${from}`, [], signal))).at(0);
      const [lo, hi] = [Number(ends?.lo?.toString()), Number(ends?.hi?.toString())];
      if (Number.isSafeInteger(lo) && Number.isSafeInteger(hi)) {
        const per = rowsPerRange(n);
        const starts = Array.from({ length: Math.ceil(n / per) }, () => lo + Math.floor(Math.random() * (hi - lo + 1))).sort((x, y) => x - y);
        rows = keyRanges(from, key, starts, per, hi + 1);
        sampled = await count(rows);
        method = `${starts.length} ranges of ${per} rows at random points of the primary key ${key}`;
        population = estimate;
        drawn = true;
      }
    }
    if (!whole && !drawn) {
      const what = info.view ? 'view' : 'table';
      const bound = SAMPLE_READ_FACTOR * n;
      const seed = Math.floor(Math.random() * 2 ** 31);
      const counted = await count({ sql: () => `(SELECT 1 FROM ${from} LIMIT ${bound + 1}) s`, params: [] });
      rows = drawnRows(
        from,
        read.columns.map((c) => c.name),
        bound,
        n,
        seed,
      );
      sampled = await count(rows);
      if (counted <= bound) {
        rowCount = counted;
        rowCountExact = true;
        population = counted;
        method = `${n} rows drawn at random from every row of the ${what} (${counted}, read whole: at most ${bound} rows are read)`;
      } else {
        population = bound;
        method = `${n} rows drawn at random from the first ${bound} rows the ${what} returned: it has more, so not uniform over the whole ${what} (${info.view ? 'a view' : 'no one-column integer primary key'}: reads stop at ${SAMPLE_READ_FACTOR} × the sample); distinct counts estimated for those ${bound} rows`;
      }
    }
    const rowCountSource = rowCountExact ? `counted (${rowCount})` : 'information_schema.TABLES (TABLE_ROWS, an estimate)';
    yield {
      kind: 'table',
      table: {
        rowCount,
        rowCountExact,
        sampleRows: sampled,
        source: whole
          ? `a bounded read of at most ${n} rows (SELECT … LIMIT ${n}), which read the whole ${info.view ? 'view' : 'table'}: ${sampled} rows`
          : `a sample of ${sampled} rows: ${method}; row count: ${rowCountSource}; distinct counts: Haas–Stokes Duj1 estimate`,
        sampleMethod: method,
        ...(!rowCountExact && rowCount !== undefined ? { statisticsAge: rowCountAge(innodbAge) } : {}),
      },
    };
    for (const c of read.columns) {
      if (signal.aborted) return;
      yield { kind: 'column', column: await sampleColumn(conn, read, c, rows, sampled, whole ? undefined : population, version, signal) };
    }
  } finally {
    // A cancelled statement's connection is closed already; otherwise end the transaction.
    if (!signal.aborted && !closedByCancel(conn)) await query(conn, 'ROLLBACK', [], new AbortController().signal).catch(() => undefined);
  }
}

/**
 * The sample's SQL for one column: `(SELECT <v> AS v[, LENGTH(<col>) AS l] FROM <t> …) s` ({@link SampleRows}).
 * v is the column, as WKT for spatial types and as its number for BIT (so MIN, MAX, DISTINCT
 * and the histogram work on numbers, not on the bytes); l, the size in bytes of a value of a
 * type whose values vary in size (the average length).
 */
export function sampleOf(column: PreviewColumnInfo, rows: SampleRows): string {
  const id = quoteIdentifier(column.name);
  const base = baseTypeOf(column.type);
  const v = GEOMETRY_TYPES.has(base) ? `ST_AsText(${id})` : base === 'bit' ? `CAST(${id} AS UNSIGNED)` : id;
  const l = fixedStorageBytes(column.type) === undefined ? `, LENGTH(${id}) AS l` : '';
  return rows.sql(`${v} AS v${l}`);
}

async function sampleColumn(
  conn: Connection,
  read: ProfileRead,
  c: PreviewColumnInfo,
  rows: SampleRows,
  sampled: number,
  population: number | undefined,
  version: ServerVersion,
  signal: AbortSignal,
): Promise<ColumnProfile> {
  const n = rows.params; // the sample's own parameters, first in every statement over it
  const sample = sampleOf(c, rows);
  const masked = read.isMasked(c.name, c.type);
  const base = baseTypeOf(c.type);
  const ordered = !masked && !UNORDERED_TYPES.has(base);
  const fixed = fixedStorageBytes(c.type);
  // Values rendered from the sample's v: a BIT's is its number.
  const cell = (raw: Buffer | null) => numberTextCell(c.type, raw);
  const what = `column ${c.name}`;
  const aggregates = [
    'COUNT(*) AS n',
    'COUNT(v) AS nn',
    'COUNT(DISTINCT v) AS d',
    ...(ordered ? ['MIN(v) AS mn', 'MAX(v) AS mx'] : []),
    ...(fixed === undefined ? ['AVG(l) AS al'] : []),
  ];
  const agg = (await step(what, () => queryRaw<RawRow>(conn, `SELECT ${aggregates.join(', ')} FROM ${sample}`, n, signal))).at(0);
  const count = Number(agg?.n?.toString() ?? 0);
  const nonNull = Number(agg?.nn?.toString() ?? 0);
  const profile: ColumnProfile = {
    name: c.name,
    type: c.type,
    nullFraction: count > 0 ? (count - nonNull) / count : undefined,
    distinctCount: Number(agg?.d?.toString() ?? 0),
    distinctExact: population === undefined,
    mostCommon: [],
    histogram: [],
    types: [],
  };
  // Part of the table: the Haas–Stokes Duj1 estimate of the distinct values of the `population`
  // rows from the sample's distinct values and those seen once (f1).
  if (population !== undefined && profile.distinctCount) {
    const once = (
      await step(what, () =>
        queryRaw<RawRow>(conn, `SELECT COUNT(*) AS f1 FROM (SELECT v FROM ${sample} WHERE v IS NOT NULL GROUP BY v HAVING COUNT(*) = 1) o`, n, signal),
      )
    ).at(0);
    profile.distinctCount = duj1(count, profile.distinctCount, Number(once?.f1?.toString() ?? 0), population);
  }
  // The average storage size in bytes of a non-null value (as mysql.column_stats avg_length).
  if (fixed !== undefined && nonNull > 0) profile.averageLength = fixed;
  else if (agg?.al) profile.averageLength = Number(agg.al.toString());
  if (masked) return profile;
  if (ordered && agg?.mn !== undefined && agg.mn !== null) profile.min = cell(agg.mn);
  if (ordered && agg?.mx !== undefined && agg.mx !== null) profile.max = cell(agg.mx);

  if (read.mostCommonLimit > 0 && nonNull > 0) {
    const top = await step(what, () =>
      queryRaw<RawRow>(
        conn,
        `SELECT v, COUNT(*) AS f FROM ${sample} WHERE v IS NOT NULL GROUP BY v ORDER BY f DESC, v LIMIT ?`,
        [...n, read.mostCommonLimit],
        signal,
      ),
    );
    const examined = count || sampled;
    profile.mostCommon = top.map((r) => ({ value: cell(r.v ?? null), frequency: Number(r.f?.toString() ?? 0) / examined }));
  }

  // Window functions: MariaDB 10.2+, MySQL 8.0+. The last row of each of `buckets` equal
  // groups of the sorted non-null values, and the first: equi-depth bounds.
  const windows = version.flavour === 'MariaDB' ? atLeast(version, 10, 2) : atLeast(version, 8, 0);
  if (windows && isHistogrammable(c.type) && nonNull > 0 && read.histogramBuckets > 0) {
    const b = read.histogramBuckets;
    const bounds = await step(what, () =>
      queryRaw<RawRow>(
        conn,
        `SELECT v FROM (SELECT v, ROW_NUMBER() OVER (ORDER BY v) AS r, COUNT(*) OVER () AS c FROM ${sample} WHERE v IS NOT NULL) h
WHERE r = 1 OR (r * ?) DIV c > ((r - 1) * ?) DIV c ORDER BY r`,
        [...n, b, b],
        signal,
      ),
    );
    profile.histogram = bounds.map((r) => cell(r.v ?? null));
  }
  return profile;
}
