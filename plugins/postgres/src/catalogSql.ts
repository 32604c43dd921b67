/**
 * The SQL of discovery's catalog reads, and the binds of its filter. Names and filters travel
 * only as bind parameters. Needs PostgreSQL 12 or later (attgenerated, pg_partition_tree).
 */
import { globToLikePattern, type CompiledFilter, type RelationKey } from '@sourced/core';

/**
 * SQL condition over `pg_namespace n`: true for schemas that are not PostgreSQL's own
 * (pg_catalog, information_schema, toast and temporary schemas).
 */
export const USER_SCHEMA_SQL = `(n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname !~ '^pg_(toast_)?temp_')`;

/**
 * The schema part of a filter; binds $1 include system schemas, $2 include patterns, $3
 * exclude patterns (LIKE patterns from the filter's globs, see {@link likePatterns}). LIKE,
 * not `~`: a regular expression is compiled per pattern and its cost depends on the
 * pattern's shape; LIKE with `%` and `_` is matched without backtracking.
 */
const SCHEMA_FILTER_SQL = `($1::boolean OR ${USER_SCHEMA_SQL})
  AND (cardinality($2::text[]) = 0 OR n.nspname::text LIKE ANY ($2::text[]))
  AND NOT (n.nspname::text LIKE ANY ($3::text[]))`;

export const SCHEMAS_SQL = `
SELECT n.nspname::text AS name,
       pg_get_userbyid(n.nspowner)::text AS owner,
       obj_description(n.oid, 'pg_namespace') AS comment,
       has_schema_privilege(n.oid, 'USAGE') AS usable
FROM pg_namespace n
WHERE ${SCHEMA_FILTER_SQL}
ORDER BY n.nspname COLLATE "C"`;

/**
 * Whether a relation's reltuples is unknown: -1 means never analyzed since PostgreSQL 14;
 * before that a never-analyzed table shows 0 rows on 0 pages (as does an analyzed empty
 * one, which is then reported as unknown too).
 */
const unknownRows = (c: string) => `(${c}.reltuples < 0 OR (${c}.reltuples = 0 AND ${c}.relpages = 0 AND current_setting('server_version_num')::int < 140000))`;

/**
 * The filter of the relations discovery reads, over `pg_class c` and `pg_namespace n`. Binds
 * $1-$3 as {@link SCHEMA_FILTER_SQL}, $4/$5 include/exclude patterns over `schema.name`,
 * $6/$7 the key to start after (null from the start).
 */
const RELATION_FILTER_SQL = `c.relkind IN ('r', 'p', 'f', 'v', 'm')
    AND ${SCHEMA_FILTER_SQL}
    AND has_schema_privilege(n.oid, 'USAGE')
    AND (cardinality($4::text[]) = 0 OR (n.nspname || '.' || c.relname) LIKE ANY ($4::text[]))
    AND NOT ((n.nspname || '.' || c.relname) LIKE ANY ($5::text[]))
    AND ($6::text IS NULL OR (n.nspname::text COLLATE "C", c.relname::text COLLATE "C") > ($6::text COLLATE "C", $7::text COLLATE "C"))`;

/**
 * The keys of the next relations in (schema, name) order under "C" collation, which is the
 * byte order core's cursor uses; binds as {@link RELATION_FILTER_SQL}, $8 the limit. It
 * reads names only, so it fetches keys for several pages at once (see {@link KeyWindow}):
 * the sort over every relation after the cursor is paid once per window, not per page.
 */
export const KEYS_SQL = `
SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${RELATION_FILTER_SQL}
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"
LIMIT $8`;

/**
 * What discovery reports of the relations $1 (oids), in any order. The costly per-relation
 * functions (pg_get_viewdef locks the view) run for these rows only. A relation dropped since
 * its key was read is simply missing. The extension a relation belongs to (pg_depend deptype
 * 'e') is a lateral probe of pg_depend's index per relation, not a join the planner could turn
 * into a scan of all of pg_depend per page.
 */
