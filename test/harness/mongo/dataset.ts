/**
 * The shape of the data a stand-in serves (and the real-server loader inserts): databases
 * with collections, views and time-series collections, their options and indexes, and the
 * users and roles of access control.
 */
import type { Document } from 'bson';
import type { RoleDefinition, UserDefinition } from './authz';

/** An index as createIndexes takes it. The `_id_` index is implied for collections. */
export interface IndexSpec {
  name: string;
  key: Document;
  unique?: boolean;
  sparse?: boolean;
  expireAfterSeconds?: number;
  partialFilterExpression?: Document;
  hidden?: boolean;
  /** Text index: field weights, default_language, language_override, textIndexVersion. */
  weights?: Document;
  default_language?: string;
  language_override?: string;
  textIndexVersion?: number;
  /** 2dsphere index version. */
  '2dsphereIndexVersion'?: number;
  /** Wildcard index projection. */
  wildcardProjection?: Document;
  /** The collation, expanded as mongod lists it (see catalogWrites.ts). */
  collation?: Document & { locale: string };
}

/** A collection, view or time-series collection, with createCollection's options. */
export interface CollectionSpec {
  name: string;
  type: 'collection' | 'view' | 'timeseries';
  /** createCollection options: `capped`/`size`/`max`, `viewOn`/`pipeline`, `timeseries`, `validator`, `clusteredIndex`, `collation`, ... */
  options?: Document;
  indexes?: IndexSpec[];
  /** The documents (none for a view: it reads its source). */
  documents?: Document[];
}

export interface DatabaseSpec {
  name: string;
  collections: CollectionSpec[];
}

/** Everything a stand-in serves. */
export interface MongoDataset {
  databases: DatabaseSpec[];
  roles: RoleDefinition[];
  users: UserDefinition[];
}
