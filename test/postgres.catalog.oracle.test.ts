/**
 * Oracle test of discovery's catalog objects on PostgreSQL (issue 19): a database of its own on
 * the harness server holds every object kind (checks of tables and domains, triggers of every
 * timing and level with a disabled, a replica and an always one, sequences owned and not,
 * functions and procedures with IN/OUT/INOUT/VARIADIC/TABLE arguments and defaults, an
 * aggregate, enum/composite/range/domain types, INCLUDE, DESC/NULLS, collated, operator-class,
 * partial, expression and invalid indexes, materialized views with and without data) and the odd
 * cases (a dropped column, quoted and unicode names, partitions of partitions, a view over a
 * view, extension members: citext's base type and functions, lo's domain, and a sequence and an
 * enum added to lo). Every expected value is read here with the test's own queries —
 * information_schema where it says enough, pg_get_constraintdef / pg_get_triggerdef /
 * pg_get_indexdef texts parsed here, pg_index_column_has_property, pg_matviews, pg_sequences,
 * enum_range, the extension members as psql's \dx+ lists them — and compared with what
 * discovery streamed, every field of every object, both ways.
 * Over 400 lines in one file: every case reads the one fixture database and the two discoveries made in beforeAll.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client } from 'pg';
import type { DiscoverDataSourceResponse, Relation, Schema } from '@sourced/api';
import { DataSource } from '@sourced/api';
import type { ServerInfo } from './support/globalSetup';
import { superuserQuery } from './support/pg';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

const U = 'Ünï "q"';
const SCHEMAS = ['cat', U];

const FIXTURE = `
CREATE SCHEMA cat;
CREATE SCHEMA "Ünï ""q""";
SET search_path = cat, public;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok';
CREATE TYPE pair AS (a integer, b text COLLATE "C", "Wéird" numeric(5,2));
CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE DOMAIN posint AS integer NOT NULL DEFAULT 1 CHECK (VALUE > 0) CONSTRAINT posint_small CHECK (VALUE < 1000000);
CREATE DOMAIN code AS varchar(10) COLLATE "C" CHECK (VALUE ~ '^[A-Z]+$');
ALTER DOMAIN code ADD CONSTRAINT code_short CHECK (length(VALUE) < 9) NOT VALID;
COMMENT ON TYPE mood IS 'how it feels';
CREATE TYPE unused_enum AS ENUM ();
CREATE TYPE "Ünï ""q"""."Typ ""é""" AS ENUM ('a b', 'Ä');
CREATE SEQUENCE free_seq AS integer START 5 INCREMENT -2 MINVALUE -100 MAXVALUE 100 CYCLE CACHE 3;
COMMENT ON SEQUENCE free_seq IS 'not owned';
CREATE SEQUENCE used_seq;
SELECT nextval('used_seq'), nextval('used_seq');
CREATE TABLE items (
  id bigint GENERATED ALWAYS AS IDENTITY,
  gone integer,
  serial_no serial CONSTRAINT items_serial_key UNIQUE,
  name text COLLATE "C" NOT NULL,
  price numeric(10,2) CHECK (price > 0),
  qty posint,
  feeling mood,
  "Quoted Col" text,
  PRIMARY KEY (id),
  CONSTRAINT name_len CHECK (length(name) < 100) NO INHERIT
);
ALTER TABLE items DROP COLUMN gone;
ALTER TABLE items ADD CONSTRAINT qty_price CHECK (qty::numeric * price < 1e9) NOT VALID;
CREATE SEQUENCE owned_seq OWNED BY items."Quoted Col";
CREATE UNIQUE INDEX items_name_desc ON items (name DESC NULLS LAST, price NULLS FIRST) INCLUDE (qty, feeling);
CREATE INDEX items_lower ON items (lower(name) COLLATE "POSIX" text_pattern_ops) WHERE price > 10;
CREATE INDEX items_hash ON items USING hash (name);
CREATE INDEX items_gin ON items USING gin (to_tsvector('simple', name));
COMMENT ON INDEX items_hash IS 'hash it';
CREATE FUNCTION trg_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION "Ünï ""q""".stmt_fn() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER t_before BEFORE INSERT OR UPDATE OF price, name ON items FOR EACH ROW WHEN (NEW.price > 0) EXECUTE FUNCTION trg_fn();
CREATE TRIGGER t_after AFTER DELETE OR TRUNCATE ON items FOR EACH STATEMENT EXECUTE FUNCTION "Ünï ""q""".stmt_fn();
CREATE TRIGGER t_disabled AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION trg_fn();
ALTER TABLE items DISABLE TRIGGER t_disabled;
CREATE TRIGGER t_replica AFTER UPDATE ON items FOR EACH ROW EXECUTE FUNCTION trg_fn();
ALTER TABLE items ENABLE REPLICA TRIGGER t_replica;
CREATE TRIGGER t_always AFTER UPDATE ON items REFERENCING NEW TABLE AS newtab FOR EACH STATEMENT EXECUTE FUNCTION trg_fn();
ALTER TABLE items ENABLE ALWAYS TRIGGER t_always;
CREATE TRIGGER "t wéird ""x""" BEFORE DELETE ON items FOR EACH ROW WHEN (OLD.qty IS DISTINCT FROM 7) EXECUTE FUNCTION trg_fn();
CREATE TABLE "Ünï ""q"""."Tåble ""x""" ("ïd" int PRIMARY KEY, ref bigint REFERENCES cat.items(id), CHECK ("ïd" <> 13));
CREATE VIEW v1 AS SELECT id, name FROM items;
CREATE VIEW v2 AS SELECT id FROM v1;
CREATE TRIGGER t_instead INSTEAD OF INSERT ON v2 FOR EACH ROW EXECUTE FUNCTION trg_fn();
CREATE MATERIALIZED VIEW mv_empty AS SELECT id FROM items WITH NO DATA;
CREATE MATERIALIZED VIEW mv_full AS SELECT id FROM items;
CREATE UNIQUE INDEX mv_full_id ON mv_full (id);
CREATE TABLE events (id int, at date NOT NULL, kind text, CHECK (id > 0)) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY LIST (kind);
CREATE TABLE events_2024_a PARTITION OF events_2024 FOR VALUES IN ('a');
CREATE TRIGGER t_part AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION trg_fn();
CREATE INDEX events_at ON events (at);
CREATE INDEX events_kind_c ON events (kind COLLATE "C" DESC, (kind::varchar) varchar_pattern_ops) WHERE kind <> 'x';
CREATE TABLE excl (r int4range, EXCLUDE USING gist (r WITH &&));
CREATE TABLE dups (v int);
INSERT INTO dups VALUES (1), (1);
CREATE FUNCTION add(a integer, b integer DEFAULT 2) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE FUNCTION add(a text, VARIADIC rest text[]) RETURNS text LANGUAGE sql STABLE AS $$SELECT a || array_to_string(rest, ',')$$;
CREATE FUNCTION split_pair(IN p pair, OUT a integer, INOUT b text) LANGUAGE sql AS 'SELECT (p).a, b';
CREATE FUNCTION tab(n int) RETURNS TABLE (i int, sq int) LANGUAGE sql AS 'SELECT g, g*g FROM generate_series(1, n) g';
CREATE FUNCTION sqlbody(x int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT x * 2; END;
CREATE PROCEDURE proc(IN x int, OUT z text, INOUT y int DEFAULT 0) LANGUAGE plpgsql AS $$ BEGIN y := x; z := 'z'; END $$;
CREATE AGGREGATE my_sum(int) (sfunc = int4pl, stype = int, initcond = '0');
CREATE FUNCTION "Ünï ""q"""."fn ""ö"""(numeric(5,2), "ärg" text DEFAULT 'a, b') RETURNS SETOF text LANGUAGE sql AS $$SELECT "ärg"$$;
COMMENT ON FUNCTION tab(int) IS 'a table';
CREATE EXTENSION citext SCHEMA cat;
CREATE EXTENSION lo SCHEMA cat;
CREATE SEQUENCE ext_seq;
CREATE TYPE ext_enum AS ENUM ('x');
ALTER EXTENSION lo ADD SEQUENCE ext_seq;
ALTER EXTENSION lo ADD TYPE ext_enum;
CREATE TABLE ext_table (id int);
ALTER EXTENSION lo ADD TABLE ext_table;
ALTER TABLE items ADD CONSTRAINT items_price_name UNIQUE (price, name);
CREATE TABLE "Ünï ""q""".refs (
  n text COLLATE "C", "P ""é""" numeric(10,2), id bigint,
  FOREIGN KEY (n, "P ""é""") REFERENCES cat.items (name, price) ON DELETE CASCADE ON UPDATE SET NULL,
  CONSTRAINT refs_whole FOREIGN KEY (id) REFERENCES cat.items);
COMMENT ON TABLE items IS 'the items';
COMMENT ON COLUMN items.name IS 'the name';
COMMENT ON COLUMN items."Quoted Col" IS 'quoted, "with" quotes';
COMMENT ON COLUMN v1.name IS 'a view column';
COMMENT ON COLUMN mv_full.id IS 'a materialized view column';
COMMENT ON COLUMN events_2024_a.kind IS 'a partition''s column';
COMMENT ON COLUMN "Ünï ""q""".refs."P ""é""" IS 'ünï';
`;

/** Splits a list at its top-level commas (not inside parentheses, brackets or quotes). */
function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (text.trim()) out.push(text.slice(start).trim());
  return out;
}