export const RELATIONS_SQL = `
SELECT c.oid::int8 AS oid,
       n.nspname::text AS schema,
       c.relname::text AS name,
       c.relkind::text AS kind,
       pg_get_userbyid(c.relowner)::text AS owner,
       ds.description AS comment,
       CASE
         WHEN c.relkind = 'v' THEN -1
         WHEN c.relkind = 'p' THEN (
           SELECT CASE WHEN bool_or(${unknownRows('l')}) THEN -1 ELSE coalesce(sum(l.reltuples::float8), 0) END
           FROM pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid
           WHERE t.isleaf)
         WHEN ${unknownRows('c')} THEN -1
         ELSE c.reltuples::float8
       END::float8 AS estimated_rows,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS view_definition,
       CASE WHEN c.relispartition THEN (
         SELECT pn.nspname || '.' || pc.relname
         FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE i.inhrelid = c.oid
         LIMIT 1) END AS partition_of,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       CASE WHEN c.relkind = 'f' THEN (
         SELECT fs.srvname::text FROM pg_foreign_table ft JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
         WHERE ft.ftrelid = c.oid) END AS foreign_server,
       CASE WHEN c.relkind = 'm' THEN c.relispopulated END AS populated,
       c.relhastriggers AS has_triggers,
       x.extension,
       x.extension_version
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_description ds ON ds.objoid = c.oid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = 0
-- the relations of extensions, read from each extension's side of pg_depend (a few rows),
-- not probed once per relation of the page (issue 18: 17 -> 11 ms per page of 875)
LEFT JOIN (
  SELECT DISTINCT ON (xd.objid) xd.objid, e.extname::text AS extension, e.extversion AS extension_version
  FROM pg_extension e
  JOIN pg_depend xd ON xd.refclassid = 'pg_extension'::regclass AND xd.refobjid = e.oid
  WHERE xd.classid = 'pg_class'::regclass AND xd.objsubid = 0 AND xd.deptype = 'e') x ON x.objid = c.oid
WHERE c.oid = ANY ($1::oid[])`;

/**
 * {@link KEYS_SQL} with `total`, on every row, the number of relations after the cursor: one scan
 * of pg_class for a run's first window and its count (the count's own scan cost as much as the
 * window's: 75 and 88 ms at 50,000 tables). No row: nothing after the cursor.
 */
export const KEYS_COUNTED_SQL = `
WITH k AS MATERIALIZED (
  SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE ${RELATION_FILTER_SQL})
SELECT oid, schema, name, (SELECT count(*) FROM k)::int8 AS total
FROM k
ORDER BY schema COLLATE "C", name COLLATE "C"
LIMIT $8`;

/**
 * Columns of the relations $1, one row per relation with its columns as a JSON array of
 * arrays in attnum order (see {@link ColumnTuple}): the daemon's CPU, not the source, limits a
 * large discovery, and one JSON.parse per relation costs a third of decoding a protocol row
 * per column. `is_array` uses typcategory 'A', not typelem alone: some scalar types (name,
 * point) have a typelem too. The element type (arrays) or base type (domains) also decides
 * where enum labels come from. The base type is formatted only when it differs from the type
 * (null otherwise), defaults and enum labels are looked up only for the columns that have
 * them. Comments come per relation, `[[attnum, text], ...]` in `comments` (the tuples' comment
 * stays null for the daemon to fill in): one probe of pg_description's index per relation, not a
 * join, which hashed every column of the page or sorted them (issue 18: 61 -> 49 ms of backend
 * CPU per page of 875 relations, and the rows come in index order, unsorted).
 *
 * A default is printed without its relation (`pg_get_expr(adbin, 0)`) unless it names a column
 * (a generated column's expression, or any expression holding a Var): given a relation,
 * pg_get_expr opens it to name its columns, which builds the relation's cache entry in the
 * backend, and that was half of this query's server time (issue 18: 45 → 17 ms of backend CPU
 * per page of 200 relations). Without Vars the printed text is the same either way.
 */
export const COLUMNS_SQL = `
SELECT a.attrelid::int8 AS relid,
       json_agg(json_build_array(
         a.attnum,
         a.attname,
         format_type(a.atttypid, a.atttypmod),
         CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod)
              WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN format_type(t.typelem, a.atttypmod) END,
         NOT a.attnotnull,
         CASE WHEN a.atthasdef THEN (
           SELECT pg_get_expr(d.adbin, CASE WHEN a.attgenerated <> '' OR d.adbin::text LIKE '%{VAR %' THEN d.adrelid ELSE 0 END)
           FROM pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum) END,
         NULL,
         t.typcategory = 'A',
         CASE WHEN t.typtype = 'd' THEN format_type(t.oid, NULL) END,
         CASE WHEN t.typtype IN ('e', 'd') OR t.typcategory = 'A' THEN (
           SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
           FROM pg_enum e
           WHERE e.enumtypid = CASE WHEN t.typtype = 'd' THEN t.typbasetype
                                    WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem
                                    ELSE t.oid END) END,
         a.attidentity::text,
         a.attgenerated::text,
         a.atttypid::int8,
         a.attcollation::int8) ORDER BY a.attnum)::text AS columns,
       (SELECT json_agg(json_build_array(ds.objsubid, ds.description))
        FROM pg_description ds
        WHERE ds.objoid = a.attrelid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid > 0)::text AS comments
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = ANY ($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
GROUP BY a.attrelid`;

