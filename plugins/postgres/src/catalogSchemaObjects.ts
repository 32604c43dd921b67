/**
 * Schema-level catalog objects of issue 19: sequences, routines and user-defined types of the
 * schemas discovery sends, one query per kind per run (the schemas travel as one array).
 * Objects that belong to an extension come too, each naming its extension and the installed
 * version (one outer join per query); the implicit types PostgreSQL makes for tables, arrays
 * and multiranges, and the constructors of range types, are left out.
 */
import type {
  ArgumentMode,
  CheckConstraintEntity,
  RoutineEntity,
  RoutineKind,
  SchemaEntity,
  SchemaObjectsRequest,
  SequenceEntity,
  UserTypeEntity,
  UserTypeKind,
} from '@sourced/core';
import type { Client } from 'pg';
import { readCatalog } from './catalog';
import { query } from './query';

/**
 * SQL: joins the extension the object (`oid`, an expression, of system catalog `catalog`)
 * belongs to as `x` (pg_depend deptype 'e': an object is a member of one extension at most,
 * so the join never adds a row); NULLs for an object of the schema's own.
 */
const extensionJoin = (catalog: string, oid: string) => `
LEFT JOIN pg_catalog.pg_depend xd ON xd.classid = '${catalog}'::regclass AND xd.objid = ${oid} AND xd.objsubid = 0
     AND xd.refclassid = 'pg_catalog.pg_extension'::regclass AND xd.deptype = 'e'
LEFT JOIN pg_catalog.pg_extension x ON x.oid = xd.refobjid`;

/** SQL: the columns `extensionJoin` adds. */
const EXTENSION_COLUMNS = 'x.extname AS extension, x.extversion AS extension_version';

/**
 * Sequences with the column that owns them (OWNED BY: deptype 'a'; identity: 'i'). last_value
 * as pg_sequences computes it: pg_sequence_last_value, NULL when never called, and only when
 * the user holds SELECT or USAGE on it (otherwise the call would fail the whole read).
 */
export const SEQUENCES_SQL = `
SELECT n.nspname AS schema, c.relname AS name, pg_catalog.format_type(s.seqtypid, NULL) AS data_type,
       s.seqstart::text AS start, s.seqincrement::text AS increment, s.seqmin::text AS min_value, s.seqmax::text AS max_value,
       s.seqcycle AS cycle, s.seqcache::text AS cache,
       dn.nspname AS owned_by_schema, dc.relname AS owned_by_table, a.attname AS owned_by_column, coalesce(d.deptype = 'i', false) AS identity,
       CASE WHEN pg_catalog.has_sequence_privilege(c.oid, 'SELECT,USAGE') THEN pg_catalog.pg_sequence_last_value(c.oid)::text END AS last_value,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner, pg_catalog.obj_description(c.oid, 'pg_class') AS comment,
       ${EXTENSION_COLUMNS}
FROM pg_catalog.pg_sequence s
JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
     AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
LEFT JOIN pg_catalog.pg_class dc ON dc.oid = d.refobjid
LEFT JOIN pg_catalog.pg_namespace dn ON dn.oid = dc.relnamespace
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid${extensionJoin('pg_catalog.pg_class', 'c.oid')}
WHERE n.nspname = ANY ($1::text[])
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`;

/**
 * Functions, procedures, aggregates and window functions (not the constructors of range types,
 * internal to the type) with their arguments (every one,
 * OUT and TABLE included, in order; defaults by pg_get_function_arg_default as
 * information_schema.parameters reads them). The source only when $2 (bodies asked): $3 says
 * whether the server has SQL-standard bodies (PostgreSQL 14+), printed by pg_get_function_sqlbody.
 */
