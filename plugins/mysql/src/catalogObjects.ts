/**
 * Schema-level objects of discovery's schema event (issue 19): stored routines with their
 * arguments, and MariaDB sequences. Read set-based for every schema of the run at once: one
 * query each for ROUTINES, PARAMETERS and the sequences' names, then the sequences'
 * definitions in one statement (see {@link readSequences}). Names travel only as `?` values,
 * except the sequences' own, which the server listed and which are quoted as identifiers.
 */
import type { RoutineArgumentEntity, RoutineEntity, SchemaObjects, SchemaObjectsRequest, SequenceEntity } from '@sourced/core';
import type { Connection } from 'mysql2';
import { byteOrder, keyOf } from './catalogRows';
import { atLeast, sessionOf } from './connect';
import { serverErrno } from './mysqlErrors';
import { query } from './query';

/** mysql2 returns BIGINT and DECIMAL as strings (bigNumberStrings); small integers as numbers. */
type Num = number | string;

/** Runs one catalog read with the caller's error handling (see catalog.ts). */
export type CatalogRead = <T>(what: string, run: () => Promise<T>) => Promise<T>;

interface RoutineRow {
  schema_name: string;
  name: string;
  routine_type: string;
  return_type: string | null;
  body_kind: string | null;
  external_language: string | null;
  is_deterministic: string;
  security_type: string;
  routine_comment: string | null;
  definer: string | null;
  body?: string | null;
}

interface ParameterRow {
  schema_name: string;
  name: string;
  routine_type: string;
  ordinal: Num;
  mode: string | null;
  parameter_name: string | null;
  type: string;
}

interface SequenceNameRow {
  schema_name: string;
  name: string;
  table_comment: string | null;
}

interface SequenceRow {
  schema_name: string;
  name: string;
  next_not_cached_value: Num;
  minimum_value: Num;
  maximum_value: Num;
  start_value: Num;
  increment: Num;
  cache_size: Num;
  cycle_option: Num;
  cycle_count: Num;
}

/**
 * Routines (functions and procedures; MariaDB's packages are not routines one calls) of the
 * schemas, with the body only when `bodies` (ROUTINE_DEFINITION is NULL for an account that
 * is neither the definer nor allowed to read mysql.proc).
 */
const routinesSql = (bodies: boolean) => `
SELECT ROUTINE_SCHEMA AS schema_name, ROUTINE_NAME AS name, ROUTINE_TYPE AS routine_type, DTD_IDENTIFIER AS return_type,
       ROUTINE_BODY AS body_kind, EXTERNAL_LANGUAGE AS external_language, IS_DETERMINISTIC AS is_deterministic,
       SECURITY_TYPE AS security_type, ROUTINE_COMMENT AS routine_comment, DEFINER AS definer${bodies ? ', ROUTINE_DEFINITION AS body' : ''}
FROM information_schema.ROUTINES
WHERE ROUTINE_SCHEMA IN (?) AND ROUTINE_TYPE IN ('FUNCTION', 'PROCEDURE')`;

/** Arguments of those routines; ORDINAL_POSITION 0 is a function's result, left out. */
const PARAMETERS_SQL = `
SELECT SPECIFIC_SCHEMA AS schema_name, SPECIFIC_NAME AS name, ROUTINE_TYPE AS routine_type, ORDINAL_POSITION AS ordinal,
       PARAMETER_MODE AS mode, PARAMETER_NAME AS parameter_name, DTD_IDENTIFIER AS type
FROM information_schema.PARAMETERS
WHERE SPECIFIC_SCHEMA IN (?) AND ORDINAL_POSITION > 0 AND ROUTINE_TYPE IN ('FUNCTION', 'PROCEDURE')`;

/** Every Table_type of MariaDB's SHOW FULL TABLES but SEQUENCE. */
const NOT_SEQUENCES = ['BASE TABLE', 'SYSTEM VERSIONED', 'VIEW', 'SYSTEM VIEW', 'TEMPORARY'];

/** MariaDB's sequences are tables of TABLE_TYPE SEQUENCE. */
const SEQUENCE_NAMES_SQL = `
SELECT TABLE_SCHEMA AS schema_name, TABLE_NAME AS name, TABLE_COMMENT AS table_comment
FROM information_schema.TABLES
WHERE TABLE_SCHEMA IN (?) AND TABLE_TYPE = 'SEQUENCE'`;

