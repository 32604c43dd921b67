/**
 * Discovery's catalog reads. Set-based: per page, one query over `pragma_table_list` joined
 * to `sqlite_schema` for the relations (the filter pushed down through a function), then one
 * query each for columns, indexes with their keys, and foreign keys of every relation of the
 * page (the pragma table-valued functions joined to `json_each` of the page's names), and one
 * over `sqlite_stat1` for row estimates when ANALYZE has run. A relation that SQLite cannot
 * describe (a view over a dropped table, a virtual table whose module is not compiled in)
 * makes its query fail: the page is then read relation by relation, and that relation is
 * reported without the part that failed.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  compareRelationKeys,
  throwIfAborted,
  type ColumnEntity,
  type CompiledFilter,
  type ForeignKeyEntity,
  type IndexEntity,
  type KeyConstraintEntity,
  type Logger,
  type RelationEntity,
  type RelationKey,
  type RelationPage,
  type SchemaEntity,
} from '@sourced/plugin-sdk';
import type { SqliteDatabase } from './database';
import { parseIndexSql, quoteIdentifier, typeAffinity, viewBody, virtualTableModule } from './sql';

/** The SQL function through which the discovery filter is pushed into the relation queries. */
const MATCH_FUNCTION = 'sourced_relation_matches';

interface RelationRow {
  name: string;
  type: 'table' | 'view' | 'virtual';
  without_rowid: number;
  strict: number;
  sql: string | null;
}

interface ColumnRow {
  rel: string;
  cid: number;
  name: string;
  type: string;
  notnull: number;
  dflt_value: string | null;
  pk: number;
  hidden: number;
}

interface IndexRow {
  rel: string;
  index_name: string;
  is_unique: number;
  origin: 'c' | 'u' | 'pk';
  partial: number;
  seqno: number;
  cid: number;
  column_name: string | null;
  is_desc: number;
  sql: string | null;
}

interface ForeignKeyRow {
  rel: string;
  id: number;
  seq: number;
  ref_table: string;
  from_col: string;
  to_col: string | null;
  on_update: string;
  on_delete: string;
}

const relationFilterSql = (schema: string) => `
FROM pragma_table_list AS tl
JOIN ${quoteIdentifier(schema)}.sqlite_schema AS m ON m.name = tl.name AND m.type IN ('table', 'view')
WHERE tl.schema = @schema
  AND tl.type IN ('table', 'view', 'virtual')
  AND tl.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
  AND (@after IS NULL OR tl.name > @after)
  AND ${MATCH_FUNCTION}(@schema, tl.name)`;

const COLUMNS_SQL = `
SELECT r.value AS rel, c.cid, c.name, c.type, c."notnull" AS "notnull", c.dflt_value, c.pk, c.hidden
FROM json_each(@names) AS r
JOIN pragma_table_xinfo(r.value, @schema) AS c
ORDER BY r.key, c.cid`;

const INDEXES_SQL = (schema: string) => `
SELECT r.value AS rel, il.name AS index_name, il."unique" AS is_unique, il.origin, il.partial,
       ix.seqno, ix.cid, ix.name AS column_name, ix."desc" AS is_desc, m.sql
FROM json_each(@names) AS r
JOIN pragma_index_list(r.value, @schema) AS il
JOIN pragma_index_xinfo(il.name, @schema) AS ix ON ix.key = 1
LEFT JOIN ${quoteIdentifier(schema)}.sqlite_schema AS m ON m.type = 'index' AND m.name = il.name
ORDER BY r.key, il.name, ix.seqno`;

/** A foreign key without columns of the parent references its primary key; its name is read as SQLite resolves it (case-insensitively). */
const FOREIGN_KEYS_SQL = (schema: string) => `
SELECT r.value AS rel, fk.id, fk.seq,
       coalesce((SELECT p.name FROM ${quoteIdentifier(schema)}.sqlite_schema AS p
                 WHERE p.type = 'table' AND p.name = fk."table" COLLATE NOCASE), fk."table") AS ref_table,
       fk."from" AS from_col,
       coalesce(fk."to", (SELECT pc.name FROM pragma_table_info(fk."table", @schema) AS pc WHERE pc.pk = fk.seq + 1)) AS to_col,
       fk.on_update, fk.on_delete
FROM json_each(@names) AS r
JOIN pragma_foreign_key_list(r.value, @schema) AS fk
ORDER BY r.key, fk.id, fk.seq`;

