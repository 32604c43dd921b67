/**
 * Relation-level catalog objects of issue 19 (check constraints, triggers, the index details
 * beyond catalog.ts's: INCLUDE columns, per-key order, collation and operator class, comment,
 * validity, constraint), a materialized view's populated flag and each column's attnum. One query per page whatever
 * its size: the page's relations travel as two arrays (schemas, names), are resolved to oids
 * once, and every object comes back aggregated per relation as JSON. Needs PostgreSQL 12+.
 */
import type { CheckConstraintEntity, RelationEntity, TriggerEntity } from '@sourced/core';
import type { Client } from 'pg';
import { readCatalog } from './catalogSchemaObjects';
import { query } from './query';

/**
 * Per relation of the page (by schema and name): its checks, triggers, index details and
 * populated flag. Collations and operator classes are named only when not the default: a
 * column key's collation against the column's, an expression key's against its type's default;
 * an operator class when it is not its access method's default for the type (opcdefault).
 * Triggers' internal ones (foreign keys') are left out. Sort and nulls order only for access
 * methods that order (amcanorder).
 */
export const RELATION_OBJECTS_SQL = `
WITH rel AS (
  SELECT k.schema, k.name, c.oid, c.relkind, c.relispopulated,
         -- whether any column has a collation other than the database default (100) or none (0)
         EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND a.attcollation NOT IN (0, 100)) AS own_collations
  FROM unnest($1::text[], $2::text[]) AS k(schema, name)
  JOIN pg_catalog.pg_namespace n ON n.nspname = k.schema
  JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = k.name
), nondefault_opclasses AS MATERIALIZED (
  SELECT coalesce(array_agg(oid), '{}') AS oids FROM pg_catalog.pg_opclass WHERE NOT opcdefault
)
SELECT r.schema, r.name,
  CASE WHEN r.relkind = 'm' THEN r.relispopulated END AS populated,
  (SELECT json_object_agg(a.attname, a.attnum) FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped) AS attnums,
  (SELECT json_agg(json_build_object(
      'name', con.conname,
      'expression', pg_catalog.pg_get_expr(con.conbin, con.conrelid),
      'validated', con.convalidated,
      'noInherit', con.connoinherit,
      'columns', (SELECT coalesce(json_agg(a.attname ORDER BY a.attnum), '[]') FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey))
    ) ORDER BY con.conname COLLATE "C")
   FROM pg_catalog.pg_constraint con WHERE con.conrelid = r.oid AND con.contype = 'c') AS checks,
  (SELECT json_agg(json_build_object(
      'name', t.tgname,
      'type', t.tgtype,
      'enabled', t.tgenabled,
      'functionSchema', pn.nspname,
      'functionName', p.proname,
      'definition', pg_catalog.pg_get_triggerdef(t.oid),
      'updateColumns', (SELECT coalesce(json_agg(a.attname ORDER BY k.ord), '[]')
                        FROM unnest(t.tgattr::int2[]) WITH ORDINALITY AS k(attnum, ord)
                        JOIN pg_catalog.pg_attribute a ON a.attrelid = t.tgrelid AND a.attnum = k.attnum),
      'inherited', EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                           WHERE d.classid = 'pg_catalog.pg_trigger'::regclass AND d.objid = t.oid AND d.deptype = 'P')
    ) ORDER BY t.tgname COLLATE "C")
   FROM pg_catalog.pg_trigger t
   JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
   JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
   WHERE t.tgrelid = r.oid AND NOT t.tgisinternal) AS triggers,
  (SELECT json_agg(json_build_object(
      'name', ic.relname,
      'keys', i.indnkeyatts,
      'include', (SELECT coalesce(json_agg(a.attname ORDER BY k.ord), '[]')
                  FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE k.ord > i.indnkeyatts),
      'ordered', pg_catalog.pg_indexam_has_property(ic.relam, 'can_order'),
      'options', i.indoption::int2[],
      -- the per-key look-ups run only for an index that may name something: a collation other than
      -- none and the default, or a column with one; an operator class that is not a default
      'collations', CASE WHEN r.own_collations OR NOT i.indcollation::oid[] <@ '{0,100}'::oid[] THEN (SELECT json_agg(CASE
                       WHEN k.coll = 0 THEN ''
                       WHEN k.coll = coalesce(ta.attcollation, ty.typcollation) THEN ''
                       ELSE (SELECT cl.collname FROM pg_catalog.pg_collation cl WHERE cl.oid = k.coll) END ORDER BY k.ord)
                     FROM unnest(i.indcollation::oid[]) WITH ORDINALITY AS k(coll, ord)
                     JOIN pg_catalog.pg_attribute ia ON ia.attrelid = i.indexrelid AND ia.attnum = k.ord
                     LEFT JOIN pg_catalog.pg_type ty ON ty.oid = ia.atttypid
                     LEFT JOIN pg_catalog.pg_attribute ta ON ta.attrelid = i.indrelid AND ta.attnum = (i.indkey::int2[])[k.ord - 1] AND ta.attnum > 0) END,
      'operatorClasses', CASE WHEN i.indclass::oid[] && (SELECT oids FROM nondefault_opclasses) THEN (SELECT json_agg(coalesce((SELECT oc.opcname FROM pg_catalog.pg_opclass oc WHERE oc.oid = k.opc AND NOT oc.opcdefault), '')
                                   ORDER BY k.ord)
                          FROM unnest(i.indclass::oid[]) WITH ORDINALITY AS k(opc, ord)) END,
      'comment', pg_catalog.obj_description(i.indexrelid, 'pg_class'),
      'valid', i.indisvalid,
      'constraint', (SELECT con.conname FROM pg_catalog.pg_constraint con
                     WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x') LIMIT 1)
    ))
   FROM pg_catalog.pg_index i
   JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
   WHERE i.indrelid = r.oid) AS indexes
FROM rel r`;