const unquote = (name: string) => (name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name);
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe('PostgreSQL catalog objects against the catalog itself', () => {
  const pg = inject('postgres');
  const database = `catalog_oracle_${process.pid}`;
  let own: ServerInfo;
  let db: Client;
  let t: TestDaemon;
  let withBodies: DiscoverDataSourceResponse[];
  let withoutBodies: DiscoverDataSourceResponse[];

  const source = () =>
    DataSource.fromPartial({
      id: 'catalog-oracle',
      type: 'postgres',
      primary: { host: own.host, port: own.port, database },
      credentials: { username: own.superuser, password: { source: { $case: 'inlineValue', value: own.superuserPassword } } },
    });
  const schemasOf = (events: DiscoverDataSourceResponse[]): Schema[] => events.flatMap((e) => (e.event?.$case === 'schemas' ? e.event.value.schemas : []));
  const relationsOf = (events: DiscoverDataSourceResponse[]): Relation[] =>
    events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.relations : [])).filter((r) => SCHEMAS.includes(r.schema));
  const q = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => (await db.query(sql, params)).rows as T[];
  /**
   * The extension of each member object of system catalog `catalog`, by oid: the objects psql's
   * \dx+ lists (pg_depend rows of deptype 'e' on pg_extension), with pg_available_extensions'
   * installed version.
   */
  const extensionMembers = async (catalog: string) => {
    const rows = await q<{ oid: number; name: string; version: string }>(
      `SELECT d.objid::int AS oid, a.name, a.installed_version AS version
       FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid JOIN pg_available_extensions a ON a.name = e.extname
       WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND d.classid = $1::regclass`,
      [catalog],
    );
    const byOid = new Map(rows.map((r) => [r.oid, { extension: r.name, extensionVersion: r.version }]));
    return (oid: number) => byOid.get(oid) ?? { extension: '', extensionVersion: '' };
  };

  beforeAll(async () => {
    await superuserQuery(pg, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await superuserQuery(pg, `CREATE DATABASE ${database}`);
    own = { ...pg, database };
    db = new Client({ host: pg.host, port: pg.port, user: pg.superuser, password: pg.superuserPassword, database });
    await db.connect();
    await db.query(FIXTURE);
    // an index whose CREATE INDEX CONCURRENTLY failed stays behind, invalid
    await expect(db.query('CREATE UNIQUE INDEX CONCURRENTLY dups_v ON cat.dups (v)')).rejects.toThrow(/could not create unique index/);
    await db.query('RESET search_path');
    t = await startTestDaemon();
    const filter = { includeSchemas: SCHEMAS, excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false };
    withBodies = await t.discover({ dataSource: source(), filter, includeRoutineBodies: true });
    withoutBodies = await t.discover({ dataSource: source(), filter });
  }, 180_000);

  afterAll(async () => {
    await db?.end();
    await t?.stop();
    await superuserQuery(pg, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }, 60_000);

  it('reports every check constraint of every table as pg_get_constraintdef and information_schema say', async () => {
    const rows = await q<{ schema: string; table: string; name: string; def: string; validated: boolean; columns: string[] }>(
      `SELECT n.nspname AS schema, c.relname AS table, con.conname AS name, pg_get_constraintdef(con.oid) AS def, con.convalidated AS validated,
              ARRAY(SELECT u.column_name::text FROM information_schema.constraint_column_usage u
                    JOIN information_schema.columns col ON col.table_schema = u.table_schema AND col.table_name = u.table_name AND col.column_name = u.column_name
                    WHERE u.constraint_schema = n.nspname AND u.constraint_name = con.conname AND u.table_schema = n.nspname AND u.table_name = c.relname
                    ORDER BY col.ordinal_position) AS columns
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE con.contype = 'c' AND n.nspname = ANY ($1)`,
      [SCHEMAS],
    );
    const expected = rows.map((r) => {
      const m = /^CHECK \((.*)\)( NO INHERIT)?( NOT VALID)?$/s.exec(r.def);
      if (!m) throw new Error(`unexpected definition ${r.def}`);
      expect(r.validated).toBe(m[3] === undefined);
      return {
        relation: `${r.schema}.${r.table}`,
        name: r.name,
        expression: m[1],
        enforced: true,
        validated: r.validated,
        noInherit: m[2] !== undefined,
        columns: r.columns,
      };
    });
    const actual = relationsOf(withBodies).flatMap((r) => r.checkConstraints.map((c) => ({ relation: `${r.schema}.${r.name}`, ...c })));
    const key = (x: { relation: string; name: string }) => `${x.relation}/${x.name}`;
    expect(actual.sort((a, b) => byteOrder(key(a), key(b)))).toEqual(expected.sort((a, b) => byteOrder(key(a), key(b))));
    expect(expected.map((c) => c.name)).toEqual(expect.arrayContaining(['qty_price', 'name_len', 'events_id_check', 'Tåble "x"_ïd_check']));
    // within a relation, in name order
    for (const r of relationsOf(withBodies)) expect(r.checkConstraints.map((c) => c.name)).toEqual(r.checkConstraints.map((c) => c.name).sort(byteOrder));
  });

  it('reports every trigger with its timing, events, level, state, function, condition and columns', async () => {
    const rows = await q<{
      schema: string;
      table: string;
      name: string;
      def: string;
      enabled: string;
      fn_schema: string;
      fn: string;
      inherited: boolean;
    }>(
      `SELECT n.nspname AS schema, c.relname AS table, tg.tgname AS name, pg_get_triggerdef(tg.oid) AS def, tg.tgenabled AS enabled,
              pn.nspname AS fn_schema, p.proname AS fn, tg.tgparentid <> 0 AS inherited
       FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_proc p ON p.oid = tg.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace
       WHERE NOT tg.tgisinternal AND n.nspname = ANY ($1)`,
      [SCHEMAS],
    );
    const info = await q<{ schema: string; table: string; name: string; event: string; timing: string; orientation: string; condition: string | null }>(
      `SELECT event_object_schema AS schema, event_object_table AS table, trigger_name AS name, event_manipulation AS event,
              action_timing AS timing, action_orientation AS orientation, action_condition AS condition
       FROM information_schema.triggers WHERE event_object_schema = ANY ($1)`,
      [SCHEMAS],
    );
    const updateColumns = await q<{ schema: string; table: string; name: string; column: string }>(
      `SELECT event_object_schema AS schema, event_object_table AS table, trigger_name AS name, event_object_column AS column
       FROM information_schema.triggered_update_columns WHERE event_object_schema = ANY ($1)`,
      [SCHEMAS],
    );
    const state: Record<string, string> = { O: 'ENABLED', D: 'DISABLED', R: 'REPLICA', A: 'ALWAYS' };
    const expected = rows.map((r) => {
      const mine = info.filter((i) => i.schema === r.schema && i.table === r.table && i.name === r.name);
      // information_schema leaves TRUNCATE out: the definition says it
      const events = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'].filter(
        (e) => mine.some((i) => i.event === e) || (e === 'TRUNCATE' && /\bTRUNCATE ON /.test(r.def)),
      );
      return {
        relation: `${r.schema}.${r.table}`,
        name: r.name,
        timing: mine[0].timing,
        events,
        level: mine[0].orientation,
        enabled: state[r.enabled],
        functionSchema: r.fn_schema,
        functionName: r.fn,
        condition: mine[0].condition ?? '',
        definition: r.def,
        actionOrder: 0,
        updateColumns: updateColumns
          .filter((u) => u.schema === r.schema && u.table === r.table && u.name === r.name)
          .map((u) => u.column)
          .sort(byteOrder),
        inherited: r.inherited,
        // a PostgreSQL trigger has no definer (its function's owner and SECURITY DEFINER say whose rights it runs with)
        definer: '',
      };
    });
    const actual = relationsOf(withBodies).flatMap((r) =>
      r.triggers.map((tr) => ({ relation: `${r.schema}.${r.name}`, ...tr, updateColumns: [...tr.updateColumns].sort(byteOrder) })),
    );
    const key = (x: { relation: string; name: string }) => `${x.relation}/${x.name}`;
    expect(actual.sort((a, b) => byteOrder(key(a), key(b)))).toEqual(expected.sort((a, b) => byteOrder(key(a), key(b))));
    // every kind is there
    const names = new Set(expected.map((x) => `${x.timing} ${x.level} ${x.enabled}`));
    for (const kind of [
      'BEFORE ROW ENABLED',
      'AFTER STATEMENT ENABLED',
      'AFTER ROW DISABLED',
      'AFTER ROW REPLICA',
      'AFTER STATEMENT ALWAYS',
      'INSTEAD OF ROW ENABLED',
    ])
      expect(names).toContain(kind);
    expect(expected.filter((x) => x.inherited).map((x) => x.relation)).toEqual(expect.arrayContaining(['cat.events_2024', 'cat.events_2024_a']));
  });

  it("reports each index's INCLUDE columns, key order, collations, operator classes, comment, validity and constraint", async () => {
    const rows = await q<{
      schema: string;
      table: string;
      name: string;
      def: string;
      valid: boolean;
      keys: number;
      comment: string | null;
      constraint: string | null;
      descs: (boolean | null)[];
      nulls_first: (boolean | null)[];
    }>(
      `SELECT n.nspname AS schema, c.relname AS table, ic.relname AS name, pg_get_indexdef(i.indexrelid) AS def, i.indisvalid AS valid,
              i.indnkeyatts AS keys, obj_description(i.indexrelid, 'pg_class') AS comment,
              coalesce((SELECT tc.constraint_name::text FROM information_schema.table_constraints tc
                        WHERE tc.table_schema = n.nspname AND tc.table_name = c.relname AND tc.constraint_name = ic.relname
                          AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE')),
                       -- exclusion constraints are not in information_schema
                       (SELECT x.conname FROM pg_constraint x WHERE x.contype = 'x' AND x.conrelid = c.oid AND x.conname = ic.relname)) AS constraint,
              ARRAY(SELECT CASE WHEN pg_index_column_has_property(i.indexrelid, k, 'orderable') THEN pg_index_column_has_property(i.indexrelid, k, 'desc') END
                    FROM generate_series(1, i.indnkeyatts) k ORDER BY k) AS descs,
              ARRAY(SELECT pg_index_column_has_property(i.indexrelid, k, 'nulls_first') FROM generate_series(1, i.indnkeyatts) k ORDER BY k) AS nulls_first
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = ANY ($1)`,
      [SCHEMAS],
    );
    const expected = rows.map((r) => {
      const include = /\) INCLUDE \((.*)\)(?: WHERE .*)?$/.exec(r.def);
      const ordered = r.descs.every((d) => d !== null);
      return {
        relation: `${r.schema}.${r.table}`,
        name: r.name,
        includeColumns: include ? splitTopLevel(include[1]).map(unquote) : [],
        sortOrders: ordered ? r.descs.map((d) => (d ? 'DESC' : 'ASC')) : [],
        nullsOrders: ordered ? r.nulls_first.map((f) => (f ? 'NULLS FIRST' : 'NULLS LAST')) : [],
        // what the definition names, in order (it prints COLLATE and operator classes only when not the default)
        collations: [...r.def.matchAll(/ COLLATE ("(?:[^"]|"")+"|\w+)/g)].map((m) => unquote(m[1])),
        operatorClasses: [...r.def.matchAll(/ (\w+_ops)\b/g)].map((m) => m[1]),
        comment: r.comment ?? '',
        valid: r.valid,
        constraintName: r.constraint ?? '',
      };
    });
    const actual = relationsOf(withBodies).flatMap((r) =>
      r.indexes.map((i) => ({
        relation: `${r.schema}.${r.name}`,
        name: i.name,
        includeColumns: i.includeColumns,
        sortOrders: i.sortOrders,
        nullsOrders: i.nullsOrders,
        collations: i.collations.filter((c) => c !== ''),
        operatorClasses: i.operatorClasses.filter((c) => c !== ''),
        comment: i.comment,
        valid: i.valid,
        constraintName: i.constraintName,
      })),
    );
    const key = (x: { relation: string; name: string }) => `${x.relation}/${x.name}`;
    expect(actual.sort((a, b) => byteOrder(key(a), key(b)))).toEqual(expected.sort((a, b) => byteOrder(key(a), key(b))));
    // per-key lists, when given, have one entry a key
    for (const r of relationsOf(withBodies))
      for (const i of r.indexes) {
        for (const list of [i.sortOrders, i.nullsOrders, i.collations, i.operatorClasses]) expect([0, i.columns.length]).toContain(list.length);
      }
    expect(expected.find((x) => x.name === 'dups_v')?.valid).toBe(false);
    expect(expected.find((x) => x.name === 'items_lower')).toMatchObject({ collations: ['POSIX'], operatorClasses: ['text_pattern_ops'] });
  });

  it("gives each column its attribute number, gaps after a dropped column included (information_schema's ordinal_position)", async () => {
    const rows = await q<{ schema: string; table: string; column: string; attnum: number }>(
      `SELECT table_schema AS schema, table_name AS table, column_name AS column, ordinal_position::int AS attnum
       FROM information_schema.columns WHERE table_schema = ANY ($1)
       UNION ALL -- information_schema has no materialized views
       SELECT n.nspname, c.relname, a.attname, a.attnum FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'm' AND n.nspname = ANY ($1) AND a.attnum > 0 AND NOT a.attisdropped`,
      [SCHEMAS],
    );
    const key = (x: { schema: string; table: string; column: string }) => `${x.schema}.${x.table}.${x.column}`;
    const expected = Object.fromEntries(rows.map((r) => [key(r), r.attnum]));
    const actual = Object.fromEntries(
      relationsOf(withBodies).flatMap((r) => r.columns.map((c) => [key({ schema: r.schema, table: r.name, column: c.name }), c.attributeNumber])),
    );
    expect(actual).toEqual(expected);
    expect(expected['cat.items.serial_no']).toBe(3);
  });

  it('gives every column its comment (col_description) and no other', async () => {
    const rows = await q<{ schema: string; table: string; column: string; comment: string | null }>(
      `SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, col_description(c.oid, a.attnum) AS comment
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname = ANY ($1) AND a.attnum > 0 AND NOT a.attisdropped`,
      [SCHEMAS],
    );
    const key = (x: { schema: string; table: string; column: string }) => `${x.schema}.${x.table}.${x.column}`;
    const expected = Object.fromEntries(rows.map((r) => [key(r), r.comment ?? '']));
    const actual = Object.fromEntries(
      relationsOf(withBodies).flatMap((r) => r.columns.map((c) => [key({ schema: r.schema, table: r.name, column: c.name }), c.comment])),
    );
    expect(actual).toEqual(expected);
    expect(Object.values(expected).filter((c) => c !== '')).toHaveLength(6);
  });

  it('gives every foreign key its columns, referenced table and columns in key order, and actions (pg_get_constraintdef)', async () => {
    const rows = await q<{ schema: string; table: string; name: string; def: string }>(
      `SELECT n.nspname AS schema, c.relname AS table, con.conname AS name, pg_get_constraintdef(con.oid) AS def
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE con.contype = 'f' AND n.nspname = ANY ($1)`,
      [SCHEMAS],
    );
    const action = '(NO ACTION|RESTRICT|CASCADE|SET NULL|SET DEFAULT)';
    const shape = new RegExp(`^FOREIGN KEY \\((.*?)\\) REFERENCES (.*?)\\((.*?)\\)(?: ON UPDATE ${action})?(?: ON DELETE ${action})?$`, 's');
    const expected = rows.map((r) => {
      const m = shape.exec(r.def);
      if (!m) throw new Error(`unexpected definition ${r.def}`);
      // the referenced table comes qualified (search_path is reset): schema.table, either part maybe quoted
      const [referencedSchema, referencedTable] = (/^("(?:[^"]|"")*"|[^."]+)\.(.*)$/.exec(m[2]) ?? []).slice(1).map(unquote);
      return {
        relation: `${r.schema}.${r.table}`,
        name: r.name,
        columns: splitTopLevel(m[1]).map(unquote),
        referencedSchema,
        referencedTable,
        referencedColumns: splitTopLevel(m[3]).map(unquote),
        onUpdate: m[4] ?? 'NO ACTION',
        onDelete: m[5] ?? 'NO ACTION',
      };
    });
    const actual = relationsOf(withBodies).flatMap((r) => r.foreignKeys.map((f) => ({ relation: `${r.schema}.${r.name}`, ...f })));
    const key = (x: { relation: string; name: string }) => `${x.relation}/${x.name}`;
    expect(actual.sort((a, b) => byteOrder(key(a), key(b)))).toEqual(expected.sort((a, b) => byteOrder(key(a), key(b))));
    // the odd cases are there: referenced columns in another order than the table's, quoted names, actions
    expect(expected.find((f) => f.columns.length === 2)).toMatchObject({
      columns: ['n', 'P "é"'],
      referencedColumns: ['name', 'price'],
      onUpdate: 'SET NULL',
      onDelete: 'CASCADE',
    });
    expect(expected).toHaveLength(3);
  });

  it('says whether each materialized view is populated, and nothing for other relations', async () => {
    const rows = await q<{ schema: string; name: string; populated: boolean }>(
      `SELECT schemaname AS schema, matviewname AS name, ispopulated AS populated FROM pg_matviews WHERE schemaname = ANY ($1)`,
      [SCHEMAS],
    );
    const expected = Object.fromEntries(rows.map((r) => [`${r.schema}.${r.name}`, r.populated]));
    const actual = Object.fromEntries(
      relationsOf(withBodies)
        .filter((r) => r.populated !== undefined)
        .map((r) => [`${r.schema}.${r.name}`, r.populated]),
    );
    expect(actual).toEqual(expected);
    expect(expected).toEqual({ 'cat.mv_empty': false, 'cat.mv_full': true });
  });

  it('names the extension (and its version) of every relation an extension owns, and none for the others', async () => {
    const rows = await q<{ schema: string; name: string; extension: string; version: string }>(
      `SELECT n.nspname AS schema, c.relname AS name, e.extname AS extension, e.extversion AS version
       FROM pg_depend d
       JOIN pg_extension e ON e.oid = d.refobjid
       JOIN pg_class c ON c.oid = d.objid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
         AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname = ANY ($1)`,
      [SCHEMAS],
    );
    const expected = Object.fromEntries(rows.map((r) => [`${r.schema}.${r.name}`, `${r.extension} ${r.version}`]));
    const actual = Object.fromEntries(
      relationsOf(withBodies)
        .filter((r) => r.extension !== '' || r.extensionVersion !== '')
        .map((r) => [`${r.schema}.${r.name}`, `${r.extension} ${r.extensionVersion}`]),
    );
    expect(actual).toEqual(expected);
    expect(Object.keys(expected)).toEqual(['cat.ext_table']);
  });

  it('sends every sequence with its settings, owner column and last value, in the schema event', async () => {
    const rows = await q<Record<string, string | boolean | null>>(
      // pg_sequences, not information_schema.sequences: that one leaves identity columns' sequences out
      `SELECT s.schemaname AS schema, s.sequencename AS name, s.data_type::text AS data_type, s.start_value::text AS start,
              s.increment_by::text AS increment, s.min_value::text AS min_value, s.max_value::text AS max_value, s.cycle,
              s.cache_size::text AS cache, s.last_value::text AS last_value, s.sequenceowner AS owner,
              obj_description(format('%I.%I', s.schemaname, s.sequencename)::regclass, 'pg_class') AS comment,
              col.table_schema AS owned_by_schema, col.table_name AS owned_by_table, col.column_name AS owned_by_column,
              coalesce(col.is_identity = 'YES', false) AS identity,
              format('%I.%I', s.schemaname, s.sequencename)::regclass::oid::int AS oid
       FROM pg_sequences s
       LEFT JOIN information_schema.columns col
         ON pg_get_serial_sequence(format('%I.%I', col.table_schema, col.table_name), col.column_name)::regclass
            = format('%I.%I', s.schemaname, s.sequencename)::regclass
       WHERE s.schemaname = ANY ($1)`,
      [SCHEMAS],
    );
    const extensionOf = await extensionMembers('pg_class');
    const expected = rows
      .map((r) => ({
        schema: r.schema,
        name: r.name,
        dataType: r.data_type,
        start: r.start,
        increment: r.increment,
        minValue: r.min_value,
        maxValue: r.max_value,
        cycle: r.cycle,
        cache: r.cache,
        ownedBySchema: r.owned_by_schema ?? '',
        ownedByTable: r.owned_by_table ?? '',
        ownedByColumn: r.owned_by_column ?? '',
        identity: r.identity,
        lastValue: r.last_value ?? undefined,
        lastValueSource: 'pg_sequences.last_value',
        owner: r.owner,
        comment: r.comment ?? '',
        ...extensionOf(r.oid as unknown as number),
      }))
      .sort((a, b) => byteOrder(`${a.schema}.${a.name}`, `${b.schema}.${b.name}`));
    const actual = schemasOf(withBodies).flatMap((s) => s.sequences);
    expect(actual).toEqual(expected);
    expect(expected.map((s) => [s.name, s.ownedByColumn, s.identity, s.lastValue, s.extension])).toEqual([
      ['ext_seq', '', false, undefined, 'lo'],
      ['free_seq', '', false, undefined, ''],
      ['items_id_seq', 'id', true, undefined, ''],
      ['items_serial_no_seq', 'serial_no', false, undefined, ''],
      ['owned_seq', 'Quoted Col', false, undefined, ''],
      ['used_seq', '', false, '2', ''],
    ]);
  });

  it('sends every routine with its arguments, result, language, volatility and security, bodies only when asked', async () => {
    const routines = await q<Record<string, string | boolean | null>>(
      `SELECT r.routine_schema AS schema, r.routine_name AS name, r.specific_name, r.routine_type, p.prokind, lower(r.external_language) AS language,
              r.security_type = 'DEFINER' AS security_definer, r.routine_definition, p.provolatile, p.provariadic <> 0 AS variadic,
              p.prosqlbody IS NOT NULL AS sql_body, pg_get_function_result(p.oid) AS result, pg_get_function_identity_arguments(p.oid) AS identity,
              obj_description(p.oid, 'pg_proc') AS comment, pg_get_userbyid(p.proowner) AS owner, p.oid::int AS oid
       FROM information_schema.routines r JOIN pg_proc p ON r.specific_name = p.proname || '_' || p.oid
       WHERE r.routine_schema = ANY ($1)
         -- the constructors a range type makes for itself are the type's
         AND NOT (p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'internal')
                  AND EXISTS (SELECT 1 FROM pg_range g JOIN pg_type ty ON ty.oid IN (g.rngtypid, g.rngmultitypid)
                              WHERE ty.typname = p.proname AND ty.typnamespace = p.pronamespace))`,
      [SCHEMAS],
    );
    const params = await q<{ specific_name: string; mode: string; name: string | null; def: string | null; type: string }>(
      `SELECT pr.specific_name, pr.parameter_mode AS mode, pr.parameter_name AS name, pr.parameter_default AS def,
              format_type(ty.oid, NULL) AS type
       FROM information_schema.parameters pr
       JOIN pg_namespace tn ON tn.nspname = pr.udt_schema JOIN pg_type ty ON ty.typnamespace = tn.oid AND ty.typname = pr.udt_name
       WHERE pr.specific_schema = ANY ($1) ORDER BY pr.specific_name, pr.ordinal_position`,
      [SCHEMAS],
    );
    const bodies = await q<{ oid: number; body: string }>(
      `SELECT p.oid::int AS oid, pg_get_function_sqlbody(p.oid) AS body FROM pg_proc p WHERE p.prosqlbody IS NOT NULL`,
    );
    const routineExtension = await extensionMembers('pg_proc');
    const kinds: Record<string, string> = { f: 'FUNCTION', p: 'PROCEDURE', a: 'AGGREGATE', w: 'WINDOW' };
    const volatility: Record<string, string> = { i: 'IMMUTABLE', s: 'STABLE', v: 'VOLATILE' };
    const expected = routines
      .map((r) => {
        const mine = params.filter((p) => p.specific_name === r.specific_name);
        const table = typeof r.result === 'string' && r.result.startsWith('TABLE(');
        const lastIn = mine.map((p) => p.mode).lastIndexOf('IN');
        const args = mine.map((p, i) => ({
          name: p.name ?? '',
          type: p.type,
          mode: r.variadic && i === lastIn ? 'VARIADIC' : table && p.mode === 'OUT' ? 'TABLE' : p.mode,
          defaultValue: p.def ?? '',
        }));
        const body = r.sql_body ? (bodies.find((b) => b.oid === (r.oid as unknown as number))?.body ?? '') : (r.routine_definition as string);
        return {
          schema: r.schema as string,
          name: r.name as string,
          kind: (r.routine_type as string | null) ?? kinds[r.prokind as string],
          arguments: args,
          returnType: r.prokind === 'p' ? '' : (r.result as string),
          language: r.language as string,
          volatility: volatility[r.provolatile as string],
          deterministic: undefined,
          securityDefiner: r.security_definer as boolean,
          comment: (r.comment as string | null) ?? '',
          body,
          identityArguments: r.identity as string,
          owner: r.owner as string,
          ...routineExtension(r.oid as unknown as number),
        };
      })
      .sort((a, b) => byteOrder(a.schema, b.schema) || byteOrder(a.name, b.name) || byteOrder(a.identityArguments, b.identityArguments));
    expect(schemasOf(withBodies).flatMap((s) => s.routines)).toEqual(expected);
    // without the request option, no body at all
    expect(schemasOf(withoutBodies).flatMap((s) => s.routines)).toEqual(expected.map((r) => ({ ...r, body: '' })));
    expect(expected.find((r) => r.name === 'add' && r.identityArguments.includes('VARIADIC'))?.arguments.map((a) => a.mode)).toEqual(['IN', 'VARIADIC']);
    expect(expected.find((r) => r.name === 'tab')?.arguments.map((a) => a.mode)).toEqual(['IN', 'TABLE', 'TABLE']);
    expect(expected.find((r) => r.name === 'my_sum')?.kind).toBe('AGGREGATE');
    // the extensions' functions are there, named as theirs (citext's min/max are aggregates)
    expect(expected.find((r) => r.name === 'lo_oid')?.extension).toBe('lo');
    expect(expected.filter((r) => r.extension === 'citext' && r.kind === 'AGGREGATE').map((r) => r.name)).toEqual(['max', 'min']);
    expect(expected.filter((r) => r.extension === '').length).toBe(10);
  });

  it('sends every user-defined type: enum labels in order, domains with their checks, composite attributes, ranges', async () => {
    const types = await q<Record<string, string | boolean | null>>(
      `SELECT n.nspname AS schema, t.typname AS name, t.typtype AS kind, format('%I.%I', n.nspname, t.typname) AS qualified,
              obj_description(t.oid, 'pg_type') AS comment, pg_get_userbyid(t.typowner) AS owner, t.oid::int AS oid
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
       WHERE n.nspname = ANY ($1)
         AND (t.typtype IN ('e', 'd', 'r') OR t.typtype = 'b' AND t.typcategory <> 'A'
              OR t.typtype = 'c' AND t.typrelid IN (SELECT oid FROM pg_class WHERE relkind = 'c'))`,
      [SCHEMAS],
    );
    const domains = await q<{ schema: string; name: string; def: string | null; collation: string | null }>(
      `SELECT domain_schema AS schema, domain_name AS name, domain_default AS def, collation_name AS collation FROM information_schema.domains WHERE domain_schema = ANY ($1)`,
      [SCHEMAS],
    );
    const kinds: Record<string, string> = { e: 'ENUM', d: 'DOMAIN', c: 'COMPOSITE', r: 'RANGE', b: 'BASE' };
    const typeExtension = await extensionMembers('pg_type');
    const expected = [];
    for (const t of types) {
      const qualified = t.qualified as string;
      const kind = kinds[t.kind as string];
      const labels = kind === 'ENUM' ? (await q<{ l: string }>(`SELECT unnest(enum_range(NULL::${qualified}))::text AS l`)).map((r) => r.l) : [];
      const domain = domains.find((d) => d.schema === t.schema && d.name === t.name);
      const [base] =
        kind === 'DOMAIN'
          ? await q<{ base: string; notnull: boolean }>(
              `SELECT format_type(typbasetype, typtypmod) AS base, typnotnull AS notnull FROM pg_type WHERE oid = $1::regtype`,
              [qualified],
            )
          : [];
      const checks =
        kind === 'DOMAIN'
          ? (
              await q<{ name: string; def: string; validated: boolean }>(
                `SELECT c.constraint_name AS name, pg_get_constraintdef(con.oid) AS def, con.convalidated AS validated
                 FROM information_schema.domain_constraints c JOIN pg_constraint con ON con.conname = c.constraint_name AND con.contypid = $1::regtype
                 WHERE c.domain_schema = $2 AND c.domain_name = $3`,
                [qualified, t.schema, t.name],
              )
            )
              .map((c) => ({
                name: c.name,
                expression: /^CHECK \((.*)\)( NOT VALID)?$/s.exec(c.def)?.[1] ?? c.def,
                enforced: true,
                validated: c.validated,
                columns: [],
                noInherit: false,
              }))
              .sort((a, b) => byteOrder(a.name, b.name))
          : [];
      const attributes =
        kind === 'COMPOSITE'
          ? (
              await q<{ name: string; type: string; collation: string | null }>(
                `SELECT a.attribute_name AS name, format_type(pa.atttypid, pa.atttypmod) AS type, a.collation_name AS collation
                 FROM information_schema.attributes a JOIN pg_attribute pa ON pa.attrelid = (SELECT typrelid FROM pg_type WHERE oid = $1::regtype) AND pa.attname = a.attribute_name
                 WHERE a.udt_schema = $2 AND a.udt_name = $3 ORDER BY a.ordinal_position`,
                [qualified, t.schema, t.name],
              )
            ).map((a) => ({ name: a.name, type: a.type, collation: a.collation ?? '' }))
          : [];
      const [range] =
        kind === 'RANGE'
          ? await q<{ subtype: string }>(`SELECT format_type(rngsubtype, NULL) AS subtype FROM pg_range WHERE rngtypid = $1::regtype`, [qualified])
          : [];
      // information_schema.domains names the domain's collation even when it is the base type's
      const [baseCollation] =
        kind === 'DOMAIN'
          ? await q<{ c: string | null }>(
              `SELECT (SELECT collname FROM pg_collation WHERE oid = b.typcollation) AS c FROM pg_type d JOIN pg_type b ON b.oid = d.typbasetype WHERE d.oid = $1::regtype`,
              [qualified],
            )
          : [];
      expected.push({
        schema: t.schema,
        name: t.name,
        kind,
        labels,
        baseType: base?.base ?? '',
        nullable: base ? !base.notnull : true,
        defaultValue: domain?.def ?? '',
        checkConstraints: checks,
        attributes,
        subtype: range?.subtype ?? '',
        comment: t.comment ?? '',
        owner: t.owner,
        collation: domain?.collation && domain.collation !== baseCollation?.c ? domain.collation : '',
        ...typeExtension(t.oid as unknown as number),
      });
    }
    expected.sort((a, b) => byteOrder(`${a.schema as string}.${a.name as string}`, `${b.schema as string}.${b.name as string}`));
    expect(schemasOf(withBodies).flatMap((s) => s.types)).toEqual(expected);
    expect(expected.map((x) => `${x.kind} ${x.name as string}${x.extension ? ` (${x.extension})` : ''}`)).toEqual([
      'BASE citext (citext)',
      'DOMAIN code',
      'ENUM ext_enum (lo)',
      'RANGE floatrange',
      'DOMAIN lo (lo)',
      'ENUM mood',
      'COMPOSITE pair',
      'DOMAIN posint',
      'ENUM unused_enum',
      'ENUM Typ "é"',
    ]);
  });

  it('keeps schema-level objects to the schemas the filter lets through', async () => {
    const only = await t.discover({
      dataSource: source(),
      filter: { includeSchemas: [U], excludeSchemas: [], includeTables: ['nothing'], excludeTables: [], includeSystemSchemas: false },
    });
    const schemas = schemasOf(only);
    expect(schemas.map((s) => s.name)).toEqual([U]);
    expect(schemas[0].routines.map((r) => r.name)).toEqual(['fn "ö"', 'stmt_fn']);
    expect(schemas[0].types.map((x) => x.name)).toEqual(['Typ "é"']);
    expect(relationsOf(only)).toEqual([]);
  });
});
