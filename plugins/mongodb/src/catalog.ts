/**
 * The catalog reads of discovery. Databases are the schemas; collections, views and
 * time-series collections come in (database, name) order by UTF-8 bytes, keyset-paged by
 * the page's `after` key. Per page: one listDatabases, per database it touches two
 * listCollections (names to choose the page, then full infos of the chosen ones only); per
 * collection listIndexes, count and one sampling aggregate, at most `page.concurrency`
 * collections at a time. listCollections returns collections in no particular order and
 * has no limit, so names are sorted here; the `name > after` condition goes to the server.
 * Every catalog command carries the strategy's statement time limit as `maxTimeMS` (when
 * discovery set one), and sampling the smaller of its own limit and that one.
 */
import {
  describeError,
  mapWithConcurrency,
  SchemaInferrer,
  type CollectionEntity,
  type CollectionKind,
  type CompiledFilter,
  type InferredSchema,
  type Logger,
  type RelationKey,
  type RelationPage,
  type SamplingOptions,
  type SchemaEntity,
} from '@sourced/core';
import type { CollectionInfo, Db, Document, MongoClient } from 'mongodb';
import { classifyBsonValue } from './bsonTypes';
import { readIndexes } from './catalogIndexes';
import { codes, read, timeLimit, toJson, type CatalogLimits } from './catalogRead';
import { ErrorCode, serverCode } from './mongoErrors';

export type { CatalogLimits } from './catalogRead';

/** MongoDB's own databases, left out unless the filter includes system schemas. */
export const SYSTEM_DATABASES = ['admin', 'config', 'local'];

/** Collections named `system.*` (system.views, system.buckets.*, system.profile) are MongoDB's own too. */
const SYSTEM_COLLECTION = /^system\./;

const KINDS: Record<string, CollectionKind> = { collection: 'COLLECTION', view: 'VIEW', timeseries: 'TIMESERIES' };

/** UTF-8 byte order, as core's compareRelationKeys orders each part of a key. */
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * The database part of a filter as a listDatabases filter: the named database (an exact name,
 * not a pattern), else the system databases only. The name patterns are not sent: MongoDB's
 * `$regex` is PCRE, which backtracks (a crafted glob such as `*a*a*…*s` takes exponential
 * time), and listDatabases with nameOnly is cheap. They are checked here by the filter's
 * linear-time matcher instead, whatever the server sends.
 */
function databaseFilter(filter: CompiledFilter, database: string | undefined): Document {
  if (database) return { name: database };
  return filter.includeSystemSchemas ? {} : { name: { $nin: SYSTEM_DATABASES } };
}

/** Whether a database the server listed is in the scope and passes the filter (a named database is in scope even if it is one of MongoDB's own). */
function wanted(name: string, filter: CompiledFilter, database: string | undefined): boolean {
  const inScope = database ? name === database : filter.includeSystemSchemas || !SYSTEM_DATABASES.includes(name);
  return inScope && filter.schemaMatches(name);
}

/**
 * Names of the databases in scope (`limits.database`) that pass the filter, in byte order. `authorizedDatabases` makes
 * the server list the databases the user holds privileges in, without needing the
 * cluster-wide listDatabases privilege. A name the server sends is never trusted to have
 * passed the filter: each is checked here.
 */
export async function listDatabaseNames(client: MongoClient, filter: CompiledFilter, signal: AbortSignal, limits: CatalogLimits = {}): Promise<string[]> {
  const reply = await read('databases', signal, () =>
    client
      .db('admin')
      .command(
        { listDatabases: 1, nameOnly: true, authorizedDatabases: true, filter: databaseFilter(filter, limits.database), ...timeLimit(limits) },
        { signal },
      ),
  );
  const names = (reply.databases as { name: string }[]).map((d) => d.name);
  return names.filter((n) => wanted(n, filter, limits.database)).sort(byBytes);
}

/** The databases as schemas. Each listed database is one the user holds privileges in. */
export async function readDatabases(client: MongoClient, filter: CompiledFilter, signal: AbortSignal, limits: CatalogLimits = {}): Promise<SchemaEntity[]> {
  return (await listDatabaseNames(client, filter, signal, limits)).map((name) => ({ name, usable: true }));
}

/**
 * How many collections pass the filter after `after`: listDatabases, then one names-only
 * listCollections per database from the cursor's on (the same commands and conditions that
 * choose a page, without reading any collection's options), `concurrency` databases at once.
 */
export async function countCollections(
  client: MongoClient,
  filter: CompiledFilter,
  after: RelationKey | undefined,
  signal: AbortSignal,
  logger: Logger,
  limits: CatalogLimits = {},
  concurrency = 1,
): Promise<number> {
  const databases = (await listDatabaseNames(client, filter, signal, limits)).filter((db) => !after || byBytes(db, after.schema) >= 0);
  const counts = await mapWithConcurrency(
    databases,
    concurrency,
    async (db) => (await namesOfDatabase(client.db(db), after && db === after.schema ? after.name : undefined, filter, signal, logger, limits)).length,
    signal,
  );
  return counts.reduce((sum, n) => sum + n, 0);
}

