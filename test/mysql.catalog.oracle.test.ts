/**
 * The whole MariaDB catalog against the server's own answer (issue 19): a database of the
 * suite's own on the shared harness server holds every object kind discovery reports (tables,
 * partitions with subpartitions, a view over a view, STORED and VIRTUAL generated columns,
 * SPATIAL, FULLTEXT, descending, ignored and commented indexes, JSON, table and column CHECKs,
 * a foreign key, quoted and unicode names, sequences, a procedure with IN/INOUT/OUT and a
 * function, triggers ordered with PRECEDES/FOLLOWS and of two definers), and the test reads
 * the same catalog with queries of its own (information_schema from a fresh session in the
 * server's default sql_mode, SHOW INDEX, SHOW CREATE TABLE, SHOW CREATE SEQUENCE, SHOW CREATE
 * TRIGGER for a trigger's definer), builds every message
 * discovery should send, and compares them whole both ways: nothing missing, nothing extra.
 * One file (~450 lines): its cases share the fixture database, one discovery run and the
 * oracle's readers, one per kind of object.
 */
import { randomBytes } from 'node:crypto';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  DataSource,
  Relation,
  RelationKind,
  Schema,
  type CheckConstraint,
  type Column,
  type DiscoverDataSourceResponse,
  type Index,
  type Routine,
  type Sequence,
  type Trigger,
} from '@sourced/api';
import type { ServerInfo } from './support/globalSetup';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

type Row = RowDataPacket & Record<string, unknown>;
const text = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const quote = (name: string) => `\`${name.replace(/`/g, '``')}\``;

