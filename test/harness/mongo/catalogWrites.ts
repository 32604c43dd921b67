/**
 * The write commands a test uses to load a catalog fixture through the driver, as mongod
 * (7.0) answers them and then describes the result in listCollections and listIndexes:
 * `create` (collections with capped, validator, collation, clusteredIndex, expireAfterSeconds;
 * time-series; views), `createIndexes` (unique, sparse, TTL, partial, hidden, collation, text,
 * 2dsphere, wildcard), `insert`, `drop` and `dropDatabase`. They change the stand-in's dataset
 * in place. What mongod normalises is normalised here the same way (a capped size is kept as
 * given: 6.2 dropped the rounding to 256 bytes, SERVER-67246): a collation expanded to every ICU attribute, a text index's key rewritten to
 * `_fts`/`_ftsx` with its weights, languages and version, a 2dsphere index's version, a
 * time-series collection's bucket span from its granularity, a clustered collection's index.
 * Not modelled: validation of inserted documents, and the `{meta: 1, time: 1}` index MongoDB
 * 6.3+ adds to a time-series collection with a metaField.
 */
import type { Document } from 'bson';
import type { CollectionSpec, DatabaseSpec, IndexSpec, MongoDataset } from './dataset';
import { CommandError } from './pipeline';

/** Options of `create` that listCollections reports back, in the order mongod stores them. */
const CREATE_OPTIONS = [
  'capped',
  'size',
  'max',
  'timeseries',
  'expireAfterSeconds',
  'clusteredIndex',
  'validator',
  'validationLevel',
  'validationAction',
  'viewOn',
  'pipeline',
  'collation',
  'changeStreamPreAndPostImages',
  'storageEngine',
  'indexOptionDefaults',
];

/** Index options of `createIndexes` that listIndexes reports back. */
const INDEX_OPTIONS = [
  'unique',
  'sparse',
  'expireAfterSeconds',
  'partialFilterExpression',
  'hidden',
  'weights',
  'default_language',
  'language_override',
  'textIndexVersion',
  '2dsphereIndexVersion',
  'wildcardProjection',
  'collation',
];

/** Seconds a time-series bucket spans by granularity (MongoDB 6.3+ lists it). */
const BUCKET_SPAN: Record<string, number> = { seconds: 3600, minutes: 86400, hours: 2592000 };

/** A collation as mongod lists it: every ICU attribute, the defaults filled in; undefined for `simple`. */
export function expandCollation(collation: Document | undefined): (Document & { locale: string }) | undefined {
  if (!collation || collation.locale === 'simple') return undefined;
  return {
    locale: String(collation.locale),
    caseLevel: collation.caseLevel ?? false,
    caseFirst: collation.caseFirst ?? 'off',
    strength: collation.strength ?? 3,
    numericOrdering: collation.numericOrdering ?? false,
    alternate: collation.alternate ?? 'non-ignorable',
    maxVariable: collation.maxVariable ?? 'punct',
    normalization: collation.normalization ?? false,
    backwards: collation.backwards ?? false,
    version: '57.1',
  };
}

function databaseOf(dataset: MongoDataset, db: string): DatabaseSpec {
  let spec = dataset.databases.find((d) => d.name === db);
  if (!spec) {
    spec = { name: db, collections: [] };
    dataset.databases.push(spec);
  }
  return spec;
}

/** `create`: a collection, time-series collection or view with its options. */
export function createCollection(dataset: MongoDataset, db: string, cmd: Document): Document {
  const name = String(cmd.create);
  const database = databaseOf(dataset, db);
  if (database.collections.some((c) => c.name === name)) throw new CommandError(48, 'NamespaceExists', `Collection ${db}.${name} already exists.`);
  const options: Document = {};
  for (const key of CREATE_OPTIONS) if (cmd[key] !== undefined) options[key] = cmd[key];
  if (options.timeseries) {
    const ts = options.timeseries as Document;
    const granularity = String(ts.granularity ?? 'seconds');
    options.timeseries = {
      timeField: ts.timeField,
      ...(ts.metaField !== undefined ? { metaField: ts.metaField } : {}),
      granularity,
      bucketMaxSpanSeconds: ts.bucketMaxSpanSeconds ?? BUCKET_SPAN[granularity],
    };
  }
  if (options.clusteredIndex) {
    const ci = options.clusteredIndex as Document;
    options.clusteredIndex = { v: 2, key: ci.key ?? { _id: 1 }, name: ci.name ?? '_id_', unique: true };
  }
  const collation = expandCollation(options.collation as Document | undefined);
  if (collation) options.collation = collation;
  else delete options.collation;
  const type: CollectionSpec['type'] = options.viewOn !== undefined ? 'view' : options.timeseries ? 'timeseries' : 'collection';
  database.collections.push({ name, type, options, indexes: [], documents: type === 'view' ? undefined : [] });
  return { ok: 1 };
}