/**
 * Primary keys, unique, foreign key, check and exclusion constraints of the relations $1. Key
 * columns come as attribute numbers (named from the page's own columns); a foreign key's
 * referenced table and columns are looked up for foreign keys only, one index probe each (the
 * table's lookup kept a probe by OFFSET 0, each column by its attribute number: joined, the
 * planner hashed all of pg_class, or every attribute of the referenced table, per page; issue
 * 18: 19 -> 12 ms per page of 875 relations); a check's
 * expression is printed for checks only. An exclusion constraint is read only to name the
 * index it owns (`conindid`). A foreign key that references a partitioned table also has one
 * clone per partition on the same table (conparentid pointing to it); those are left out.
 */
export const CONSTRAINTS_SQL = `
SELECT con.conrelid::int8 AS relid,
       con.conname::text AS name,
       con.contype::text AS type,
       coalesce(con.conkey, '{}') AS keys,
       con.conindid::int8 AS index_oid,
       r.ref_schema,
       r.ref_table,
       CASE WHEN con.contype = 'f' THEN ARRAY(
         SELECT (SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = con.confrelid AND a.attnum = k.attnum)
         FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
         ORDER BY k.ord) END AS ref_columns,
       con.confupdtype::text AS on_update,
       con.confdeltype::text AS on_delete,
       CASE WHEN con.contype = 'c' THEN pg_get_expr(con.conbin, con.conrelid) END AS expression,
       con.convalidated AS validated,
       con.connoinherit AS no_inherit
FROM pg_constraint con
LEFT JOIN LATERAL (
  SELECT rn.nspname::text AS ref_schema, rc.relname::text AS ref_table
  FROM pg_class rc JOIN pg_namespace rn ON rn.oid = rc.relnamespace
  WHERE rc.oid = con.confrelid AND con.contype = 'f'
  OFFSET 0) r ON true
WHERE con.conrelid = ANY ($1::oid[])
  AND con.contype IN ('p', 'u', 'f', 'c', 'x')
  AND (con.conparentid = 0
       OR NOT EXISTS (SELECT 1 FROM pg_constraint parent WHERE parent.oid = con.conparentid AND parent.conrelid = con.conrelid))
ORDER BY con.conrelid, con.conname COLLATE "C"`;

/**
 * Triggers of the relations $1 (not the internal ones of foreign keys), with the function they
 * run and their definition; the columns of `UPDATE OF` come as attribute numbers. Only
 * relations that have triggers are looked at.
 */
export const TRIGGERS_SQL = `
SELECT t.tgrelid::int8 AS relid,
       t.tgname::text AS name,
       t.tgtype::int AS type,
       t.tgenabled::text AS enabled,
       pn.nspname::text AS function_schema,
       p.proname::text AS function_name,
       pg_get_triggerdef(t.oid) AS definition,
       t.tgattr::int2[] AS update_columns,
       EXISTS (SELECT 1 FROM pg_depend d
               WHERE d.classid = 'pg_trigger'::regclass AND d.objid = t.oid AND d.deptype = 'P') AS inherited
FROM pg_trigger t
JOIN pg_proc p ON p.oid = t.tgfoid
JOIN pg_namespace pn ON pn.oid = p.pronamespace
WHERE t.tgrelid = ANY ($1::oid[]) AND NOT t.tgisinternal
ORDER BY t.tgrelid, t.tgname COLLATE "C"`;

/**
 * Indexes of the relations $1, with their keys as the catalog keeps them (attribute numbers,
 * then INCLUDE columns; operator classes, collations and options per key). The definition is
 * printed by the server (`pg_get_indexdef`) only for what catalogIndexes.ts does not build:
 * other access methods, expressions, predicates, storage parameters, NULLS NOT DISTINCT
 * (`nullsNotDistinct`: the column exists from PostgreSQL 15 on). An expression key by
 * `pg_get_indexdef(index, k, true)` and the collations of an index with expressions (against
 * the expression's type) are computed only for indexes that have one.
 */
