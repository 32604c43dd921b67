import type { RelationKey } from '../discovery/entities';

/* What a previewer reads and returns (see {@link Previewer}); PreviewEngine re-exports these. */

/**
 * One value of a previewed row, rendered without loss (see proto `sourced.v1.Cell`): integers
 * and decimals as exact text, instants as RFC 3339 with their offset, bytes as base64,
 * structured values as JSON (MongoDB: canonical Extended JSON).
 */
export type Cell =
  | { kind: 'null' }
  | { kind: 'text'; value: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'integer'; value: string }
  | { kind: 'decimal'; value: string }
  | { kind: 'float'; value: number }
  | { kind: 'timestamp'; value: string }
  | { kind: 'local_timestamp'; value: string }
  | { kind: 'date'; value: string }
  | { kind: 'time'; value: string }
  | { kind: 'bytes'; value: string }
  | { kind: 'json'; value: string }
  | { kind: 'other'; value: string }
  | { kind: 'masked' };

/** A column of a preview as the source's catalog describes it. */
export interface PreviewColumnInfo {
  /** Its name, exactly as the catalog holds it (the connector quotes it from there). */
  name: string;
  /** Its type as the source names it (`numeric(12,2)`, `timestamp with time zone`). */
  type: string;
}

/** What a connector is asked to read for a preview. */
export interface PreviewRead {
  /** The table, view or collection, resolved by {@link Previewer.previewColumns}. */
  table: RelationKey;
  /** The columns to read, in this order (never a masked one); may be empty (every column masked): rows of no cells. */
  columns: readonly PreviewColumnInfo[];
  /** At most this many rows. */
  limit: number;
  /**
   * Whether a field name (or type) is masked, for connectors whose values nest named fields
   * (MongoDB documents): a masked field inside a value is replaced, never returned.
   */
  isMasked(name: string, type?: string): boolean;
}
