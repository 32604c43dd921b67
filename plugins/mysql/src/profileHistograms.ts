/**
 * Decoding the histograms MySQL and MariaDB keep: MariaDB's mysql.column_stats histogram
 * (SINGLE_PREC_HB, DOUBLE_PREC_HB, JSON_HB) and MySQL 8's information_schema.COLUMN_STATISTICS
 * JSON (singleton and equi-height), into what a STATISTICS profile reports of a column.
 */
import type { Cell, ProfileRead, StatisticsAge } from '@sourced/core';
import { buf, isHistogrammable, isNumeric } from './profileCommon';
import { INTEGER_TYPES, baseTypeOf, renderCell } from './preview';

export interface ColumnStatsRow {
  db_name: string | Buffer;
  table_name: string | Buffer;
  column_name: string | Buffer;
  min_value: Buffer | string | null;
  max_value: Buffer | string | null;
  nulls_ratio: string | number | null;
  avg_length: string | number | null;
  avg_frequency: string | number | null;
  hist_type: string | null;
  histogram: Buffer | string | null;
  /** A JSON_HB histogram's collected_at, seconds since the epoch. */
  collected_at?: string | number | null;
}

/** What the server keeps about one column. */
export interface Kept {
  /** How old it is. */
  age?: StatisticsAge;
  nullFraction?: number;
  distinct?: number;
  min?: Cell;
  max?: Cell;
  averageLength?: number;
  mostCommon: { value: Cell; frequency: number }[];
  histogram: Cell[];
}

/**
 * Bounds of an equi-depth histogram of `buckets` buckets (the values at the shares 0, 1/buckets,
 * …, 1 of the non-null rows) from MariaDB's own stored histogram. Repeated bounds are kept: in
 * a skewed column one value fills several buckets, and saying so is the point.
 * - SINGLE_PREC_HB / DOUBLE_PREC_HB: N values of 1 or 2 bytes, each a bucket's upper end as a
 *   position between min_value and max_value (0..255 or 0..65535, truncated when stored):
 *   ANALYZE ends bucket k (of N + 1, each holding 1/(N + 1) of the non-null rows) at the first
 *   value whose cumulative count passes k/(N + 1) of them. So min, the N ends and max are the
 *   values at the shares j/(N + 1); each wanted share takes the nearest. Positions are made
 *   into values for numeric and BIT columns only (rounded for integers; exact when the range
 *   is narrower than the precision, else within (max − min)/65535 or /255).
 * - JSON_HB (10.8+): buckets with `start` (or `start_hex`), `size` (share of the rows) and
 *   `ndv`, the last with `end`. A share that falls in a bucket of one value is that value; in
 *   a bucket of several, the nearer of the bucket's start and the next bucket's start (or the
 *   last bucket's end).
 */
export function mariadbHistogram(row: Pick<ColumnStatsRow, 'hist_type' | 'histogram' | 'min_value' | 'max_value'>, type: string, buckets: number): Cell[] {
  const raw = buf(row.histogram);
  if (buckets < 1) return [];
  if (row.hist_type === 'JSON_HB') {
    const points = jsonHistogramQuantiles(raw, buckets);
    return points ? points.map((p) => renderCell(type, p)) : [];
  }
  const bit = baseTypeOf(type) === 'bit';
  if ((!isNumeric(type) && !bit) || row.min_value === null || row.max_value === null) return [];
  const width = row.hist_type === 'DOUBLE_PREC_HB' ? 2 : row.hist_type === 'SINGLE_PREC_HB' ? 1 : 0;
  if (!width) return [];
  const min = Number(buf(row.min_value).toString('utf8'));
  const max = Number(buf(row.max_value).toString('utf8'));
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  const positions = [0];
  for (let i = 0; i + width <= raw.length; i += width) positions.push(width === 2 ? raw.readUInt16LE(i) / 0xffff : raw.readUInt8(i) / 0xff);
  positions.push(1);
  const integer = bit || INTEGER_TYPES.has(baseTypeOf(type));
  const values = positions.map((p, j) => (j === 0 ? min : j === positions.length - 1 ? max : min + p * (max - min))).map((v) => (integer ? Math.round(v) : v));
  const cellType = bit ? 'bigint unsigned' : type;
  return thin(values, buckets).map((v) => renderCell(cellType, Buffer.from(String(v))));
}

