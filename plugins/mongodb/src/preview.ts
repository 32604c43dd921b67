/**
 * Previews of MongoDB collections, views and time-series collections (PreviewTable).
 *
 * A table is a collection: its schema the database, its name the collection. With no
 * columns asked for, each document is one `document` cell; with columns, each is a top-level
 * field (type `field`), and a document without it gives a null cell. Values are rendered as
 * canonical Extended JSON (`{"$numberLong": "9007199254740993"}`, `{"$numberDecimal": ...}`,
 * `{"$date": {"$numberLong": ...}}`, `{"$oid": ...}`, `{"$binary": ...}`), so every BSON type
 * survives; documents are read with `promoteValues: false` so that int, long and double stay
 * apart.
 *
 * Masking: a masked top-level field is never read. With chosen columns the daemon leaves it
 * out of `read.columns`, so it is not in the projection; in whole-document mode the names of
 * the top-level fields of the documents to be read are looked up first (an aggregate that
 * returns field names only, never values), and the masked ones are excluded by the find's
 * projection (`{ password: 0 }`). A masked field nested in a value (at any depth, in
 * documents and in arrays of documents) is read and then replaced by {@link MASKED_VALUE}
 * before it leaves the connector; so is a masked top-level field that appeared between the
 * two reads, or whose name cannot be projected (`$`-prefixed or dotted names). Masking by type
 * (the daemon's `maskTypes`) sees MongoDB's `$type` names (`binData`, `decimal`) of field
 * values, which are read and then replaced (a chosen field's cell is then `masked`); the
 * columns themselves have the types `document` and `field`.
 */
import {
  AbortedError,
  abortedErrorFrom,
  describeError,
  InputError,
  NotAllowedError,
  NotFoundError,
  SourcedError,
  UnavailableError,
  type Cell,
  type PreviewColumnInfo,
  type PreviewRead,
  type RelationKey,
} from '@sourced/core';
import { BSON, type Document, type MongoClient } from 'mongodb';
import { classifyBsonValue } from './bsonTypes';
import { ErrorCode, isConnectionError, serverCode } from './mongoErrors';

/** The column of whole-document mode. */
export const DOCUMENT_COLUMN: PreviewColumnInfo = { name: 'document', type: 'document' };
/** The type of a chosen top-level field. */
export const FIELD_TYPE = 'field';
/** What replaces a masked field inside a previewed value. */
export const MASKED_VALUE: Readonly<Document> = Object.freeze({ $masked: true });
/** The `comment` of the preview's commands, so an operator can find them in `$currentOp` and the profiler. */
export const PREVIEW_COMMENT = 'sourced preview';

/** What kind of namespace a previewed name is (listCollections' `type`). */
export type NamespaceKind = string; // 'collection', 'view', 'timeseries', or what a newer server names

export interface PreviewLimits {
  /** `maxTimeMS` of each command (the strategy's statement time limit); undefined sends none. */
  maxTimeMS?: number;
}

export const timeLimit = (limits: PreviewLimits): { maxTimeMS?: number } =>
  limits.maxTimeMS !== undefined && limits.maxTimeMS > 0 ? { maxTimeMS: limits.maxTimeMS } : {};

/** Options that keep every BSON type as the driver's class, so canonical Extended JSON can tell them apart. */
export const RAW_VALUES = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

/** MongoDB's own databases. */
const SYSTEM_DATABASES = new Set(['admin', 'local', 'config']);

/**
 * Whether a namespace is MongoDB's own: a collection of the `admin`, `local` or `config`
 * database, or a `system.*` collection of any database (`system.profile` holds queries,
 * `system.js` code). Previews and profiles refuse them unless the daemon opts in.
 */
export function isSystemTable(table: RelationKey): boolean {
  return SYSTEM_DATABASES.has(table.schema.toLowerCase()) || table.name.startsWith('system.');
}

/**
 * Fields of MongoDB's own collections that hold credential material: the SCRAM credentials
 * (salt, StoredKey, ServerKey) of `admin.system.users` and the cluster's signing keys in
 * `admin.system.keys`. Masked at any depth, like the daemon's masked names.
 */
const CREDENTIAL_FIELDS: Readonly<Record<string, readonly string[]>> = {
  'admin.system.users': ['credentials'],
  'admin.system.keys': ['key'],
};

/** The credential fields of a collection. */
export function credentialColumns(table: RelationKey): readonly string[] {
  return CREDENTIAL_FIELDS[`${table.schema}.${table.name}`] ?? [];
}

