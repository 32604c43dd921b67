/**
 * Profiles of MongoDB collections (ProfileTable).
 *
 * A table is a collection; its columns are top-level fields (type `field`). With no fields
 * named, the fields are the top-level names found in a small `$sample` (names only: the
 * server maps each document to its key names, no value leaves it).
 *
 * STATISTICS: MongoDB keeps no per-field statistics, so only the collection's metadata count
 * is read (`count` without a query, as `estimatedDocumentCount` sends it: the server answers
 * from the collection's metadata, reading no document); every field is `noStatistics`. A view
 * has no such count (counting one runs its pipeline), so its row count is unknown.
 *
 * SAMPLE: one `aggregate([{ $sample: { size: n } }, { $project: … }])` under the statement
 * time limit (`maxTimeMS`) with the comment {@link PROFILE_COMMENT}. The projection carries,
 * per field, its `$type` (computed by the server, so the type names are MongoDB's own:
 * `string`, `int`, `long`, `double`, `decimal`, `date`, `objectId`, `bool`, `object`, `array`,
 * `null`, `missing`) and, unless the field is masked, its value. A masked field's value is
 * never projected: only its null fraction and types are reported. The figures are computed in
 * the daemon from those at most n values per field: null fraction, types, distinct count (by
 * canonical Extended JSON, so `1` as int and as double are two values; when `$sample`
 * returned fewer documents than asked it read every one and the count is exact, otherwise it
 * is the Haas–Stokes Duj1 estimate for the collection's metadata count, or the sample's own
 * count for a view), min/max by BSON order when the non-null values have one type that
 * orders, the most common scalar values, the average BSON width of a value, and equi-depth
 * histogram bounds (percentile_disc, repeats kept) of numeric and date fields. Values are canonical Extended JSON `json` cells. A field one of
 * whose value types is masked (the daemon's `maskTypes`) reports counts only, as a masked one.
 */
import { duj1, SourcedError, type Cell, type ColumnProfile, type PreviewColumnInfo, type ProfileItem, type ProfileRead } from '@sourced/core';
import { BSON, type Document, type MongoClient } from 'mongodb';
import { badFieldName, drain, FIELD_TYPE, jsonCell, RAW_VALUES, run, timeLimit, type NamespaceKind, type PreviewLimits } from './preview';

/** The `comment` of the profile's commands, so an operator can find them in `$currentOp` and the profiler. */
export const PROFILE_COMMENT = 'sourced profile';
/** Documents whose top-level names make the fields of a profile that names none. */
export const FIELD_NAME_SAMPLE = 100;
/** The `$type` of a missing field. */
const MISSING = 'missing';
/** `$type` names whose values order within their type (min, max). */
const ORDERED = new Set(['int', 'long', 'double', 'decimal', 'string', 'date', 'objectId', 'bool', 'timestamp']);
/** `$type` names that get a histogram. */
const HISTOGRAM = new Set(['int', 'long', 'double', 'decimal', 'date']);
/** `$type` names whose values are not scalars (no most common values). */
const COMPOUND = new Set(['object', 'array']);

/** Remaps the preview's read errors to the profile's reasons (PROFILE_READ_TIMEOUT, PROFILE_READ_FAILED). */
async function read<T>(what: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  try {
    return await run(what, signal, fn);
  } catch (error) {
    if (error instanceof SourcedError && error.constructor === SourcedError && error.reason.startsWith('PREVIEW_READ_')) {
      throw new SourcedError(error.reason.replace('PREVIEW_READ_', 'PROFILE_READ_'), error.message, { cause: error.cause, metadata: error.metadata });
    }
    throw error;
  }
}

/**
 * The fields to profile: those named, or (for the one `document` column of a request that
 * names none) the top-level names found in a `$sample` of {@link FIELD_NAME_SAMPLE} documents,
 * names only, `_id` first and the rest in the order found. Names that cannot be projected
 * (`$`-prefixed, dotted) are left out.
 */
export async function profileColumns(client: MongoClient, read_: ProfileRead, signal: AbortSignal, limits: PreviewLimits): Promise<PreviewColumnInfo[]> {
  const named = read_.columns.filter((c) => c.type === FIELD_TYPE);
  if (read_.columns.length === 0 || named.length === read_.columns.length) return named;
  const pipeline: Document[] = [
    { $sample: { size: FIELD_NAME_SAMPLE } },
    { $project: { _id: 0, names: { $map: { input: { $objectToArray: '$$ROOT' }, as: 'field', in: '$$field.k' } } } },
  ];
  const names = await read('field names', signal, async () => {
    const cursor = client
      .db(read_.table.schema)
      .collection(read_.table.name)
      .aggregate<{ names?: string[] }>(pipeline, {
        batchSize: FIELD_NAME_SAMPLE,
        comment: PROFILE_COMMENT,
        ...timeLimit(limits),
        signal,
      });
    const found = new Set<string>();
    try {
      for await (const row of cursor) for (const n of row.names ?? []) found.add(n);
    } finally {
      await cursor.close().catch(() => undefined);
    }
    return [...found];
  });
  const ordered = names.includes('_id') ? ['_id', ...names.filter((n) => n !== '_id')] : names;
  return ordered.filter((n) => badFieldName(n) === undefined).map((name) => ({ name, type: FIELD_TYPE }));
}