/**
 * Most databases whose tables' kinds {@link databasesWithOtherKinds} reads with SHOW FULL
 * TABLES (a statement each); with more, callers read information_schema in one statement.
 */
export const MAX_DATABASES_SHOWN = 64;

/**
 * Which of `schemas` hold a table of another kind than `kinds` (MariaDB: SHOW FULL TABLES'
 * Table_type, the TABLE_TYPE of information_schema.TABLES), one SHOW FULL TABLES statement
 * per database; undefined when there are more than {@link MAX_DATABASES_SHOWN} of them or a
 * statement fails (callers then ask information_schema). SHOW FULL TABLES reads the head of
 * each table's .frm file; information_schema.TABLES loads each table's whole definition for
 * TABLE_TYPE (at 10,000 tables in ten databases 250-350 ms of the server's CPU against about
 * 130 ms, and it pushes the tables a page is about to read out of the definition cache).
 */
export async function databasesWithOtherKinds(
  conn: Connection,
  schemas: readonly string[],
  kinds: readonly string[],
  signal: AbortSignal,
): Promise<string[] | undefined> {
  if (schemas.length > MAX_DATABASES_SHOWN) return undefined;
  const out: string[] = [];
  try {
    for (const schema of schemas) {
      const found = await uncommonKindsIn(conn, schema, signal);
      if ([...found].some((k) => !kinds.includes(k))) out.push(schema);
    }
  } catch (error) {
    if (signal.aborted) throw error;
    return undefined;
  }
  return out;
}

/**
 * The Table_types of a database's tables other than BASE TABLE and VIEW (SEQUENCE, TEMPORARY,
 * SYSTEM VERSIONED, ...), one SHOW FULL TABLES, read once per session: a discovery asks at its
 * start for its count and for its sequences, which would each read every table's .frm head
 * (10-18 ms a database of 1,000 tables, twice, on the connection the first batch waits for).
 * A table of another kind created later in the session is seen by the next one. Kept under
 * `conn` (the session's main connection), read through `via` (one of its parallel connections).
 */
function uncommonKindsIn(conn: Connection, schema: string, signal: AbortSignal, via: Connection = conn): Promise<Set<string>> {
  let seen = uncommonKinds.get(conn);
  if (!seen) uncommonKinds.set(conn, (seen = new Map<string, Promise<Set<string>>>()));
  let kinds = seen.get(schema);
  if (!kinds) {
    const reading = query<{ Table_type: string }>(
      via,
      `SHOW FULL TABLES FROM ${quoteId(schema)} WHERE Table_type NOT IN ('BASE TABLE', 'VIEW')`,
      [],
      signal,
    ).then((rows) => new Set(rows.map((r) => r.Table_type)));
    seen.set(schema, (kinds = reading));
    const map = seen;
    reading.catch(() => map.delete(schema)); // a failed read is not kept
  }
  return kinds;
}

const uncommonKinds = new WeakMap<Connection, Map<string, Promise<Set<string>>>>();

/** Most sequences one definition statement reads (a UNION ALL branch each). */
export const MAX_SEQUENCES_PER_STATEMENT = 500;

/** ER_TABLEACCESS_DENIED_ERROR: a SELECT the account may not run on that table. */
const ER_TABLEACCESS_DENIED_ERROR = 1142;

const quoteId = (name: string) => `\`${name.replace(/`/g, '``')}\``;

/**
 * The schema-level objects of `schemas` (names the server listed), keyed by schema name:
 * routines always, sequences on MariaDB 10.3 and later. Schemas without any get empty lists.
 */