/** Characters a database name may not hold (MongoDB's rules on any platform). */
const BAD_DATABASE_NAME = /[/\\. "$\0]/;

/** Why a field name cannot be a preview column, or undefined when it can. */
export function badFieldName(name: string): string | undefined {
  if (name.startsWith('$')) return 'must not start with "$" (a top-level field name, not an expression)';
  if (name.includes('.')) return 'must not contain "." (columns are top-level fields; nested paths are not supported)';
  if (name.includes('\0')) return 'must not contain a NUL character';
  return undefined;
}

/**
 * The columns of a preview: checks the field names, then looks the collection up with
 * listCollections (names only, those the user may see), so that a missing one, or one the
 * user may not see, is `TABLE_NOT_FOUND`. Returns the columns and the namespace's kind.
 */
export async function previewColumns(
  client: MongoClient,
  table: RelationKey,
  columns: readonly string[],
  signal: AbortSignal,
  limits: PreviewLimits = {},
): Promise<{ columns: PreviewColumnInfo[]; kind: NamespaceKind }> {
  const violations = columns.flatMap((c, i) => {
    const why = badFieldName(c);
    return why ? [{ field: `columns[${i}]`, description: `"${c}" ${why}` }] : [];
  });
  if (BAD_DATABASE_NAME.test(table.schema)) violations.unshift({ field: 'table.schema', description: `"${table.schema}" is not a MongoDB database name` });
  if (violations.length) throw new InputError(violations, { reason: 'INVALID_REQUEST' });
  const kind = await collectionKind(client, table, signal, limits);
  if (kind === undefined) {
    throw new NotFoundError('TABLE_NOT_FOUND', `MongoDB has no collection or view "${table.name}" in database "${table.schema}" that this user may see`, {
      metadata: { schema: table.schema, table: table.name },
    });
  }
  return { columns: columns.length === 0 ? [{ ...DOCUMENT_COLUMN }] : columns.map((name) => ({ name, type: FIELD_TYPE })), kind };
}

/** The listCollections `type` of a namespace, or undefined when the user sees none of that name. */
export async function collectionKind(
  client: MongoClient,
  table: RelationKey,
  signal: AbortSignal,
  limits: PreviewLimits = {},
): Promise<NamespaceKind | undefined> {
  const infos = await run('the collection', signal, () =>
    client
      .db(table.schema)
      .listCollections({ name: table.name }, { nameOnly: true, authorizedCollections: true, signal, ...timeLimit(limits) })
      .toArray(),
  );
  const info = infos.find((i) => i.name === table.name);
  return info ? (info.type ?? 'collection') : undefined;
}

/**
 * At most `read.limit` documents: `find` with an empty filter, sorted by `_id` for a
 * collection (the `_id` index; views and time-series collections come in their natural
 * order), under the statement time limit, in one batch, with {@link PREVIEW_COMMENT}. Honours
 * `signal`: the driver closes the connection of a command in flight, and the cursor is
 * closed (killCursors) whenever it is left open.
 */
export async function previewRows(
  client: MongoClient,
  read: PreviewRead,
  kind: NamespaceKind,
  signal: AbortSignal,
  limits: PreviewLimits = {},
): Promise<Cell[][]> {
  const collection = client.db(read.table.schema).collection(read.table.name);
  const whole = read.columns.length === 1 && read.columns[0].type === DOCUMENT_COLUMN.type;
  const sort = kind === 'collection' ? { _id: 1 as const } : undefined;
  const isMasked: PreviewRead['isMasked'] = (...args) => read.isMasked(...args);
  const redact = (value: unknown) => redacted(value, isMasked);

  let projection: Document | undefined;
  if (whole) {
    const names = await topLevelFieldNames(collection, read.limit, sort, signal, limits);
    const excluded = names.filter((n) => read.isMasked(n) && badFieldName(n) === undefined);
    if (excluded.length > 0) projection = Object.fromEntries(excluded.map((n) => [n, 0]));
  } else if (read.columns.length === 0) {
    // Every chosen column is masked: rows of no cells, reading as little as there is.
    projection = read.isMasked('_id') ? { _id: 0, __sourced_no_field__: 1 } : { _id: 1 };
  } else {
    projection = { _id: 0 };
    for (const c of read.columns) projection[c.name] = 1;
  }

  const docs = await run('documents', signal, async () => {
    const cursor = collection.find(
      {},
      {
        ...(projection ? { projection } : {}),
        ...(sort ? { sort } : {}),
        limit: read.limit,
        batchSize: read.limit,
        comment: PREVIEW_COMMENT,
        ...timeLimit(limits),
        ...RAW_VALUES,
        signal,
      },
    );
    return drain(cursor, read.limit);
  });

  if (whole) return docs.map((doc) => [jsonCell(redact(doc))]);
  return docs.map((doc) => read.columns.map((c) => fieldCell(c.name, doc[c.name], isMasked, redact)));
}

/**
 * The names of the top-level fields of the documents a preview will read (the same order
 * and limit), by an aggregate that sends names only: `$objectToArray` runs on the server.
 */
async function topLevelFieldNames(
  collection: ReturnType<ReturnType<MongoClient['db']>['collection']>,
  limit: number,
  sort: Document | undefined,
  signal: AbortSignal,
  limits: PreviewLimits,
): Promise<string[]> {
  const pipeline: Document[] = [
    ...(sort ? [{ $sort: sort }] : []),
    { $limit: limit },
    { $project: { _id: 0, names: { $map: { input: { $objectToArray: '$$ROOT' }, as: 'field', in: '$$field.k' } } } },
  ];
  return run('field names', signal, async () => {
    const cursor = collection.aggregate<{ names?: string[] }>(pipeline, { batchSize: limit, comment: PREVIEW_COMMENT, ...timeLimit(limits), signal });
    const names = new Set<string>();
    try {
      for await (const row of cursor) for (const n of row.names ?? []) names.add(n);
    } finally {
      await cursor.close().catch(() => undefined);
    }
    return [...names];
  });
}

/**
 * A field's value as a cell: missing or null is a null cell, a value whose BSON type is
 * masked a masked cell, anything else canonical Extended JSON.
 */
function fieldCell(name: string, value: unknown, isMasked: PreviewRead['isMasked'], redact: (v: unknown) => unknown): Cell {
  if (value === undefined || value === null) return { kind: 'null' };
  if (isMasked(name, classifyBsonValue(value).type)) return { kind: 'masked' };
  return jsonCell(redact(value));
}

export function jsonCell(value: unknown): Cell {
  return { kind: 'json', value: BSON.EJSON.stringify(value, { relaxed: false }) };
}

/** An embedded document as the driver gives it (not a BSON value class, a date, bytes or a regular expression). */
function isDocument(value: unknown): value is Document {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  if (typeof (value as { _bsontype?: unknown })._bsontype === 'string') return false;
  return !(value instanceof Date || value instanceof Uint8Array || value instanceof RegExp);
}

/**
 * A copy of a value in which every field whose name (or BSON type) is masked, at any depth,
 * is replaced by {@link MASKED_VALUE}. Values without a masked field are returned as they are.
 */
export function redacted(value: unknown, isMasked: PreviewRead['isMasked']): unknown {
  if (Array.isArray(value)) return value.map((v) => redacted(v, isMasked));
  if (!isDocument(value)) return value;
  const out: Document = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isMasked(k, v === undefined ? undefined : classifyBsonValue(v).type) ? MASKED_VALUE : redacted(v, isMasked);
  }
  return out;
}

