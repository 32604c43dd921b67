/**
 * A collection's indexes (listIndexes) as entities, with every option the server reports.
 */
import type { CollectionIndexEntity, Logger } from '@sourced/core';
import type { Db, Document } from 'mongodb';
import { codes, read, timeLimit, toJson, type CatalogLimits } from './catalogRead';
import { ErrorCode, serverCode } from './mongoErrors';

export async function readIndexes(db: Db, name: string, signal: AbortSignal, logger: Logger, limits: CatalogLimits): Promise<CollectionIndexEntity[]> {
  let rows: Document[];
  try {
    // `signal` is honoured by every cursor, though ListIndexesOptions does not declare it.
    rows = await read(
      'indexes',
      signal,
      () =>
        db
          .collection(name)
          .listIndexes({ signal, ...timeLimit(limits) } as object)
          .toArray() as Promise<Document[]>, // index specifications (the driver types them any)
      codes(ErrorCode.Unauthorized, ErrorCode.NamespaceNotFound),
    );
  } catch (error) {
    const code = serverCode(error);
    if (code !== ErrorCode.Unauthorized && code !== ErrorCode.NamespaceNotFound) throw error;
    logger.info('indexes not listed', { reason: code === ErrorCode.Unauthorized ? 'no listIndexes privilege' : 'collection dropped' });
    return [];
  }
  return rows.map(toCollectionIndex);
}

/** Fields of a listIndexes entry that are not options: what the index is, and (before MongoDB 4.4) its namespace. */
const NOT_OPTIONS = new Set(['key', 'name', 'v', 'ns']);

/**
 * An index as listIndexes describes it: the key document, the flags every index may have
 * (unique, sparse, TTL, partial filter, hidden), the options of text (weights, languages,
 * version), wildcard (projection) and 2dsphere (version) indexes and the collation (the server
 * lists one only when it is not the simple binary comparison), and every option it reported as
 * one document, so nothing the server said is lost.
 */
export function toCollectionIndex(i: Document): CollectionIndexEntity {
  const index: CollectionIndexEntity = {
    name: String(i.name),
    keys: toJson(i.key),
    unique: i.unique === true,
    sparse: i.sparse === true,
    expireAfterSeconds: i.expireAfterSeconds === undefined ? 0 : Number(i.expireAfterSeconds),
    hidden: i.hidden === true,
  };
  if (i.partialFilterExpression) index.partialFilter = toJson(i.partialFilterExpression);
  if (i.weights) index.weights = toJson(i.weights);
  if (typeof i.default_language === 'string') index.defaultLanguage = i.default_language;
  if (typeof i.language_override === 'string') index.languageOverride = i.language_override;
  if (i.textIndexVersion !== undefined) index.textIndexVersion = Number(i.textIndexVersion);
  if (i.wildcardProjection) index.wildcardProjection = toJson(i.wildcardProjection);
  if (i['2dsphereIndexVersion'] !== undefined) index.sphereIndexVersion = Number(i['2dsphereIndexVersion']);
  if (i.collation) index.collation = toJson(i.collation);
  index.options = toJson(Object.fromEntries(Object.entries(i).filter(([k]) => !NOT_OPTIONS.has(k))));
  return index;
}