/** The collection's metadata count (`count` without a query), or undefined for a view or time-series collection. */
async function metadataCount(
  client: MongoClient,
  read_: ProfileRead,
  kind: NamespaceKind,
  signal: AbortSignal,
  limits: PreviewLimits,
): Promise<number | undefined> {
  if (kind !== 'collection') return undefined;
  return read('the collection count', signal, () =>
    client
      .db(read_.table.schema)
      .collection(read_.table.name)
      .estimatedDocumentCount({ comment: PROFILE_COMMENT, ...timeLimit(limits) }),
  );
}

/** The profile of one collection (see the module comment). */
export async function* profileCollection(
  client: MongoClient,
  read_: ProfileRead,
  kind: NamespaceKind,
  signal: AbortSignal,
  limits: PreviewLimits = {},
): AsyncGenerator<ProfileItem> {
  const rowCount = await metadataCount(client, read_, kind, signal, limits);
  const countSource = kind === 'collection' ? 'collection stats' : `no count (a ${kind})`;

  if (read_.mode === 'STATISTICS') {
    // STATISTICS reads no document, not even to learn field names: MongoDB keeps no per-field
    // statistics, so a request that names no field gets the one `document` column, without any.
    yield { kind: 'table', table: { rowCount, rowCountExact: false, sampleRows: 0, source: countSource } };
    for (const c of read_.columns) {
      yield { kind: 'column', column: { name: c.name, type: c.type, distinctExact: false, mostCommon: [], histogram: [], types: [], noStatistics: true } };
    }
    return;
  }

  const columns = await profileColumns(client, read_, signal, limits);
  // SAMPLE: one $sample, each field's $type and (unmasked) value under positional aliases.
  const projection: Document = { _id: 0 };
  columns.forEach((c, i) => {
    projection[`t${i}`] = { $type: `$${c.name}` };
    if (!read_.isMasked(c.name)) projection[`v${i}`] = `$${c.name}`;
  });
  const pipeline: Document[] = [{ $sample: { size: read_.sampleRows } }, { $project: projection }];
  const docs = await read('a sample of documents', signal, async () => {
    const cursor = client
      .db(read_.table.schema)
      .collection(read_.table.name)
      .aggregate(pipeline, {
        batchSize: Math.min(read_.sampleRows, 10_000),
        comment: PROFILE_COMMENT,
        ...timeLimit(limits),
        ...RAW_VALUES,
        signal,
      });
    return drain(cursor, read_.sampleRows);
  });

  // Fewer documents than asked: $sample returned every one (it scans and sorts when n is large).
  const whole = docs.length < read_.sampleRows;
  yield {
    kind: 'table',
    table: whole
      ? {
          rowCount: docs.length,
          rowCountExact: true,
          sampleRows: docs.length,
          source: `every document (${docs.length}, fewer than the ${read_.sampleRows} asked)`,
          sampleMethod: 'every document',
        }
      : {
          rowCount,
          rowCountExact: false,
          sampleRows: docs.length,
          source: `a sample of ${docs.length} documents${kind === 'collection' ? ' (count: collection stats)' : ''}`,
          sampleMethod: `$sample (size ${read_.sampleRows})`,
        },
  };
  for (const [i, c] of columns.entries()) {
    const types = docs.map((d) => String(d[`t${i}`] ?? MISSING));
    const masked = read_.isMasked(c.name) || types.some((t) => t !== MISSING && t !== 'null' && read_.isMasked(c.name, t));
    // Part of a collection with a known count: distinct counts are extrapolated to it (Duj1).
    const tableRows = whole || rowCount === undefined ? undefined : rowCount;
    yield { kind: 'column', column: profileField(c, types, masked ? undefined : docs.map((d): unknown => d[`v${i}`]), read_, tableRows) };
  }
}

/**
 * The figures of one field from its sampled types and (unless masked) values. `tableRows`, the
 * collection's document count when the sample is only part of it, turns the sample's distinct
 * count into the Haas–Stokes Duj1 estimate for the collection (core's {@link duj1}, as
 * PostgreSQL's ANALYZE computes it over the non-null values: n and N scaled by the sample's
 * non-null share); without it the distinct count is the sample's own.
 */