/** The key and text options of a text index as mongod stores them. */
function textIndex(key: Document, given: Document): Partial<IndexSpec> & { key: Document } {
  const out: Document = {};
  const weights: Document = {};
  for (const [field, kind] of Object.entries(key)) {
    if (kind === 'text') {
      if (!('_fts' in out)) {
        out._fts = 'text';
        out._ftsx = 1;
      }
      weights[field] = (given.weights as Document | undefined)?.[field] ?? 1;
    } else out[field] = kind;
  }
  for (const [field, weight] of Object.entries((given.weights as Document | undefined) ?? {})) if (!(field in weights)) weights[field] = weight;
  const sorted = Object.fromEntries(Object.entries(weights).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    key: out,
    weights: sorted,
    default_language: (given.default_language as string | undefined) ?? 'english',
    language_override: (given.language_override as string | undefined) ?? 'language',
    textIndexVersion: 3,
  };
}

/** `createIndexes`: each index with its options as listIndexes will report them; creates the collection when missing. */
export function createIndexes(dataset: MongoDataset, db: string, cmd: Document): Document {
  const name = String(cmd.createIndexes);
  const database = databaseOf(dataset, db);
  let collection = database.collections.find((c) => c.name === name);
  const created = !collection;
  if (!collection) {
    collection = { name, type: 'collection', options: {}, indexes: [], documents: [] };
    database.collections.push(collection);
  }
  if (collection.type === 'view') throw new CommandError(166, 'CommandNotSupportedOnView', `Namespace ${db}.${name} is a view, not a collection`);
  const own = (collection.indexes ??= []);
  const before = own.length + (collection.type === 'collection' ? 1 : 0);
  for (const given of (cmd.indexes as Document[] | undefined) ?? []) {
    const indexName = String(given.name);
    if (own.some((i) => i.name === indexName)) continue;
    const key = given.key as Document;
    let spec: IndexSpec = { name: indexName, key };
    const values = Object.values(key);
    if (values.includes('text')) spec = { ...spec, ...textIndex(key, given) };
    for (const option of INDEX_OPTIONS) {
      if (given[option] !== undefined && (spec as unknown as Document)[option] === undefined) (spec as unknown as Document)[option] = given[option];
    }
    if (values.includes('2dsphere')) spec['2dsphereIndexVersion'] = 3;
    // An index without its own collation takes the collection's.
    const collation = expandCollation((given.collation as Document | undefined) ?? (collection.options?.collation as Document | undefined));
    if (collation) spec.collation = collation;
    else delete spec.collation;
    own.push(spec);
  }
  return {
    numIndexesBefore: before,
    numIndexesAfter: own.length + (collection.type === 'collection' ? 1 : 0),
    createdCollectionAutomatically: created,
    ok: 1,
  };
}

/** `insert`: appends the documents (the driver gave each its `_id`); creates the collection when missing. */
export function insertDocuments(dataset: MongoDataset, db: string, cmd: Document): Document {
  const name = String(cmd.insert);
  const database = databaseOf(dataset, db);
  let collection = database.collections.find((c) => c.name === name);
  if (!collection) {
    collection = { name, type: 'collection', options: {}, indexes: [], documents: [] };
    database.collections.push(collection);
  }
  if (collection.type === 'view') throw new CommandError(166, 'CommandNotSupportedOnView', `Namespace ${db}.${name} is a view, not a collection`);
  const documents = (cmd.documents as Document[] | undefined) ?? [];
  (collection.documents ??= []).push(...documents);
  return { n: documents.length, ok: 1 };
}

/** `drop`: removes a collection or view (NamespaceNotFound when there is none). */
export function dropCollection(dataset: MongoDataset, db: string, cmd: Document): Document {
  const name = String(cmd.drop);
  const database = dataset.databases.find((d) => d.name === db);
  const index = database?.collections.findIndex((c) => c.name === name) ?? -1;
  if (!database || index < 0) throw new CommandError(26, 'NamespaceNotFound', 'ns not found');
  database.collections.splice(index, 1);
  return { ns: `${db}.${name}`, ok: 1 };
}

/** `dropDatabase`: removes the database and everything in it. */
export function dropDatabase(dataset: MongoDataset, db: string): Document {
  const index = dataset.databases.findIndex((d) => d.name === db);
  if (index >= 0) dataset.databases.splice(index, 1);
  return { ok: 1 };
}