export function routinesSql(sqlBodies: boolean): string {
  const body = sqlBodies ? 'coalesce(pg_catalog.pg_get_function_sqlbody(p.oid), p.prosrc)' : 'p.prosrc';
  return `
SELECT n.nspname AS schema, p.proname AS name, p.prokind AS kind,
       pg_catalog.pg_get_function_identity_arguments(p.oid) AS identity_arguments,
       CASE WHEN p.prokind <> 'p' THEN pg_catalog.pg_get_function_result(p.oid) END AS return_type,
       l.lanname AS language, p.provolatile AS volatility, p.prosecdef AS security_definer,
       pg_catalog.obj_description(p.oid, 'pg_proc') AS comment, pg_catalog.pg_get_userbyid(p.proowner) AS owner,
       (SELECT coalesce(json_agg(json_build_object(
                 'name', coalesce(p.proargnames[k.n], ''),
                 'type', pg_catalog.format_type(k.t, NULL),
                 'mode', coalesce(p.proargmodes[k.n], 'i'),
                 'default', pg_catalog.pg_get_function_arg_default(p.oid, k.n::int)) ORDER BY k.n), '[]')
        FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY AS k(t, n)) AS arguments,
       CASE WHEN $2::boolean THEN ${body} END AS body, ${EXTENSION_COLUMNS}
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language l ON l.oid = p.prolang${extensionJoin('pg_catalog.pg_proc', 'p.oid')}
WHERE n.nspname = ANY ($1::text[])
  -- the constructors a range type makes for itself (and its multirange) belong to the type
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend i WHERE i.classid = 'pg_catalog.pg_proc'::regclass AND i.objid = p.oid AND i.deptype = 'i')
ORDER BY n.nspname COLLATE "C", p.proname COLLATE "C", pg_catalog.pg_get_function_identity_arguments(p.oid) COLLATE "C"`;
}

/**
 * Enums, domains, composite types (CREATE TYPE ... AS, not the row types of relations), range
 * types and base types; never the implicit array types (one whose element type names it as its
 * array) nor multiranges. Domain collation and attribute collations only where they differ from
 * the type's default. Every table has a row type and an array type in pg_type, so the filter
 * decides by kind first: a composite type is kept when its relation is a standalone one
 * (relkind 'c'), and a base type is looked at for being an implicit array only when it is in
 * the array category, through its element's oid (issue 18: this query runs before the first
 * batch; 130 -> 75 ms of backend CPU at 10,000 tables, cold), and pg_type is read once, whole
 * (below).
 */
export const TYPES_SQL = `
SELECT n.nspname AS schema, t.typname AS name, t.typtype AS kind,
       pg_catalog.obj_description(t.oid, 'pg_type') AS comment, pg_catalog.pg_get_userbyid(t.typowner) AS owner,
       CASE WHEN t.typtype = 'e' THEN (SELECT coalesce(json_agg(e.enumlabel ORDER BY e.enumsortorder), '[]')
                                       FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) END AS labels,
       CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END AS base_type,
       NOT t.typnotnull AS nullable, t.typdefault AS default_value,
       CASE WHEN t.typtype = 'd' AND t.typcollation <> 0 AND t.typcollation <> bt.typcollation
            THEN (SELECT cl.collname FROM pg_catalog.pg_collation cl WHERE cl.oid = t.typcollation) END AS collation,
       CASE WHEN t.typtype = 'd' THEN (SELECT coalesce(json_agg(json_build_object(
                 'name', con.conname, 'expression', pg_catalog.pg_get_expr(con.conbin, 0), 'validated', con.convalidated)
                 ORDER BY con.conname COLLATE "C"), '[]')
               FROM pg_catalog.pg_constraint con WHERE con.contypid = t.oid AND con.contype = 'c') END AS checks,
       CASE WHEN t.typtype = 'c' THEN (SELECT coalesce(json_agg(json_build_object(
                 'name', a.attname, 'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
                 'collation', CASE WHEN a.attcollation <> 0 AND a.attcollation <> at.typcollation
                                   THEN (SELECT cl.collname FROM pg_catalog.pg_collation cl WHERE cl.oid = a.attcollation) END)
                 ORDER BY a.attnum), '[]')
               FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type at ON at.oid = a.atttypid
               WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END AS attributes,
       (SELECT pg_catalog.format_type(r.rngsubtype, NULL) FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid) AS subtype,
       ${EXTENSION_COLUMNS}
FROM pg_catalog.pg_type t
-- compared as int8 so that pg_type is read once, in order: with oids the planner walks
-- pg_type_typname_nsp_index, which leads with the name, once per schema, visiting the heap in
-- name order (at 50,000 tables with 16 MB of shared buffers: 64,000 page reads of a 2,500-page
-- table, 377 ms; read once, 104 ms)
JOIN pg_catalog.pg_namespace n ON n.oid::int8 = t.typnamespace::int8
LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype${extensionJoin('pg_catalog.pg_type', 't.oid')}
WHERE n.nspname = ANY ($1::text[])
  AND CASE t.typtype
        WHEN 'c' THEN EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c')
        WHEN 'b' THEN t.typcategory <> 'A' OR t.typelem = 0
                      OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type el WHERE el.oid = t.typelem AND el.typarray = t.oid)
        ELSE t.typtype IN ('d', 'e', 'r')
      END
ORDER BY n.nspname COLLATE "C", t.typname COLLATE "C"`;