/** The values of a JSON_HB histogram at the shares 0, 1/buckets, …, 1 (see {@link mariadbHistogram}); undefined when it cannot be read. */
function jsonHistogramQuantiles(raw: Buffer, buckets: number): Buffer[] | undefined {
  let hb: Record<string, unknown>[];
  try {
    const h = JSON.parse(raw.toString('utf8')) as { histogram_hb?: Record<string, unknown>[] };
    hb = Array.isArray(h.histogram_hb) ? h.histogram_hb : [];
  } catch {
    return undefined;
  }
  const value = (b: Record<string, unknown> | undefined, key: 'start' | 'end'): Buffer | undefined => {
    const plainText = b?.[key];
    const hex = b?.[`${key}_hex`];
    if (typeof plainText === 'string') return Buffer.from(plainText, 'utf8');
    if (typeof hex === 'string') return Buffer.from(hex, 'hex');
    return undefined;
  };
  const last = hb[hb.length - 1];
  const end = value(last, 'end');
  if (!hb.length || !end) return undefined;
  // Each bucket's share of the rows before it; the shares as stored may not sum to exactly 1.
  const sizes = hb.map((b) => Math.max(0, Number(b['size']) || 0));
  const total = sizes.reduce((a, b) => a + b, 0) || 1;
  const before: number[] = [];
  sizes.reduce((acc, size, i) => ((before[i] = acc / total), acc + size), 0);
  const EPSILON = 1e-9;
  const out: Buffer[] = [];
  for (let i = 0; i <= buckets; i++) {
    const q = i / buckets;
    if (i === buckets) {
      out.push(end);
      continue;
    }
    // The bucket holding the share q: the last whose start share is at most q.
    let k = 0;
    while (k + 1 < hb.length && (before[k + 1] ?? 1) <= q + EPSILON) k++;
    const start = value(hb[k], 'start');
    if (!start) return undefined;
    const next = k + 1 < hb.length ? value(hb[k + 1], 'start') : end;
    const after = k + 1 < hb.length ? (before[k + 1] ?? 1) : 1;
    const single = Number(hb[k]?.['ndv']) === 1;
    out.push(single || !next || q - (before[k] ?? 0) <= after - q ? start : next);
  }
  return out;
}

/**
 * MySQL 8's histogram JSON: `null-values`, `histogram-type` singleton (buckets
 * `[value, cumulative frequency]`) or equi-height (`[lower, upper, cumulative frequency,
 * distinct]`); strings come as `base64:type<n>:<base64>`. Frequencies are shares of all rows.
 */
export function fromMysqlHistogram(
  h: Record<string, unknown>,
  type: string,
  masked: boolean,
  read: Pick<ProfileRead, 'mostCommonLimit' | 'histogramBuckets'>,
): Kept {
  const buckets = Array.isArray(h['buckets']) ? (h['buckets'] as unknown[][]) : [];
  const nullFraction = typeof h['null-values'] === 'number' ? h['null-values'] : undefined;
  const k: Kept = { nullFraction, mostCommon: [], histogram: [] };
  const cell = (v: unknown): Cell => renderCell(type, mysqlHistogramValue(v));
  if (h['histogram-type'] === 'singleton') {
    // Over the sampled rows: the distinct values there are at least, not the table's.
    k.distinct = buckets.length;
    if (masked || !buckets.length) return k;
    k.min = cell(buckets[0][0]);
    k.max = cell(buckets[buckets.length - 1][0]);
    let previous = 0;
    const freq = buckets.map((b) => {
      const cumulative = Number(b[1]);
      const f = cumulative - previous;
      previous = cumulative;
      return { value: b[0], frequency: f };
    });
    k.mostCommon = freq
      .sort((a, b) => b.frequency - a.frequency)
      .slice(0, read.mostCommonLimit)
      .map((f) => ({ value: cell(f.value), frequency: f.frequency }));
    return k;
  }
  if (h['histogram-type'] === 'equi-height') {
    k.distinct = buckets.reduce((n, b) => n + Number(b[3] ?? 0), 0);
    if (masked || !buckets.length) return k;
    k.min = cell(buckets[0][0]);
    k.max = cell(buckets[buckets.length - 1][1]);
    if (isHistogrammable(type)) k.histogram = thin([buckets[0][0], ...buckets.map((b) => b[1])], read.histogramBuckets).map(cell);
  }
  return k;
}

/** A MySQL 8 histogram's `last-updated` (UTC, "2017-03-24 13:32:40.000000"), else unknown. */
export function mysqlHistogramAge(h: Record<string, unknown>): StatisticsAge {
  const text = h['last-updated'];
  const at = typeof text === 'string' ? new Date(`${text.trim().replace(' ', 'T')}Z`) : undefined;
  if (at && Number.isFinite(at.getTime())) return { collectedAt: at, source: 'information_schema.COLUMN_STATISTICS histogram last-updated' };
  return { source: 'unknown: the histogram has no last-updated' };
}

/** A value of a MySQL histogram as the text protocol would send it. */
function mysqlHistogramValue(v: unknown): Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') {
    const m = /^base64:type\d+:(.*)$/s.exec(v);
    if (m) return Buffer.from(m[1], 'base64');
    return Buffer.from(v, 'utf8');
  }
  // Bucket values parsed from JSON: numbers (and booleans) as their text; anything else as its JSON.
  if (typeof v === 'number' || typeof v === 'boolean') return Buffer.from(String(v), 'utf8');
  return Buffer.from(JSON.stringify(v), 'utf8');
}

/** At most `buckets + 1` of the points, evenly spread, the first and last kept. */
export function thin<T>(points: T[], buckets: number): T[] {
  if (points.length <= buckets + 1) return points;
  const out: T[] = [];
  for (let i = 0; i <= buckets; i++) out.push(points[Math.round((i * (points.length - 1)) / buckets)]);
  return out;
}