interface CheckJson {
  name: string;
  expression: string;
  validated: boolean;
  noInherit: boolean;
  columns: string[];
}

interface TriggerJson {
  name: string;
  type: number;
  enabled: string;
  functionSchema: string;
  functionName: string;
  definition: string;
  updateColumns: string[];
  inherited: boolean;
}

interface IndexJson {
  name: string;
  keys: number;
  include: string[];
  ordered: boolean;
  options: number[] | null;
  collations: string[] | null;
  operatorClasses: string[] | null;
  comment: string | null;
  valid: boolean;
  constraint: string | null;
}

/** One row of {@link RELATION_OBJECTS_SQL}. */
interface RelationObjectsRow {
  schema: string;
  name: string;
  populated: boolean | null;
  /** Column name to attnum. */
  attnums: Record<string, number> | null;
  checks: CheckJson[] | null;
  triggers: TriggerJson[] | null;
  indexes: IndexJson[] | null;
}

/** pg_trigger.tgtype bits (trigger.h). */
const TG_ROW = 1;
const TG_BEFORE = 2;
const TG_INSERT = 4;
const TG_DELETE = 8;
const TG_UPDATE = 16;
const TG_TRUNCATE = 32;
const TG_INSTEAD = 64;

const ENABLED: Record<string, TriggerEntity['enabled']> = { O: 'ENABLED', D: 'DISABLED', R: 'REPLICA', A: 'ALWAYS' };

/** pg_index.indoption bits (pg_index.h). */
const INDOPTION_DESC = 1;
const INDOPTION_NULLS_FIRST = 2;