export function profileField(
  c: PreviewColumnInfo,
  types: string[],
  values: unknown[] | undefined,
  read_: Pick<ProfileRead, 'mostCommonLimit' | 'histogramBuckets'>,
  tableRows?: number,
): ColumnProfile {
  const n = types.length;
  const typeCounts = countBy(types);
  const nulls = (typeCounts.get(MISSING) ?? 0) + (typeCounts.get('null') ?? 0);
  const base = {
    name: c.name,
    type: c.type,
    nullFraction: n === 0 ? undefined : nulls / n,
    distinctExact: false,
    mostCommon: [] as { value: Cell; frequency: number }[],
    histogram: [] as Cell[],
    types: [...typeCounts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([type, k]) => ({ type, frequency: k / n })),
  };
  if (values === undefined || n === 0) return base;

  const present = values.flatMap((v, j) =>
    types[j] === MISSING || types[j] === 'null' ? [] : [{ value: v, type: types[j], key: BSON.EJSON.stringify({ v }, { relaxed: false }) }],
  );
  const byKey = new Map<string, { value: unknown; type: string; count: number }>();
  for (const p of present) {
    const e = byKey.get(p.key);
    if (e) e.count++;
    else byKey.set(p.key, { value: p.value, type: p.type, count: 1 });
  }
  const presentTypes = new Set(present.map((p) => p.type));
  const only = presentTypes.size === 1 ? [...presentTypes][0] : undefined;
  const cell = (v: unknown) => jsonCell(v);

  let min: Cell | undefined;
  let max: Cell | undefined;
  let histogram: Cell[] = [];
  if (only !== undefined && ORDERED.has(only)) {
    const sorted = present.map((p) => p.value).sort((a, b) => compareSameType(a, b, only));
    min = cell(sorted[0]);
    max = cell(sorted[sorted.length - 1]);
    if (HISTOGRAM.has(only) && byKey.size > 1 && read_.histogramBuckets > 0) histogram = bounds(sorted, read_.histogramBuckets).map(cell);
  }
  const mostCommon = [...byKey.entries()]
    .filter(([, e]) => !COMPOUND.has(e.type))
    .sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, read_.mostCommonLimit)
    .map(([, e]) => ({ value: cell(e.value), frequency: e.count / n }));
  // The BSON width of a value: an element { v: value } in a document, less the document's own 8 bytes.
  const widths = present.map((p) => BSON.calculateObjectSize({ v: p.value }) - 8);
  const seenOnce = [...byKey.values()].filter((e) => e.count === 1).length;
  const nonNullShare = present.length / n;
  const distinctCount = tableRows === undefined ? byKey.size : duj1(present.length, byKey.size, seenOnce, Math.round(tableRows * nonNullShare));
  return {
    ...base,
    distinctCount,
    distinctExact: tableRows === undefined,
    min,
    max,
    averageLength: widths.length ? widths.reduce((a, b) => a + b, 0) / widths.length : undefined,
    mostCommon,
    histogram,
  };
}

function countBy(items: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1);
  return m;
}

/** Orders two values of the same `$type` as MongoDB does (strings by UTF-8 bytes, the simple collation). */
function compareSameType(a: unknown, b: unknown, type: string): number {
  switch (type) {
    case 'int':
    case 'double':
      return (a as { valueOf(): number }).valueOf() - (b as { valueOf(): number }).valueOf();
    case 'long':
    case 'timestamp': {
      const x = BigInt(String(a));
      const y = BigInt(String(b));
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 'decimal':
      return Number(String(a)) - Number(String(b));
    case 'string':
      return Buffer.compare(Buffer.from(String(a)), Buffer.from(String(b)));
    case 'date':
      return (a as Date).getTime() - (b as Date).getTime();
    case 'objectId':
      return Buffer.compare(
        Buffer.from((a as { toHexString(): string }).toHexString(), 'hex'),
        Buffer.from((b as { toHexString(): string }).toHexString(), 'hex'),
      );
    case 'bool':
      return Number(a === true) - Number(b === true);
    default:
      return 0;
  }
}

/**
 * Equi-depth bounds of sorted values: the values at the 0, 1/b, …, 1 quantiles by the
 * definition of SQL's percentile_disc (the first value whose cumulative share reaches i/b: the
 * value at 1-based position ⌈i·m/b⌉, the minimum at 0), as PostgreSQL's and MySQL's SAMPLE
 * compute them. Repeated bounds are kept: they say that one value fills a whole bucket.
 */
function bounds(sorted: unknown[], buckets: number): unknown[] {
  const m = sorted.length;
  const out: unknown[] = [];
  for (let i = 0; i <= buckets; i++) out.push(sorted[Math.max(0, Math.ceil((i * m) / buckets) - 1)]);
  return out;
}