export function indexesSql(nullsNotDistinct: boolean): string {
  return `
SELECT i.indrelid::int8 AS relid,
       i.indexrelid::int8 AS oid,
       ic.relname::text AS name,
       i.indisunique AS is_unique,
       i.indisprimary AS is_primary,
       am.amname::text AS method,
       ic.relkind = 'I' AS partitioned,
       CASE WHEN i.indpred IS NOT NULL THEN pg_get_expr(i.indpred, i.indrelid) END AS predicate,
       CASE WHEN am.amname <> 'btree' OR i.indexprs IS NOT NULL OR i.indpred IS NOT NULL OR ic.reloptions IS NOT NULL${nullsNotDistinct ? ' OR i.indnullsnotdistinct' : ''}
            THEN pg_get_indexdef(i.indexrelid) END AS definition,
       i.indnkeyatts AS key_count,
       i.indkey::int2[] AS keys,
       i.indclass::oid[] AS opclasses,
       i.indcollation::oid[] AS collations,
       i.indoption::int2[] AS options,
       am.amname = 'btree' OR pg_indexam_has_property(am.oid, 'can_order') AS ordered,
       i.indisvalid AS valid,
       ds.description AS comment,
       CASE WHEN 0 = ANY (i.indkey::int2[]) THEN ARRAY(
         SELECT CASE WHEN i.indkey[k - 1] = 0 THEN pg_get_indexdef(i.indexrelid, k, true) END
         FROM generate_series(1, i.indnkeyatts) AS k
         ORDER BY k) END AS expressions,
       CASE WHEN i.indexprs IS NOT NULL THEN ARRAY(
         SELECT CASE WHEN k.coll = 0 OR k.coll = coalesce(ta.attcollation, ty.typcollation) THEN ''
                     ELSE (SELECT cl.collname::text FROM pg_collation cl WHERE cl.oid = k.coll) END
         FROM unnest(i.indcollation::oid[]) WITH ORDINALITY AS k(coll, ord)
         JOIN pg_attribute ia ON ia.attrelid = i.indexrelid AND ia.attnum = k.ord
         LEFT JOIN pg_type ty ON ty.oid = ia.atttypid
         LEFT JOIN pg_attribute ta ON ta.attrelid = i.indrelid AND ta.attnum = (i.indkey::int2[])[k.ord - 1] AND ta.attnum > 0
         ORDER BY k.ord) END AS expression_collations
FROM pg_index i
-- OFFSET 0 keeps each lookup a probe by oid per index of the page: joined, the planner hashes
-- all of pg_class for every page (issue 18: 29 -> 20 ms per page of 875 relations)
CROSS JOIN LATERAL (SELECT c.oid, c.relname, c.relkind, c.reloptions, c.relam FROM pg_class c WHERE c.oid = i.indexrelid OFFSET 0) ic
CROSS JOIN LATERAL (SELECT a.oid, a.amname FROM pg_am a WHERE a.oid = ic.relam OFFSET 0) am
LEFT JOIN LATERAL (
  SELECT d.description FROM pg_description d
  WHERE d.objoid = i.indexrelid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
  OFFSET 0) ds ON true
WHERE i.indrelid = ANY ($1::oid[])
ORDER BY i.indrelid, ic.relname COLLATE "C"`;
}

/** Names of the collations $1 (those an index uses other than its columns'). */
export const COLLATION_NAMES_SQL = `SELECT oid::int8 AS oid, collname::text AS name FROM pg_collation WHERE oid = ANY ($1::oid[])`;

/** The filter's globs as LIKE patterns with PostgreSQL's default escape character (a backslash). */
export const likePatterns = (globs: readonly string[]): string[] => globs.map((g) => globToLikePattern(g));

/** The binds of {@link RELATION_FILTER_SQL}. */
export function filterParams(filter: CompiledFilter, after: RelationKey | undefined): unknown[] {
  return [
    filter.includeSystemSchemas,
    likePatterns(filter.globs.includeSchemas),
    likePatterns(filter.globs.excludeSchemas),
    likePatterns(filter.globs.includeTables),
    likePatterns(filter.globs.excludeTables),
    after?.schema ?? null,
    after?.name ?? null,
  ];
}