/** The catalog of one open database. */
export class SqliteCatalog {
  private filter: CompiledFilter | undefined;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly logger: Logger,
  ) {
    // The filter's compiled patterns are JavaScript regular expressions: SQLite calls back into
    // them, so LIMIT applies to the relations that pass.
    db.function(MATCH_FUNCTION, { deterministic: true, directOnly: true }, (schema: unknown, name: unknown) =>
      this.filter === undefined || this.filter.relationMatches(String(schema), String(name)) ? 1 : 0,
    );
  }

  /** The attached databases (`main`, and any other attached one; never `temp`), in byte order. */
  schemas(filter: CompiledFilter): SchemaEntity[] {
    const names = (this.db.prepare(`SELECT name FROM pragma_database_list WHERE name <> 'temp'`).all() as { name: string }[]).map((r) => r.name);
    return names
      .filter((name) => filter.schemaMatches(name))
      .sort((a, b) => compareRelationKeys({ schema: a, name: '' }, { schema: b, name: '' }))
      .map((name) => ({ name, usable: true }));
  }

  /** How many relations pass the filter after `after`. */
  count(filter: CompiledFilter, after: RelationKey | undefined): number {
    let total = 0;
    for (const schema of this.schemasFrom(filter, after)) {
      this.filter = filter;
      const row = this.db.prepare(`SELECT count(*) AS n ${relationFilterSql(schema)}`).get({ schema, after: this.afterIn(schema, after) }) as { n: number };
      total += row.n;
    }
    return total;
  }

  /** One page of relations after `page.after`, in (schema, name) byte order, with their columns, keys and indexes. */
  async relations(page: RelationPage, signal: AbortSignal): Promise<RelationEntity[]> {
    const out: RelationEntity[] = [];
    for (const schema of this.schemasFrom(page.filter, page.after)) {
      const remaining = page.limit - out.length;
      if (remaining <= 0) break;
      throwIfAborted(signal);
      this.filter = page.filter;
      const rows = this.db
        .prepare(`SELECT tl.name, tl.type, tl.wr AS without_rowid, tl.strict, m.sql ${relationFilterSql(schema)} ORDER BY tl.name LIMIT @limit`)
        .all({ schema, after: this.afterIn(schema, page.after), limit: remaining }) as RelationRow[];
      if (rows.length === 0) continue;
      out.push(...(await this.describe(schema, rows, signal)));
    }
    return out;
  }

  /** The schemas to read from `after` on, in byte order. */
  private schemasFrom(filter: CompiledFilter, after: RelationKey | undefined): string[] {
    return this.schemas(filter)
      .map((s) => s.name)
      .filter((name) => after === undefined || compareRelationKeys({ schema: name, name: '' }, { schema: after.schema, name: '' }) >= 0);
  }

  private afterIn(schema: string, after: RelationKey | undefined): string | null {
    return after !== undefined && after.schema === schema ? after.name : null;
  }

  /** Columns, indexes, foreign keys and row estimates of the page's relations of one schema: one query each. */
  private async describe(schema: string, rows: RelationRow[], signal: AbortSignal): Promise<RelationEntity[]> {
    const names = rows.map((r) => r.name);
    // better-sqlite3 is synchronous: between the queries, let a cancellation through.
    const step = async () => {
      await yieldToEventLoop();
      throwIfAborted(signal);
    };
    await step();
    const columns = this.perRelation<ColumnRow>(COLUMNS_SQL, schema, names, 'columns');
    await step();
    const indexes = this.perRelation<IndexRow>(INDEXES_SQL(schema), schema, names, 'indexes');
    await step();
    const foreignKeys = this.perRelation<ForeignKeyRow>(FOREIGN_KEYS_SQL(schema), schema, names, 'foreign keys');
    await step();
    const estimates = this.rowEstimates(schema, names);
    return rows.map((row) => toRelation(schema, row, columns.get(row.name) ?? [], indexes.get(row.name) ?? [], foreignKeys.get(row.name) ?? [], estimates.get(row.name)));
  }

  /**
   * Runs a query over the page's relations (bound as `@names`, a JSON array, and `@schema`)
   * and groups its rows by relation. When it fails (one relation SQLite cannot describe), the
   * relations are read one by one and those that fail are logged and left without rows.
   */
  private perRelation<R extends { rel: string }>(sql: string, schema: string, names: string[], what: string): Map<string, R[]> {
    const statement = this.db.prepare(sql);
    const group = (rows: R[], into = new Map<string, R[]>()) => {
      for (const row of rows) {
        const list = into.get(row.rel);
        if (list) list.push(row);
        else into.set(row.rel, [row]);
      }
      return into;
    };
    try {
      return group(statement.all({ names: JSON.stringify(names), schema }) as R[]);
    } catch {
      const out = new Map<string, R[]>();
      for (const name of names) {
        try {
          group(statement.all({ names: JSON.stringify([name]), schema }) as R[], out);
        } catch (error) {
          this.logger.warn(`SQLite cannot describe the ${what} of ${schema}.${name}; it is reported without them`, {
            schema,
            relation: name,
            error: error instanceof Error ? error.message : String(error),
          });
        }
      }
      return out;
    }
  }

  /** Rows per table from `sqlite_stat1` (written by ANALYZE): cheap, and absent (-1) when never analyzed. */
  private rowEstimates(schema: string, names: string[]): Map<string, number> {
    const q = quoteIdentifier(schema);
    const hasStats = this.db.prepare(`SELECT 1 FROM ${q}.sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1'`).get();
    const out = new Map<string, number>();
    if (!hasStats) return out;
    const rows = this.db
      .prepare(`SELECT tbl, stat FROM ${q}.sqlite_stat1 WHERE tbl IN (SELECT value FROM json_each(@names))`)
      .all({ names: JSON.stringify(names) }) as { tbl: string; stat: string | null }[];
    for (const row of rows) {
      const n = Number.parseInt(String(row.stat ?? '').split(' ')[0], 10);
      if (Number.isFinite(n)) out.set(row.tbl, Math.max(out.get(row.tbl) ?? 0, n));
    }
    return out;
  }
}