/**
 * Runs one read and turns its failure into a semantic error: cancellation as `AbortedError`,
 * a lost connection as `UnavailableError` (CONNECTION_LOST, so the engine may fail over),
 * missing privileges as `NotAllowedError` (READ_NOT_ALLOWED), the statement time limit as
 * PREVIEW_READ_TIMEOUT, anything else as PREVIEW_READ_FAILED with the server's code.
 */
export async function run<T>(what: string, signal: AbortSignal, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (signal.aborted) throw abortedErrorFrom(signal);
    if (error instanceof AbortedError || error instanceof SourcedError) throw error;
    const code = serverCode(error);
    const metadata: Record<string, string> = { step: what };
    if (code !== undefined) metadata.code = String(code);
    if (isConnectionError(error)) {
      throw new UnavailableError('CONNECTION_LOST', `the connection to MongoDB was lost while reading ${what}: ${describeError(error)}`, {
        cause: error,
        metadata,
      });
    }
    if (code === ErrorCode.Unauthorized) {
      throw new NotAllowedError('READ_NOT_ALLOWED', `the user may not read ${what} from MongoDB: ${describeError(error)}`, { cause: error, metadata });
    }
    if (code === ErrorCode.MaxTimeMSExpired) {
      throw new SourcedError('PREVIEW_READ_TIMEOUT', `reading ${what} from MongoDB took longer than the statement time limit: ${describeError(error)}`, {
        cause: error,
        metadata,
      });
    }
    throw new SourcedError(
      'PREVIEW_READ_FAILED',
      `reading ${what} from MongoDB failed: ${describeError(error)}${code !== undefined ? ` (code ${code})` : ''}`,
      { cause: error, metadata },
    );
  }
}

/** Reads at most `max` documents of a cursor and always closes it. Preview and profile share it. */
export async function drain(cursor: AsyncIterable<Document> & { close(): Promise<void> }, max: number): Promise<Document[]> {
  const out: Document[] = [];
  try {
    for await (const doc of cursor) {
      out.push(doc);
      if (out.length >= max) break;
    }
  } finally {
    await cursor.close().catch(() => undefined);
  }
  return out;
}