interface Chosen {
  db: string;
  info: Pick<CollectionInfo, 'name' | 'type'> & Partial<CollectionInfo>;
}

/** One page of collections, each with its indexes, estimated count and inferred schema. */
export async function readCollections(
  client: MongoClient,
  page: RelationPage,
  signal: AbortSignal,
  logger: Logger,
  limits: CatalogLimits = {},
): Promise<CollectionEntity[]> {
  const { filter, after } = page;
  const databases = await listDatabaseNames(client, filter, signal, limits);
  const chosen: Chosen[] = [];
  for (const db of databases) {
    if (chosen.length >= page.limit) break;
    if (after && byBytes(db, after.schema) < 0) continue;
    const afterName = after && db === after.schema ? after.name : undefined;
    chosen.push(...(await pageOfDatabase(client.db(db), afterName, page.limit - chosen.length, filter, signal, logger, limits)));
  }
  // Sampling keeps its own limit, within the statement time limit.
  const sampling = { ...page.sampling, maxTimeMs: samplingTimeLimit(page.sampling.maxTimeMs, limits) };
  return mapWithConcurrency(chosen, page.concurrency, (c) => describeCollection(client.db(c.db), c, sampling, signal, logger, limits), signal);
}

/** The sampling time limit: its own, but never more than the statement time limit. */
export function samplingTimeLimit(ownMs: number, limits: CatalogLimits): number {
  const statement = limits.maxTimeMS;
  if (statement === undefined || statement <= 0) return ownMs;
  return ownMs > 0 ? Math.min(ownMs, statement) : statement;
}

/**
 * The names of the collections of one database after `afterName` that pass the filter
 * (system collections only when it includes system schemas), in byte order; none when the
 * user may not list the database's collections any more.
 */
async function namesOfDatabase(
  db: Db,
  afterName: string | undefined,
  filter: CompiledFilter,
  signal: AbortSignal,
  logger: Logger,
  limits: CatalogLimits,
): Promise<Pick<CollectionInfo, 'name' | 'type'>[]> {
  const conditions: Document[] = [];
  if (afterName !== undefined) conditions.push({ name: { $gt: afterName } });
  if (!filter.includeSystemSchemas) conditions.push({ name: { $not: SYSTEM_COLLECTION } });
  const query = conditions.length > 0 ? { $and: conditions } : {};
  // nameOnly + authorizedCollections: cheap (no collection locks), and allowed to users who
  // hold privileges on some collections of the database only.
  let names: Pick<CollectionInfo, 'name' | 'type'>[];
  try {
    names = await read(
      'collections',
      signal,
      () => db.listCollections(query, { nameOnly: true, authorizedCollections: true, signal, ...timeLimit(limits) }).toArray(),
      codes(ErrorCode.Unauthorized),
    );
  } catch (error) {
    // Only when the database was listed but the user's privileges changed since.
    if (serverCode(error) !== ErrorCode.Unauthorized) throw error;
    logger.info('collections not listed: no privileges in the database', { database: db.databaseName });
    return [];
  }
  return names
    .filter((c) => (filter.includeSystemSchemas || !SYSTEM_COLLECTION.test(c.name)) && filter.relationMatches(db.databaseName, c.name))
    .sort((a, b) => byBytes(a.name, b.name));
}

/** Up to `limit` collections of one database after `afterName`, in byte order, with their infos. */
async function pageOfDatabase(
  db: Db,
  afterName: string | undefined,
  limit: number,
  filter: CompiledFilter,
  signal: AbortSignal,
  logger: Logger,
  limits: CatalogLimits,
): Promise<Chosen[]> {
  const page = (await namesOfDatabase(db, afterName, filter, signal, logger, limits)).slice(0, limit);
  if (page.length === 0) return [];
  let infos: Chosen['info'][];
  try {
    infos = await read(
      'collections',
      signal,
      () =>
        db
          .listCollections({ name: { $in: page.map((c) => c.name) } }, { nameOnly: false, authorizedCollections: true, signal, ...timeLimit(limits) })
          .toArray(),
      codes(ErrorCode.Unauthorized),
    );
  } catch (error) {
    if (serverCode(error) !== ErrorCode.Unauthorized) throw error;
    // No listCollections privilege on the database: names and types are all we may see.
    logger.debug('listCollections with options not allowed; collections are listed by name and type only', { database: db.databaseName });
    infos = page;
  }
  const byName = new Map(infos.map((i) => [i.name, i]));
  return page.map((c) => ({ db: db.databaseName, info: byName.get(c.name) ?? c }));
}