function toRelation(schema: string, row: RelationRow, columnRows: ColumnRow[], indexRows: IndexRow[], fkRows: ForeignKeyRow[], estimate: number | undefined): RelationEntity {
  const isView = row.type === 'view';
  const pkRows = columnRows.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
  // INTEGER PRIMARY KEY of a rowid table is the rowid: never null, whatever the declaration says.
  const rowidAlias = row.type === 'table' && !row.without_rowid && pkRows.length === 1 && pkRows[0].type.toUpperCase() === 'INTEGER' ? pkRows[0].name : undefined;
  const autoincrement = rowidAlias !== undefined && /\bAUTOINCREMENT\b/i.test(row.sql ?? '');
  const columns: ColumnEntity[] = columnRows
    .filter((c) => c.hidden !== 1) // hidden columns of virtual tables (fts5's rank, …)
    .map((c, i) => {
      const column: ColumnEntity = {
        name: c.name,
        ordinal: i + 1,
        // No declared type: the column takes any value (SQLite's word for it, in STRICT tables, is ANY).
        dataType: c.type === '' ? 'ANY' : c.type,
        baseType: typeAffinity(c.type),
        nullable: c.notnull === 0 && c.name !== rowidAlias,
        isArray: false,
      };
      if (c.dflt_value !== null) column.defaultValue = c.dflt_value;
      if (c.hidden === 2) column.generated = 'VIRTUAL';
      if (c.hidden === 3) column.generated = 'STORED';
      if (c.name === rowidAlias) column.extra = autoincrement ? 'rowid autoincrement' : 'rowid';
      return column;
    });

  const indexes = groupIndexes(indexRows);
  const primaryKey: KeyConstraintEntity | undefined = pkRows.length ? { name: 'PRIMARY', columns: pkRows.map((c) => c.name) } : undefined;
  const uniqueConstraints = indexes.filter((ix) => ix.origin === 'u').map((ix) => ({ name: ix.entity.name, columns: ix.entity.columns }));

  const entity: RelationEntity = {
    entity: 'relation',
    schema,
    name: row.name,
    kind: isView ? 'VIEW' : 'TABLE',
    columns,
    primaryKey,
    uniqueConstraints,
    foreignKeys: groupForeignKeys(row.name, schema, fkRows),
    indexes: indexes.map((ix) => ix.entity),
    estimatedRows: isView ? -1 : (estimate ?? -1),
  };
  if (isView && row.sql) entity.viewDefinition = viewBody(row.sql);
  if (row.type === 'virtual') entity.engine = virtualTableModule(row.sql) ?? 'virtual';
  return entity;
}

