/**
 * The benchmark catalog, the same shape in PostgreSQL and MariaDB: N tables spread over ten
 * schemas (MariaDB: databases) `bench_0` … `bench_9`, table `t<i>` in `bench_<i % 10>`.
 *
 * - columns: `id` (primary key), `parent_id`, then `c1` … `c<k>` with k = 6 + (i % 23), so
 *   8 to 30 columns, cycling through ten types (integers, strings, decimal, timestamp, text,
 *   boolean, date, JSON, UUID; one NOT NULL with a default, one timestamp with a default);
 * - indexes: `(c1)` on every table, `(c2, c3)` on even tables, a unique one on `(c4)` on every
 *   fifth: one to three besides the primary key;
 * - a foreign key `parent_id → t<i-1>(id)` on every third table;
 * - a table comment on odd tables, a column comment on `c1` of every fourth table;
 * - a view `v<i>` (id, c1, c2 of `t<i>`) for every twentieth table.
 */

export const SCHEMA_COUNT = 10;
export const SCHEMAS = Array.from({ length: SCHEMA_COUNT }, (_, i) => `bench_${i}`);

export const schemaOf = (i: number) => `bench_${i % SCHEMA_COUNT}`;
/** Extra columns c1..ck of table i (besides id and parent_id): 6..28, so 8..30 in all. */
export const extraColumns = (i: number) => 6 + (i % 23);
export const hasPairIndex = (i: number) => i % 2 === 0;
export const hasUniqueIndex = (i: number) => i % 5 === 0;
export const hasForeignKey = (i: number) => i % 3 === 0 && i > 1;
export const hasTableComment = (i: number) => i % 2 === 1;
export const hasColumnComment = (i: number) => i % 4 === 0;
export const hasView = (i: number) => i % 20 === 0;
/** Columns of each view. */
export const VIEW_COLUMNS = 3;

/** Column types by (g - 1) % 10 for column c<g>; c1..c4 must be indexable in both databases. */
export const PG_TYPES = [
  'bigint',
  'varchar(64)',
  'integer NOT NULL DEFAULT 0',
  'numeric(12,2)',
  'timestamptz DEFAULT now()',
  'text',
  'boolean',
  'date',
  'jsonb',
  'uuid',
];
export const MARIADB_TYPES = [
  'bigint',
  'varchar(64)',
  'int NOT NULL DEFAULT 0',
  'decimal(12,2)',
  'datetime(6) DEFAULT CURRENT_TIMESTAMP(6)',
  'text',
  'boolean',
  'date',
  'json',
  'uuid',
];

/** What a complete discovery of N tables must return. */
export interface Expected {
  tables: number;
  views: number;
  relations: number;
  columns: number;
}

export function expected(n: number): Expected {
  let columns = 0;
  let views = 0;
  for (let i = 1; i <= n; i++) {
    columns += 2 + extraColumns(i);
    if (hasView(i)) {
      views++;
      columns += VIEW_COLUMNS;
    }
  }
  return { tables: n, views, relations: n + views, columns };
}
