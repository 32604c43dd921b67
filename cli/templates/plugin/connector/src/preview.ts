/**
 * Previews (capability `preview`), not declared yet: the conformance kit skips its preview
 * tests until you add `preview: storePreview` to the connector in src/connector.ts.
 *
 * - `previewColumns(conn, table, columns, signal)`: the table's columns from the source's
 *   catalog, those named in `columns` in that order (all when empty). A missing table is a
 *   `NotFoundError('TABLE_NOT_FOUND', ...)`; a column it lacks an `InputError` naming
 *   `columns[i]`.
 * - `previewRows(conn, read, signal)`: at most `read.limit` rows of exactly `read.columns`
 *   (the daemon already removed masked columns), each value a `Cell` without loss: integers and
 *   decimals as exact text, instants as RFC 3339 with their offset, bytes as base64, structured
 *   values as JSON, NULL as `{ kind: 'null' }`. Quote identifiers from the catalog, never from
 *   request text. Order by the primary key when there is one.
 * - `isSystemTable(table)`, `credentialColumns(table)` (optional): the database's own tables
 *   (refused unless the operator allows them) and columns that hold credentials (always masked).
 */
import { InputError, NotFoundError, type Cell, type PreviewSpec } from '@sourced/plugin-sdk';
import type { Store } from './store';

export const storePreview: PreviewSpec<Store> = {
  async previewColumns(store, table, columns) {
    const t = store.tables.find((x) => x.schema === table.schema && x.name === table.name);
    if (!t) throw new NotFoundError('TABLE_NOT_FOUND', `no table ${table.schema}.${table.name}`);
    if (columns.length === 0) return t.columns.map((c) => ({ name: c.name, type: c.type }));
    return columns.map((name, i) => {
      const c = t.columns.find((x) => x.name === name);
      if (!c) throw new InputError([{ field: `columns[${i}]`, description: `${table.schema}.${table.name} has no column "${name}"` }]);
      return { name: c.name, type: c.type };
    });
  },
  async previewRows(): Promise<Cell[][]> {
    throw new Error('previewRows is not implemented yet (src/preview.ts)');
  },
};