export async function readSchemaObjects(
  conn: Connection,
  schemas: readonly string[],
  request: SchemaObjectsRequest,
  signal: AbortSignal,
  read: CatalogRead,
  parallel: () => Promise<readonly Connection[]> = () => Promise.resolve([]),
): Promise<Map<string, SchemaObjects>> {
  const out = new Map<string, SchemaObjects>(schemas.map((s) => [s, { routines: [] }]));
  if (schemas.length === 0) return out;
  const { version } = sessionOf(conn);
  const hasSequences = version.flavour === 'MariaDB' && atLeast(version, 10, 3);
  if (hasSequences && schemas.length <= MAX_DATABASES_SHOWN) {
    // The kinds of tables of each database (a SHOW FULL TABLES each, read for the sequences
    // and the count) go on the parallel connections, leaving the main one to the count and
    // the first page that discovery reads meanwhile; failures surface where they are used.
    const others = await parallel();
    if (others.length > 0) schemas.forEach((s, i) => void uncommonKindsIn(conn, s, signal, others[i % others.length]).catch(() => undefined));
  }
  // The routines and the sequences, given to the main connection at once: its statement line
  // sends each statement as the one before ends, the two reads' statements in turn.
  const routinesRead = (async () => {
    const routineRows = await read('routines', () => query<RoutineRow>(conn, routinesSql(request.routineBodies), [schemas], signal));
    const parameterRows = routineRows.length === 0 ? [] : await read('routine parameters', () => query<ParameterRow>(conn, PARAMETERS_SQL, [schemas], signal));
    return groupRoutines(routineRows, parameterRows);
  })();
  const [routines, sequences] = await Promise.all([routinesRead, hasSequences ? readSequences(conn, schemas, signal, read) : undefined]);
  for (const [schema, list] of routines) {
    const objects = out.get(schema);
    if (objects) objects.routines = list;
  }
  if (sequences) {
    for (const objects of out.values()) objects.sequences = [];
    for (const s of sequences) out.get(s.schema)?.sequences?.push(s);
  }
  return out;
}

/** The routines of each schema, in (name, kind) order, each with its arguments in order. */
function groupRoutines(routines: readonly RoutineRow[], parameters: readonly ParameterRow[]): Map<string, RoutineEntity[]> {
  const argumentsOf = new Map<string, ParameterRow[]>();
  for (const p of parameters) {
    const key = `${keyOf(p.schema_name, p.name)}\u0000${p.routine_type}`;
    const list = argumentsOf.get(key);
    if (list) list.push(p);
    else argumentsOf.set(key, [p]);
  }
  const out = new Map<string, RoutineEntity[]>();
  const sorted = [...routines].sort((a, b) => byteOrder(a.name, b.name) || byteOrder(a.routine_type, b.routine_type));
  for (const r of sorted) {
    const args = (argumentsOf.get(`${keyOf(r.schema_name, r.name)}\u0000${r.routine_type}`) ?? []).sort((a, b) => Number(a.ordinal) - Number(b.ordinal));
    const list = out.get(r.schema_name) ?? [];
    list.push(toRoutine(r, args));
    out.set(r.schema_name, list);
  }
  return out;
}

/** A routine: language SQL (or an external one's, MySQL 9's JavaScript), DETERMINISTIC, SQL SECURITY, the DEFINER as owner. */
export function toRoutine(r: RoutineRow, args: readonly ParameterRow[]): RoutineEntity {
  const kind = r.routine_type === 'PROCEDURE' ? 'PROCEDURE' : 'FUNCTION';
  const routine: RoutineEntity = {
    schema: r.schema_name,
    name: r.name,
    kind,
    arguments: args.map((p): RoutineArgumentEntity => ({
      name: p.parameter_name ?? '',
      type: p.type,
      // A function's arguments are IN; MySQL leaves their mode NULL.
      mode: p.mode === 'OUT' ? 'OUT' : p.mode === 'INOUT' ? 'INOUT' : 'IN',
    })),
    language: r.body_kind === 'EXTERNAL' && r.external_language ? r.external_language : (r.body_kind ?? 'SQL'),
    deterministic: r.is_deterministic === 'YES',
    securityDefiner: r.security_type === 'DEFINER',
  };
  if (kind === 'FUNCTION' && r.return_type) routine.returnType = r.return_type;
  if (r.routine_comment) routine.comment = r.routine_comment;
  if (r.definer) routine.owner = r.definer;
  if (typeof r.body === 'string') routine.body = r.body;
  return routine;
}

/**
 * MariaDB's sequences with their definitions, in (schema, name) order. There is no set-based
 * source of a sequence's definition before MariaDB 11.5's information_schema.SEQUENCES
 * (SHOW CREATE SEQUENCE is per object): each sequence is a one-row table of its definition,
 * so one statement reads them all, a `UNION ALL` branch per sequence
 * ({@link MAX_SEQUENCES_PER_STATEMENT} a statement). A sequence the account may not SELECT
 * from (it sees the name through another privilege) fails the statement with
 * ER_TABLEACCESS_DENIED, naming it: the statement runs again without it, and it is left out.
 */