describe('MariaDB catalog against its own answer (oracle)', () => {
  const server = inject('mariadb');
  const db = `catalog_oracle_${randomBytes(4).toString('hex')}`;
  const user = `'${server.user}'@'%'`;
  let root: Connection;
  let t: TestDaemon;
  let events: DiscoverDataSourceResponse[];
  /** The values NEXTVAL handed out, per sequence, in order. */
  const handedOut = new Map<string, string[]>();

  const fixture = (d: string) => [
    `CREATE DATABASE ${d} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci COMMENT 'the oracle''s own'`,
    `CREATE TABLE ${d}.items (
       id int unsigned NOT NULL AUTO_INCREMENT,
       sku varchar(32) NOT NULL COMMENT 'stock keeping unit',
       price decimal(10,2) NOT NULL CHECK (price >= 0),
       qty int NOT NULL DEFAULT 1,
       doc json DEFAULT NULL,
       area point NOT NULL,
       body text,
       net decimal(12,2) AS (price * qty) STORED,
       label varchar(60) AS (concat(sku, '-', qty)) VIRTUAL,
       PRIMARY KEY (id),
       UNIQUE KEY uq_items_sku (sku) COMMENT 'one row per sku',
       KEY idx_items_qty_price (qty DESC, price),
       KEY idx_items_label (label) IGNORED,
       KEY idx_items_sku_prefix (sku(8)),
       SPATIAL KEY sp_items_area (area),
       FULLTEXT KEY ft_items_body (body),
       CONSTRAINT chk_items_qty CHECK (qty > 0 AND qty < 1000)
     ) ENGINE=InnoDB AUTO_INCREMENT=42 COMMENT='Things'`,
    `INSERT INTO ${d}.items (sku, price, qty, doc, area, body) VALUES ('a', 1.5, 2, '{"k":1}', POINT(1,2), 'alpha'), ('b', 3, 1, NULL, POINT(3,4), 'beta')`,
    `CREATE TABLE ${d}.\`Kunden "ü"\` (\`Näme\` varchar(10) NOT NULL, \`we\`\`ird\` int DEFAULT 7, PRIMARY KEY (\`Näme\`)) ENGINE=InnoDB`,
    `CREATE TABLE ${d}.sales (id int NOT NULL, sold_on date NOT NULL, PRIMARY KEY (id, sold_on)) ENGINE=InnoDB
     PARTITION BY RANGE (year(sold_on)) SUBPARTITION BY HASH (id) SUBPARTITIONS 2
     (PARTITION p2023 VALUES LESS THAN (2024), PARTITION pmax VALUES LESS THAN MAXVALUE)`,
    `CREATE TABLE ${d}.lines (item_id int unsigned NOT NULL, n int NOT NULL, PRIMARY KEY (item_id, n),
       CONSTRAINT fk_lines_item FOREIGN KEY (item_id) REFERENCES ${d}.items (id) ON DELETE CASCADE) ENGINE=InnoDB`,
    `CREATE VIEW ${d}.v_items AS SELECT id, concat(sku, 'x') AS tag, price FROM ${d}.items`,
    `CREATE VIEW ${d}.v_items_top AS SELECT tag, price FROM ${d}.v_items WHERE price > 2`,
    `CREATE SEQUENCE ${d}.seq_orders START WITH 100 INCREMENT BY 5 MINVALUE 100 MAXVALUE 100000 CACHE 10 CYCLE COMMENT 'order numbers'`,
    `CREATE SEQUENCE ${d}.\`seq "ü"\` NOCACHE`,
    `CREATE SEQUENCE ${d}.seq_unused NOCACHE`,
    `CREATE DEFINER=${user} PROCEDURE ${d}.p_adjust(IN p_id int, INOUT p_qty int, OUT p_note varchar(40))
       MODIFIES SQL DATA SQL SECURITY INVOKER COMMENT 'adjusts stock'
       BEGIN SET p_qty = p_qty + p_id; SET p_note = 'ok'; END`,
    `CREATE DEFINER=${user} FUNCTION ${d}.f_net(p decimal(10,2), q int) RETURNS decimal(12,2) DETERMINISTIC RETURN p * q`,
    `CREATE DEFINER=${user} TRIGGER ${d}.trg_items_bi BEFORE INSERT ON ${d}.items FOR EACH ROW SET NEW.qty = GREATEST(NEW.qty, 1)`,
    `CREATE DEFINER=${user} TRIGGER ${d}.trg_items_bi_upper BEFORE INSERT ON ${d}.items FOR EACH ROW PRECEDES trg_items_bi SET NEW.sku = UPPER(NEW.sku)`,
    `CREATE DEFINER=${user} TRIGGER ${d}.trg_items_bi_round BEFORE INSERT ON ${d}.items FOR EACH ROW FOLLOWS trg_items_bi SET NEW.price = ROUND(NEW.price, 2)`,
    `CREATE DEFINER=${user} TRIGGER ${d}.trg_items_au AFTER UPDATE ON ${d}.items FOR EACH ROW BEGIN IF NEW.qty < 0 THEN SET @x = 1; END IF; END`,
    // no DEFINER clause: the creating account (the oracle's root session) is its definer
    `CREATE TRIGGER ${d}.trg_items_ad AFTER DELETE ON ${d}.items FOR EACH ROW SET @gone = OLD.id`,
    `GRANT ALL PRIVILEGES ON ${d}.* TO ${user}`,
  ];

  /** Rows of one statement on the oracle's root session (a fresh one: the server's default sql_mode). */
  const rows = async (sql: string, params: unknown[] = []): Promise<Row[]> => (await root.query<Row[]>(sql, params))[0];

  beforeAll(async () => {
    root = await createConnection({ host: server.host, port: server.port, user: server.superuser, password: server.superuserPassword });
    for (const statement of fixture(quote(db))) await root.query(statement);
    for (const [name, times] of [
      ['seq "ü"', 2],
      ['seq_orders', 1],
    ] as const) {
      for (let i = 0; i < times; i++) {
        const [r] = await rows(`SELECT NEXTVAL(${quote(db)}.${quote(name)}) AS v`);
        handedOut.set(name, [...(handedOut.get(name) ?? []), text(r.v)]);
      }
    }
    t = await startTestDaemon({ plugins: ['@sourced/plugin-mysql'] });
    events = await t.discover({
      dataSource: mysqlSource(server),
      filter: { includeSchemas: [db], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false },
      includeRoutineBodies: true,
    });
  });
  afterAll(async () => {
    await t?.stop();
    await root?.query(`DROP DATABASE IF EXISTS ${quote(db)}`);
    await root?.end();
  });

  const discoveredRelations = () =>
    events
      .flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.relations : []))
      .map(({ createdAt: _c, updatedAt: _u, createdTime: _ct, updatedTime: _ut, ...r }) => r);

  /** Every relation with every field, as the server's own catalog describes it. */
  it('sends every relation exactly as information_schema, SHOW INDEX and SHOW CREATE TABLE describe it', async () => {
    const tables = await rows(
      `SELECT TABLE_NAME AS name, TABLE_TYPE AS type, ENGINE AS engine, TABLE_ROWS AS table_rows, TABLE_COLLATION AS coll,
              TABLE_COMMENT AS comment, CREATE_OPTIONS AS options, AUTO_INCREMENT AS ai
       FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'SEQUENCE'`,
      [db],
    );
    tables.sort((a, b) => byBytes(text(a.name), text(b.name)));
    const expected: Omit<Relation, 'createdAt' | 'updatedAt' | 'createdTime' | 'updatedTime'>[] = [];
    for (const tr of tables) {
      const name = text(tr.name);
      const isView = tr.type === 'VIEW';
      const partitioned = /partitioned/i.test(text(tr.options));
      const createTable = isView ? '' : text((await rows(`SHOW CREATE TABLE ${quote(db)}.${quote(name)}`))[0]['Create Table']);
      const [view] = isView
        ? await rows('SELECT VIEW_DEFINITION AS def, DEFINER AS definer FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [db, name])
        : [];
      const checks = isView ? [] : await checksOf(name);
      const indexes = isView ? [] : await indexesOf(name, createTable);
      const { fks, partitions, partitionKey } = isView ? { fks: [], partitions: [], partitionKey: '' } : await keysOf(name);
      const r = Relation.fromPartial({
        schema: db,
        name,
        kind: isView ? RelationKind.RELATION_KIND_VIEW : partitioned ? RelationKind.RELATION_KIND_PARTITIONED_TABLE : RelationKind.RELATION_KIND_TABLE,
        comment: isView ? '' : text(tr.comment),
        columns: await columnsOf(name, checks),
        primaryKey: indexes.find((i) => i.primary) ? { name: 'PRIMARY', columns: indexes.find((i) => i.primary)?.columns } : undefined,
        uniqueConstraints: indexes.filter((i) => i.unique && !i.primary).map((i) => ({ name: i.name, columns: i.columns })),
        foreignKeys: fks,
        indexes,
        estimatedRows: isView ? -1 : Number(tr.table_rows),
        viewDefinition: view ? text(view.def) : '',
        owner: view ? text(view.definer) : '',
        engine: text(tr.engine),
        collation: text(tr.coll),
        partitions,
        partitionKey,
        checkConstraints: checks,
        triggers: isView ? [] : await triggersOf(name),
        autoIncrement: tr.ai === null ? undefined : text(tr.ai),
      });
      const { createdAt: _c, updatedAt: _u, createdTime: _ct, updatedTime: _ut, ...rest } = r;
      expected.push(rest);
    }
    expect(discoveredRelations()).toEqual(expected);
    // The odd cases are there (so the comparison above covered them).
    expect(expected.map((r) => r.name)).toEqual(['Kunden "ü"', 'items', 'lines', 'sales', 'v_items', 'v_items_top']);
    // the triggers' definers: the account named in DEFINER= and, without it, the creating one
    const [me] = await rows('SELECT CURRENT_USER() AS u');
    const definers = expected.find((r) => r.name === 'items')?.triggers.map((x) => [x.name, x.definer]);
    expect(definers).toEqual([
      ['trg_items_ad', text(me.u)],
      ['trg_items_au', `${server.user}@%`],
      ['trg_items_bi', `${server.user}@%`],
      ['trg_items_bi_round', `${server.user}@%`],
      ['trg_items_bi_upper', `${server.user}@%`],
    ]);
  });

  /** Issue 19 item 2: a view's expression column is what a fresh session says (nullable, no default), not NOT NULL DEFAULT ''. */
  it('reads view columns as the server answers in its default sql_mode', () => {
    const tag = discoveredRelations()
      .find((r) => r.name === 'v_items')
      ?.columns.find((c) => c.name === 'tag');
    expect(tag).toMatchObject({ nullable: true, defaultValue: '' });
  });

  /** Issue 19 item 4: SPATIAL prefix as the catalog says; JSON as declared and as stored. */
  it('keeps the SPATIAL key length and both types of a JSON column', () => {
    const items = discoveredRelations().find((r) => r.name === 'items');
    expect(items?.indexes.find((i) => i.name === 'sp_items_area')).toMatchObject({ prefixLengths: [32], definition: 'SPATIAL KEY `sp_items_area` (`area`)' });
    expect(items?.columns.find((c) => c.name === 'doc')).toMatchObject({ dataType: 'json', storedType: 'longtext', baseType: 'longtext' });
  });

  /** The schema event: the database with its routines (arguments, modes, bodies as asked) and sequences, nothing else. */
  it('sends the database with every routine and sequence as the server describes them', async () => {
    const schemas = events.flatMap((e) => (e.event?.$case === 'schemas' ? e.event.value.schemas : []));
    const [s] = await rows('SELECT SCHEMA_COMMENT AS comment FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [db]);
    expect(schemas).toEqual([
      Schema.fromPartial({ name: db, comment: text(s.comment), usable: true, routines: await routines(), sequences: await sequences(), types: [] }),
    ]);
  });

  /** Routine bodies only when the request asks for them. */
  it('sends no routine body unless asked', async () => {
    const plain = await t.discover({
      dataSource: mysqlSource(server),
      filter: { includeSchemas: [db], excludeSchemas: [], includeTables: ['*.items'], excludeTables: [], includeSystemSchemas: false },
    });
    const routinesSent = plain.flatMap((e) => (e.event?.$case === 'schemas' ? e.event.value.schemas.flatMap((s) => s.routines) : []));
    expect(routinesSent.map((r) => [r.name, r.body])).toEqual([
      ['f_net', ''],
      ['p_adjust', ''],
    ]);
  });

  async function columnsOf(table: string, checks: CheckConstraint[]): Promise<Column[]> {
    const cols = await rows(
      `SELECT COLUMN_NAME AS name, ORDINAL_POSITION AS pos, COLUMN_DEFAULT AS def, IS_NULLABLE AS nullable, DATA_TYPE AS base,
              COLUMN_TYPE AS type, CHARACTER_SET_NAME AS cs, COLLATION_NAME AS coll, EXTRA AS extra, COLUMN_COMMENT AS comment,
              GENERATION_EXPRESSION AS gen
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [db, table],
    );
    // Declared JSON: MariaDB stores it as LONGTEXT with a column check json_valid(`col`) of the column's name.
    const json = new Set(checks.filter((c) => c.expression === `json_valid(${quote(c.name)})`).map((c) => c.name));
    return cols.map((c) => {
      const name = text(c.name);
      const generated = /(VIRTUAL|STORED|PERSISTENT) GENERATED/i.exec(text(c.extra))?.[1]?.toUpperCase();
      const isJson = json.has(name) && c.base === 'longtext';
      const enumValues = c.base === 'enum' || c.base === 'set' ? [...text(c.type).matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1].replace(/''/g, "'")) : [];
      return {
        name,
        ordinal: Number(c.pos),
        dataType: isJson ? 'json' : text(c.type),
        baseType: text(c.base),
        nullable: c.nullable === 'YES',
        defaultValue: c.def === null || c.def === 'NULL' ? '' : text(c.def),
        comment: text(c.comment),
        isArray: false,
        enumValues,
        domain: '',
        generated: generated === undefined ? '' : generated === 'VIRTUAL' ? 'VIRTUAL' : 'STORED',
        generationExpression: generated ? text(c.gen) : '',
        charset: text(c.cs),
        collation: text(c.coll),
        extra: text(c.extra),
        attributeNumber: 0,
        storedType: isJson ? text(c.type) : '',
      };
    });
  }

  async function indexesOf(table: string, createTable: string): Promise<Index[]> {
    const parts = await rows(`SHOW INDEX FROM ${quote(db)}.${quote(table)}`);
    const names = [...new Set(parts.map((p) => text(p.Key_name)))].sort(byBytes);
    return names.map((name) => {
      const ps = parts.filter((p) => p.Key_name === name).sort((a, b) => Number(a.Seq_in_index) - Number(b.Seq_in_index));
      const first = ps[0];
      const unique = Number(first.Non_unique) === 0;
      const type = text(first.Index_type);
      // SHOW CREATE TABLE's line for the key, without what it prints beyond discovery's definition (the comment).
      const line =
        createTable
          .split('\n')
          .map((l) => l.trim().replace(/,$/, ''))
          .find((l) =>
            name === 'PRIMARY' ? l.startsWith('PRIMARY KEY') : /^(?:UNIQUE |FULLTEXT |SPATIAL )?KEY /.test(l) && l.includes(`KEY ${quote(name)} `),
          ) ?? '';
      const shown = line.replace(/ COMMENT '(?:[^']|'')*'/, '');
      // Discovery adds USING for BTREE and HASH (information_schema cannot tell a declared one), before IGNORED.
      const definition = type === 'BTREE' || type === 'HASH' ? shown.replace(/\)( IGNORED)?$/, `) USING ${type}$1`) : shown;
      const orders = ps.map((p) => p.Collation);
      return {
        name,
        columns: ps.map((p) => text(p.Column_name)),
        unique,
        primary: name === 'PRIMARY',
        method: type,
        predicate: '',
        definition,
        prefixLengths: ps.map((p) => (p.Sub_part === null ? 0 : Number(p.Sub_part))),
        invisible: first.Ignored === 'YES',
        includeColumns: [],
        sortOrders: orders.every((o) => o === 'A' || o === 'D') ? orders.map((o) => (o === 'D' ? 'DESC' : 'ASC')) : [],
        nullsOrders: [],
        collations: [],
        operatorClasses: [],
        comment: text(first.Index_comment),
        valid: undefined,
        constraintName: unique ? name : '',
      };
    });
  }

  async function checksOf(table: string): Promise<CheckConstraint[]> {
    const cs = await rows(
      'SELECT CONSTRAINT_NAME AS name, CHECK_CLAUSE AS clause, LEVEL AS level FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?',
      [db, table],
    );
    return cs
      .sort((a, b) => byBytes(text(a.name), text(b.name)))
      .map((c) => ({
        name: text(c.name),
        expression: text(c.clause),
        enforced: true,
        validated: true,
        columns: c.level === 'Column' ? [text(c.name)] : [],
        noInherit: false,
      }));
  }

  async function triggersOf(table: string): Promise<Trigger[]> {
    const ts = await rows(
      `SELECT TRIGGER_NAME AS name, ACTION_TIMING AS timing, EVENT_MANIPULATION AS event, ACTION_ORIENTATION AS level,
              ACTION_ORDER AS ord, ACTION_STATEMENT AS body
       FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?`,
      [db, table],
    );
    const definers = new Map<string, string>();
    for (const x of ts) {
      // the statement as created, with the definer the server filled in: CREATE DEFINER=`u`@`h` TRIGGER
      const [created] = await rows(`SHOW CREATE TRIGGER ${quote(db)}.${quote(text(x.name))}`);
      const m = /^CREATE DEFINER=`((?:[^`]|``)*)`@`((?:[^`]|``)*)`/.exec(text(created['SQL Original Statement']));
      definers.set(text(x.name), m ? `${m[1].replace(/``/g, '`')}@${m[2].replace(/``/g, '`')}` : '');
    }
    return ts
      .sort((a, b) => byBytes(text(a.name), text(b.name)))
      .map((x) => ({
        name: text(x.name),
        timing: text(x.timing),
        events: [text(x.event)],
        level: text(x.level),
        enabled: 'ENABLED',
        functionSchema: '',
        functionName: '',
        condition: '',
        definition: text(x.body),
        actionOrder: Number(x.ord),
        updateColumns: [],
        inherited: false,
        definer: definers.get(text(x.name)) ?? '',
      }));
  }

  async function keysOf(table: string) {
    const fkRows = await rows(
      `SELECT k.CONSTRAINT_NAME AS name, k.COLUMN_NAME AS col, k.REFERENCED_TABLE_SCHEMA AS rs, k.REFERENCED_TABLE_NAME AS rt,
              k.REFERENCED_COLUMN_NAME AS rc, r.UPDATE_RULE AS upd, r.DELETE_RULE AS del
       FROM information_schema.KEY_COLUMN_USAGE k
       JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
       WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ? ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
      [db, table],
    );
    const fks = [...new Set(fkRows.map((f) => text(f.name)))].map((name) => {
      const fs = fkRows.filter((f) => f.name === name);
      return {
        name,
        columns: fs.map((f) => text(f.col)),
        referencedSchema: text(fs[0].rs),
        referencedTable: text(fs[0].rt),
        referencedColumns: fs.map((f) => text(f.rc)),
        onUpdate: text(fs[0].upd),
        onDelete: text(fs[0].del),
      };
    });
    const ps = await rows(
      `SELECT PARTITION_NAME AS name, PARTITION_ORDINAL_POSITION AS ord, PARTITION_METHOD AS m, SUBPARTITION_METHOD AS sm,
              PARTITION_EXPRESSION AS e, SUBPARTITION_EXPRESSION AS se, PARTITION_DESCRIPTION AS d, TABLE_ROWS AS n
       FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND PARTITION_NAME IS NOT NULL`,
      [db, table],
    );
    const partitionNames = [...new Set(ps.map((p) => text(p.name)))];
    const partitions = partitionNames
      .map((name) => {
        const subs = ps.filter((p) => p.name === name);
        const p = subs[0];
        return {
          name,
          method: p.sm ? `${text(p.m)}/${text(p.sm)}` : text(p.m),
          expression: p.se ? `${text(p.e)}/${text(p.se)}` : text(p.e),
          description: text(p.d),
          estimatedRows: subs.reduce((sum, s) => sum + Number(s.n ?? 0), 0),
          ordinal: Number(p.ord),
        };
      })
      .sort((a, b) => a.ordinal - b.ordinal);
    const p = ps.at(0);
    const partitionKey = p ? `${text(p.m)} (${text(p.e)})${p.sm ? ` SUBPARTITION BY ${text(p.sm)} (${text(p.se)})` : ''}` : '';
    return { fks, partitions, partitionKey };
  }

  async function routines(): Promise<Routine[]> {
    const rs = await rows(
      `SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS kind, DTD_IDENTIFIER AS ret, ROUTINE_BODY AS lang, IS_DETERMINISTIC AS det,
              SECURITY_TYPE AS sec, ROUTINE_COMMENT AS comment, DEFINER AS definer, ROUTINE_DEFINITION AS body
       FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?`,
      [db],
    );
    const params = await rows(
      `SELECT SPECIFIC_NAME AS routine, ROUTINE_TYPE AS kind, ORDINAL_POSITION AS pos, PARAMETER_MODE AS mode, PARAMETER_NAME AS name, DTD_IDENTIFIER AS type
       FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = ? AND ORDINAL_POSITION > 0 ORDER BY ORDINAL_POSITION`,
      [db],
    );
    expect(rs.map((r) => text(r.name)).sort()).toEqual(['f_net', 'p_adjust']);
    return rs
      .sort((a, b) => byBytes(text(a.name), text(b.name)))
      .map((r) => ({
        schema: db,
        name: text(r.name),
        kind: text(r.kind),
        arguments: params
          .filter((p) => p.routine === r.name && p.kind === r.kind)
          .map((p) => ({ name: text(p.name), type: text(p.type), mode: text(p.mode) || 'IN', defaultValue: '' })),
        returnType: r.kind === 'FUNCTION' ? text(r.ret) : '',
        language: text(r.lang),
        volatility: '',
        deterministic: r.det === 'YES',
        securityDefiner: r.sec === 'DEFINER',
        comment: text(r.comment),
        body: text(r.body),
        identityArguments: '',
        owner: text(r.definer),
        // MariaDB has no extensions
        extension: '',
        extensionVersion: '',
      }));
  }

  async function sequences(): Promise<Sequence[]> {
    const names = (await rows("SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'SEQUENCE'", [db]))
      .map((r) => text(r.name))
      .sort(byBytes);
    expect(names).toEqual(['seq "ü"', 'seq_orders', 'seq_unused']);
    const out: Sequence[] = [];
    for (const name of names) {
      // CREATE SEQUENCE `n` start with 100 minvalue 100 maxvalue 100000 increment by 5 cache 10 cycle ENGINE=InnoDB COMMENT='...'
      const create = text((await rows(`SHOW CREATE SEQUENCE ${quote(db)}.${quote(name)}`))[0]['Create Table']);
      const word = (re: RegExp) => re.exec(create)?.[1] ?? '';
      const cache = word(/ cache (\d+)/) || (/ nocache/.test(create) ? '0' : '');
      const values = handedOut.get(name) ?? [];
      out.push({
        schema: db,
        name,
        dataType: 'bigint',
        start: word(/ start with (-?\d+)/),
        increment: word(/ increment by (-?\d+)/),
        minValue: word(/ minvalue (-?\d+)/),
        maxValue: word(/ maxvalue (-?\d+)/),
        cycle: / cycle\b/.test(create) && !/ nocycle/.test(create),
        cache,
        ownedByTable: '',
        ownedByColumn: '',
        // The last value handed out, reported only when exact: a sequence without a cache that was used.
        lastValue: cache === '0' && values.length > 0 ? values.at(-1) : undefined,
        lastValueSource: cache === '0' && values.length > 0 ? 'next_not_cached_value' : '',
        ownedBySchema: '',
        identity: false,
        owner: '',
        comment: word(/COMMENT='((?:[^']|'')*)'/).replace(/''/g, "'"),
        extension: '',
        extensionVersion: '',
      });
    }
    return out;
  }
});

/** A MySQL data source for the shared harness server, with an inline password. */
function mysqlSource(server: ServerInfo): DataSource {
  return DataSource.fromPartial({
    id: 'test-mysql-oracle',
    type: 'mysql',
    primary: { host: server.host, port: server.port, database: '' },
    credentials: { username: server.user, password: { source: { $case: 'inlineValue', value: server.password } } },
  });
}