/** What `EXTENSION_COLUMNS` adds to a row. */
interface ExtensionColumns {
  extension: string | null;
  extension_version: string | null;
}

interface SequenceRow extends ExtensionColumns {
  schema: string;
  name: string;
  data_type: string;
  start: string;
  increment: string;
  min_value: string;
  max_value: string;
  cycle: boolean;
  cache: string;
  owned_by_schema: string | null;
  owned_by_table: string | null;
  owned_by_column: string | null;
  identity: boolean;
  last_value: string | null;
  owner: string;
  comment: string | null;
}

interface RoutineRow extends ExtensionColumns {
  schema: string;
  name: string;
  kind: string;
  identity_arguments: string;
  return_type: string | null;
  language: string;
  volatility: string;
  security_definer: boolean;
  comment: string | null;
  owner: string;
  arguments: { name: string; type: string; mode: string; default: string | null }[];
  body: string | null;
}

interface TypeRow extends ExtensionColumns {
  schema: string;
  name: string;
  kind: string;
  comment: string | null;
  owner: string;
  labels: string[] | null;
  base_type: string | null;
  nullable: boolean;
  default_value: string | null;
  collation: string | null;
  checks: { name: string; expression: string; validated: boolean }[] | null;
  attributes: { name: string; type: string; collation: string | null }[] | null;
  subtype: string | null;
}

const ROUTINE_KIND: Record<string, RoutineKind> = { f: 'FUNCTION', p: 'PROCEDURE', a: 'AGGREGATE', w: 'WINDOW' };
const ARGUMENT_MODE: Record<string, ArgumentMode> = { i: 'IN', o: 'OUT', b: 'INOUT', v: 'VARIADIC', t: 'TABLE' };
const VOLATILITY: Record<string, RoutineEntity['volatility']> = { i: 'IMMUTABLE', s: 'STABLE', v: 'VOLATILE' };
const TYPE_KIND: Record<string, UserTypeKind> = { e: 'ENUM', d: 'DOMAIN', c: 'COMPOSITE', r: 'RANGE', b: 'BASE' };

/** `null` as undefined. */
const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

/** The extension fields of an entity: none for an object of the schema's own. */
const extensionOf = (r: ExtensionColumns): { extension?: string; extensionVersion?: string } =>
  r.extension === null ? {} : { extension: r.extension, extensionVersion: opt(r.extension_version) };

function toSequence(r: SequenceRow): SequenceEntity {
  return {
    schema: r.schema,
    name: r.name,
    dataType: r.data_type,
    start: r.start,
    increment: r.increment,
    minValue: r.min_value,
    maxValue: r.max_value,
    cycle: r.cycle,
    cache: r.cache,
    ownedBySchema: opt(r.owned_by_schema),
    ownedByTable: opt(r.owned_by_table),
    ownedByColumn: opt(r.owned_by_column),
    identity: r.identity,
    lastValue: opt(r.last_value),
    lastValueSource: 'pg_sequences.last_value',
    owner: r.owner,
    comment: opt(r.comment),
    ...extensionOf(r),
  };
}