async function readSequences(conn: Connection, schemas: readonly string[], signal: AbortSignal, read: CatalogRead): Promise<SequenceEntity[]> {
  // Only the databases that hold one: most hold none, and TABLE_TYPE costs every table's definition.
  const holding = (await databasesWithOtherKinds(conn, schemas, NOT_SEQUENCES, signal)) ?? schemas;
  if (holding.length === 0) return [];
  const names = await read('sequences', () => query<SequenceNameRow>(conn, SEQUENCE_NAMES_SQL, [holding], signal));
  names.sort((a, b) => byteOrder(a.schema_name, b.schema_name) || byteOrder(a.name, b.name));
  const rows = new Map<string, SequenceRow>();
  for (let i = 0; i < names.length; i += MAX_SEQUENCES_PER_STATEMENT) {
    let chunk = names.slice(i, i + MAX_SEQUENCES_PER_STATEMENT);
    while (chunk.length > 0) {
      const statement = chunk
        .map(
          (n) =>
            `SELECT ? AS schema_name, ? AS name, next_not_cached_value, minimum_value, maximum_value, start_value, increment, cache_size, cycle_option, cycle_count FROM ${quoteId(n.schema_name)}.${quoteId(n.name)}`,
        )
        .join('\nUNION ALL\n');
      const params = chunk.flatMap((n) => [n.schema_name, n.name]);
      try {
        for (const r of await read('sequence definitions', () => query<SequenceRow>(conn, statement, params, signal)))
          rows.set(keyOf(r.schema_name, r.name), r);
        break;
      } catch (error) {
        const denied = deniedTable(error);
        const rest = denied ? chunk.filter((n) => !(n.schema_name === denied.schema && n.name === denied.name)) : chunk;
        if (rest.length === chunk.length) throw error;
        chunk = rest;
      }
    }
  }
  const out: SequenceEntity[] = [];
  for (const n of names) {
    const r = rows.get(keyOf(n.schema_name, n.name));
    if (r) out.push(toSequence(r, n.table_comment));
  }
  return out;
}

/** The table ER_TABLEACCESS_DENIED_ERROR names (`... for table \`db\`.\`name\``), if the error is that. */
function deniedTable(error: unknown): { schema: string; name: string } | undefined {
  // The error may come wrapped by the catalog's read guard.
  let e: unknown = error;
  for (let depth = 0; e && depth < 3; depth++) {
    if (serverErrno(e) === ER_TABLEACCESS_DENIED_ERROR) {
      const message = e instanceof Error ? e.message : '';
      const m = /for table `((?:[^`]|``)*)`\.`((?:[^`]|``)*)`/.exec(message);
      return m ? { schema: m[1].replace(/``/g, '`'), name: m[2].replace(/``/g, '`') } : undefined;
    }
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}

/**
 * A sequence from its table's row. MariaDB 10.3–11.4 sequences are BIGINT. The last value
 * handed out is not stored: `next_not_cached_value` is where the next cache allocation
 * starts. Without a cache (NOCACHE) that is the next value, so `lastValue` (that minus the
 * increment) is exact; with one, sessions may hold any of the values reserved before it, so
 * no last value is reported. Absent too while the sequence was never used.
 */
export function toSequence(r: SequenceRow, comment: string | null): SequenceEntity {
  const sequence: SequenceEntity = {
    schema: r.schema_name,
    name: r.name,
    dataType: 'bigint',
    start: String(r.start_value),
    increment: String(r.increment),
    minValue: String(r.minimum_value),
    maxValue: String(r.maximum_value),
    cycle: Number(r.cycle_option) === 1,
    cache: String(r.cache_size),
    identity: false,
  };
  const next = BigInt(r.next_not_cached_value);
  const used = next !== BigInt(r.start_value) || Number(r.cycle_count) > 0;
  const last = next - BigInt(r.increment);
  if (used && Number(r.cache_size) === 0 && last >= BigInt(r.minimum_value) && last <= BigInt(r.maximum_value)) {
    sequence.lastValue = String(last);
    sequence.lastValueSource = 'next_not_cached_value';
  }
  if (comment) sequence.comment = comment;
  return sequence;
}