async function describeCollection(
  db: Db,
  c: Chosen,
  sampling: SamplingOptions,
  signal: AbortSignal,
  logger: Logger,
  limits: CatalogLimits,
): Promise<CollectionEntity> {
  const { info } = c;
  const options: Document = info.options ?? {};
  const kind = KINDS[info.type ?? 'collection'] ?? 'COLLECTION';
  const entity: CollectionEntity = {
    entity: 'collection',
    schema: c.db,
    name: info.name,
    kind,
    indexes: [],
    estimatedDocuments: -1,
    capped: options.capped === true,
  };
  if (kind === 'VIEW') {
    if (typeof options.viewOn === 'string') entity.viewOn = options.viewOn;
    if (Array.isArray(options.pipeline)) entity.pipeline = toJson(options.pipeline);
  }
  if (kind === 'TIMESERIES' && options.timeseries) entity.timeseries = toJson(options.timeseries);
  applyOptions(entity, options);
  const ns = { database: c.db, collection: info.name };
  if (kind !== 'VIEW') {
    entity.indexes = await readIndexes(db, info.name, signal, logger.child(ns), limits);
    entity.estimatedDocuments = await estimatedCount(db, info.name, signal, logger.child(ns), limits);
  }
  entity.schemaInference = await sampleSchema(db, info.name, kind, sampling, signal, logger.child(ns));
  return entity;
}

/**
 * What listCollections says of a collection's options: its validator (a `$jsonSchema` or
 * query document) with the validation level and action as they were set (the server lists
 * them only then), whether it is clustered (`clusteredIndex`), and every option as one
 * document (capped size and max, time-series, expireAfterSeconds, collation, a view's
 * source and pipeline, ...), so nothing the server said is lost.
 */
function applyOptions(entity: CollectionEntity, options: Document): void {
  if (options.validator !== undefined) entity.validator = toJson(options.validator);
  if (typeof options.validationLevel === 'string') entity.validationLevel = options.validationLevel;
  if (typeof options.validationAction === 'string') entity.validationAction = options.validationAction;
  entity.clustered = options.clusteredIndex !== undefined && options.clusteredIndex !== false;
  entity.options = toJson(options);
}

/** The `count` command without a query: the collection's metadata count, no scan (what estimatedDocumentCount sends). */
async function estimatedCount(db: Db, name: string, signal: AbortSignal, logger: Logger, limits: CatalogLimits): Promise<number> {
  try {
    const reply = await read('counts', signal, () => db.command({ count: name, ...timeLimit(limits) }, { signal }), codes(ErrorCode.Unauthorized));
    return Number(reply.n);
  } catch (error) {
    if (serverCode(error) !== ErrorCode.Unauthorized) throw error;
    logger.info('document count not read: no find privilege');
    return -1;
  }
}

/**
 * Samples documents and infers the schema: `$sample` of `sampleSize` documents (a view
 * gets `$limit`, which lets the server stop its pipeline early), under `maxTimeMS`.
 * Documents are read with `promoteValues: false` so each keeps its BSON type, and are
 * folded into the inference one at a time. A sample that is not allowed or exceeds its
 * time is left out (logged), not fatal to discovery.
 */
async function sampleSchema(
  db: Db,
  name: string,
  kind: CollectionKind,
  sampling: SamplingOptions,
  signal: AbortSignal,
  logger: Logger,
): Promise<InferredSchema | undefined> {
  const stage = kind === 'VIEW' ? { $limit: sampling.sampleSize } : { $sample: { size: sampling.sampleSize } };
  const inferrer = new SchemaInferrer({ maxFields: sampling.maxFields, classify: classifyBsonValue });
  try {
    await read(
      'samples',
      signal,
      async () => {
        const cursor = db.collection(name).aggregate([stage], {
          maxTimeMS: sampling.maxTimeMs,
          batchSize: sampling.sampleSize,
          promoteValues: false,
          promoteLongs: false,
          promoteBuffers: false,
          bsonRegExp: true,
          comment: 'sourced schema sampling',
          signal,
        });
        try {
          for await (const doc of cursor) inferrer.add(doc);
        } finally {
          await cursor.close();
        }
      },
      () => true,
    );
  } catch (error) {
    const code = serverCode(error);
    if (code === undefined) throw error;
    if (code === ErrorCode.MaxTimeMSExpired) {
      logger.warn('schema sampling exceeded its time limit; the collection is listed without a schema', { max_time_ms: sampling.maxTimeMs });
    } else if (code === ErrorCode.Unauthorized) {
      logger.info('schema not sampled: no find privilege');
    } else {
      // A view whose pipeline fails, say: that collection goes without a schema, discovery goes on.
      logger.warn('schema sampling failed; the collection is listed without a schema', { code, error: describeError(error) });
    }
    return undefined;
  }
  return inferrer.result();
}