function toRoutine(r: RoutineRow, bodies: boolean): RoutineEntity {
  return {
    schema: r.schema,
    name: r.name,
    kind: ROUTINE_KIND[r.kind] ?? 'FUNCTION',
    arguments: r.arguments.map((a) => ({ name: a.name, type: a.type, mode: ARGUMENT_MODE[a.mode] ?? 'IN', defaultValue: opt(a.default) })),
    returnType: opt(r.return_type),
    language: r.language,
    volatility: VOLATILITY[r.volatility],
    securityDefiner: r.security_definer,
    comment: opt(r.comment),
    body: bodies ? opt(r.body) : undefined,
    identityArguments: r.identity_arguments,
    owner: r.owner,
    ...extensionOf(r),
  };
}

function toUserType(r: TypeRow): UserTypeEntity {
  const kind = TYPE_KIND[r.kind] ?? 'BASE';
  const checks: CheckConstraintEntity[] | undefined = r.checks?.map((c) => ({
    name: c.name,
    expression: c.expression,
    enforced: true,
    validated: c.validated,
    columns: [],
  }));
  return {
    schema: r.schema,
    name: r.name,
    kind,
    labels: opt(r.labels),
    baseType: opt(r.base_type),
    nullable: kind === 'DOMAIN' ? r.nullable : true,
    defaultValue: kind === 'DOMAIN' ? opt(r.default_value) : undefined,
    checkConstraints: checks,
    attributes: r.attributes?.map((a) => ({ name: a.name, type: a.type, collation: opt(a.collation) })),
    subtype: opt(r.subtype),
    comment: opt(r.comment),
    owner: r.owner,
    collation: opt(r.collation),
    ...extensionOf(r),
  };
}

/** Whether the server prints SQL-standard function bodies (PostgreSQL 14+). */
async function hasSqlBodies(client: Client, signal: AbortSignal): Promise<boolean> {
  const rows = await query<{ v: number }>(client, "SELECT current_setting('server_version_num')::int AS v", [], signal);
  return (rows[0]?.v ?? 0) >= 140000;
}

/**
 * Adds the sequences, routines and user types of `schemas` to them in place: three queries
 * whatever the number of schemas and objects (a fourth, the server version, when bodies are
 * asked). With `parallel` connections they run at once on those (see below), else one after
 * the other on `client`.
 */
export async function addSchemaObjects(
  client: Client,
  schemas: SchemaEntity[],
  request: SchemaObjectsRequest,
  signal: AbortSignal,
  parallel: () => Promise<readonly Client[]> = () => Promise.resolve([]),
): Promise<SchemaEntity[]> {
  if (schemas.length === 0) return schemas;
  const names = schemas.map((s) => s.name);
  const readRoutines = async (c: Client) => {
    const sqlBodies = request.routineBodies ? await readCatalog('the server version', () => hasSqlBodies(c, signal)) : false;
    return readCatalog('routines', () => query<RoutineRow>(c, routinesSql(sqlBodies), [names, request.routineBodies], signal));
  };
  const readSequences = (c: Client) => readCatalog('sequences', () => query<SequenceRow>(c, SEQUENCES_SQL, [names], signal));
  const readTypes = (c: Client) => readCatalog('types', () => query<TypeRow>(c, TYPES_SQL, [names], signal));
  // The types (the slowest: pg_type holds two rows per table) on the last extra connection, the
  // one a page reads its triggers on, and the rest beside it: the main connection stays free
  // for the count and the first page, which discovery reads at the same time. Without extra
  // connections all three are given to the one connection at once: its statement line sends
  // each as the one before ends, instead of waiting for the daemon to ask for the next.
  const others = await parallel();
  const last = others.length - 1;
  const [types, routines, sequences] =
    others.length === 0
      ? await Promise.all([readTypes(client), readRoutines(client), readSequences(client)])
      : await Promise.all([readTypes(others[last]), readRoutines(last > 0 ? others[0] : client), readSequences(last > 1 ? others[1] : client)]);
  const bySchema = new Map(schemas.map((s) => [s.name, s]));
  for (const s of schemas) Object.assign(s, { sequences: [], routines: [], types: [] });
  for (const r of sequences) bySchema.get(r.schema)?.sequences?.push(toSequence(r));
  for (const r of routines) bySchema.get(r.schema)?.routines?.push(toRoutine(r, request.routineBodies));
  for (const r of types) bySchema.get(r.schema)?.types?.push(toUserType(r));
  return schemas;
}