function groupIndexes(rows: IndexRow[]): { origin: IndexRow['origin']; entity: IndexEntity }[] {
  const byName = new Map<string, IndexRow[]>();
  for (const row of rows) byName.set(row.index_name, [...(byName.get(row.index_name) ?? []), row]);
  const out: { origin: IndexRow['origin']; entity: IndexEntity }[] = [];
  for (const [name, keys] of [...byName].sort(([a], [b]) => compareRelationKeys({ schema: '', name: a }, { schema: '', name: b }))) {
    const first = keys[0];
    const parsed = first.sql ? parseIndexSql(first.sql) : undefined;
    const columns = keys
      .sort((a, b) => a.seqno - b.seqno)
      .map((k) => k.column_name ?? (k.cid === -1 ? 'rowid' : (parsed?.keys[k.seqno] ?? '<expression>')));
    const terms = keys.map((k, i) => `${k.column_name !== null ? quoteIfNeeded(columns[i]) : columns[i]}${k.is_desc ? ' DESC' : ''}`).join(', ');
    const definition =
      first.sql ?? (first.origin === 'pk' ? `PRIMARY KEY (${terms})` : first.origin === 'u' ? `UNIQUE (${terms})` : `INDEX ${name} (${terms})`);
    const entity: IndexEntity = {
      name,
      columns,
      unique: first.is_unique === 1,
      primary: first.origin === 'pk',
      method: 'btree',
      definition,
    };
    if (first.partial && parsed?.predicate) entity.predicate = parsed.predicate;
    out.push({ origin: first.origin, entity });
  }
  return out;
}

function quoteIfNeeded(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

/**
 * SQLite keeps no name for a foreign key that a catalog query can read; each is named as
 * PostgreSQL would name it by default (`<table>_<columns>_fkey`), with a number when two
 * would share a name.
 */
function groupForeignKeys(table: string, schema: string, rows: ForeignKeyRow[]): ForeignKeyEntity[] {
  const byId = new Map<number, ForeignKeyRow[]>();
  for (const row of rows) byId.set(row.id, [...(byId.get(row.id) ?? []), row]);
  const used = new Set<string>();
  // pragma_foreign_key_list numbers them from the last declared; report them in declaration order.
  return [...byId.entries()]
    .sort(([a], [b]) => b - a)
    .map(([, parts]) => {
      parts.sort((a, b) => a.seq - b.seq);
      let name = `${table}_${parts.map((p) => p.from_col).join('_')}_fkey`;
      for (let n = 2; used.has(name); n++) name = `${table}_${parts.map((p) => p.from_col).join('_')}_fkey${n}`;
      used.add(name);
      return {
        name,
        columns: parts.map((p) => p.from_col),
        referencedSchema: schema,
        referencedTable: parts[0].ref_table,
        referencedColumns: parts.map((p) => p.to_col ?? ''),
        onUpdate: parts[0].on_update,
        onDelete: parts[0].on_delete,
      };
    });
}
