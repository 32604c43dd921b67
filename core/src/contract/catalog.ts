import type { CompiledFilter } from '../discovery/DiscoveryFilter';
import type { RelationKey } from '../discovery/entities';

/* What a catalog reader is asked to read (see {@link CatalogReader}); Connector.ts re-exports these. */

/** Session settings of the connections discovery opens, from the strategy. */
export interface SessionSettings {
  /** Server-side time limit of each statement, milliseconds. */
  statementTimeoutMs: number;
}

/** A read request of one batch of relations, in deterministic (schema, name) order. */
export interface RelationPage {
  /** Which schemas and relations to read, compiled for push-down into catalog queries. */
  filter: CompiledFilter;
  /** Only relations after this key; undefined means from the start. */
  after?: RelationKey;
  /** At most this many relations. */
  limit: number;
  /** Reads the connector may run at once within this page (from the strategy). */
  concurrency: number;
  /** Schema inference of document stores. */
  sampling: SamplingOptions;
  /**
   * The page the engine asks for next when this one comes back full (it starts after this
   * page's last relation): given only to a connector that reads ahead
   * ({@link CatalogReader.readsAhead}) and only when the engine knows the size already. The
   * connector may start that page's source reads as soon as this page's have answered, while
   * this one is mapped and sent; the call for it takes them, and a call for any other page
   * must drop them.
   */
  next?: { limit: number };
}

/** How document stores infer a collection's schema. */
export interface SamplingOptions {
  /** Documents sampled per collection ($sample size). */
  sampleSize: number;
  /** Time limit of one sampling query on the server (maxTimeMS). */
  maxTimeMs: number;
  /** Most field paths reported per collection. */
  maxFields: number;
}

/** Defaults of {@link SamplingOptions}. */
export const DEFAULT_SAMPLING: SamplingOptions = { sampleSize: 1000, maxTimeMs: 10_000, maxFields: 1000 };