/** A trigger row as the entity: tgtype's bits decoded, the WHEN condition cut from the definition. */
export function toTrigger(t: TriggerJson): TriggerEntity {
  const events: TriggerEntity['events'] = [];
  if (t.type & TG_INSERT) events.push('INSERT');
  if (t.type & TG_UPDATE) events.push('UPDATE');
  if (t.type & TG_DELETE) events.push('DELETE');
  if (t.type & TG_TRUNCATE) events.push('TRUNCATE');
  return {
    name: t.name,
    timing: t.type & TG_INSTEAD ? 'INSTEAD OF' : t.type & TG_BEFORE ? 'BEFORE' : 'AFTER',
    events,
    level: t.type & TG_ROW ? 'ROW' : 'STATEMENT',
    enabled: ENABLED[t.enabled] ?? 'ENABLED',
    functionSchema: t.functionSchema,
    functionName: t.functionName,
    condition: triggerCondition(t.definition),
    definition: t.definition,
    actionOrder: 0,
    updateColumns: t.updateColumns,
    inherited: t.inherited,
  };
}

/**
 * The WHEN condition of a trigger, from its definition (as information_schema.triggers does: the
 * catalog keeps it as a node tree that pg_get_expr cannot print, its variables being OLD and
 * NEW), without the parentheses around it; undefined when there is none.
 */
export function triggerCondition(definition: string): string | undefined {
  const when = / FOR EACH (?:ROW|STATEMENT) WHEN \(/.exec(definition);
  if (!when) return undefined;
  const start = when.index + when[0].length;
  const end = definition.lastIndexOf(') EXECUTE ');
  return end > start ? definition.slice(start, end) : undefined;
}

function toCheck(c: CheckJson): CheckConstraintEntity {
  return { name: c.name, expression: c.expression, enforced: true, validated: c.validated, columns: c.columns, noInherit: c.noInherit };
}

/** The per-key lists that hold something other than defaults; undefined when every key is default. */
function unlessAllEmpty(values: string[] | null, keys: number): string[] | undefined {
  const list = (values ?? []).slice(0, keys);
  return list.some((v) => v !== '') ? list : undefined;
}

/** Adds an index row's details to the index of that name. */
function addIndexDetails(relation: RelationEntity, i: IndexJson): void {
  const index = relation.indexes.find((x) => x.name === i.name);
  if (!index) return;
  const options = (i.options ?? []).slice(0, i.keys);
  if (i.include.length > 0) index.includeColumns = i.include;
  if (i.ordered) {
    index.sortOrders = options.map((o) => (o & INDOPTION_DESC ? 'DESC' : 'ASC'));
    index.nullsOrders = options.map((o) => (o & INDOPTION_NULLS_FIRST ? 'NULLS FIRST' : 'NULLS LAST'));
  }
  index.collations = unlessAllEmpty(i.collations, i.keys);
  index.operatorClasses = unlessAllEmpty(i.operatorClasses, i.keys);
  if (i.comment !== null) index.comment = i.comment;
  index.valid = i.valid;
  if (i.constraint !== null) index.constraintName = i.constraint;
}

/**
 * Reads the relation-level objects of a page's relations with one query and adds them to the
 * relations in place: checks and triggers (empty lists when none), the index details, populated
 * for materialized views, the columns' attribute numbers (attnum, gaps where columns were dropped). A relation dropped since the page was read keeps what it had.
 */
export async function addRelationObjects(client: Client, relations: RelationEntity[], signal: AbortSignal): Promise<RelationEntity[]> {
  if (relations.length === 0) return relations;
  const rows = await readCatalog('checks, triggers and index details', () =>
    query<RelationObjectsRow>(client, RELATION_OBJECTS_SQL, [relations.map((r) => r.schema), relations.map((r) => r.name)], signal),
  );
  const byKey = new Map(relations.map((r) => [`${r.schema}\u0000${r.name}`, r]));
  for (const row of rows) {
    const relation = byKey.get(`${row.schema}\u0000${row.name}`);
    if (!relation) continue;
    relation.checkConstraints = (row.checks ?? []).map(toCheck);
    relation.triggers = (row.triggers ?? []).map(toTrigger);
    if (row.populated !== null) relation.populated = row.populated;
    for (const column of relation.columns) column.attributeNumber = row.attnums?.[column.name];
    for (const i of row.indexes ?? []) addIndexDetails(relation, i);
  }
  return relations;
}
