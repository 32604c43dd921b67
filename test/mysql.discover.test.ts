/**
 * MySQL discovery (MariaDB) on a server of the file's own loaded with the catalog fixture:
 * relations, columns, keys, filters and cancellation.
 *
 * Why one file (~460 lines): every case reads the whole catalog of that one server (loaded and discovered once in the
 * set-up); a second file would start and load a second server. The cases every connector shares are in connectors.discover.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, noopLogger, type ConnectionArgs } from '@sourced/core';
import { DataSource } from '@sourced/api';
import type { DiscoverDataSourceResponse } from '@sourced/api';
import { RelationKind, type DiscoveryFilter, type Relation } from '@sourced/api';
import { connectSession } from '../plugins/mysql/src/connect';
import { endConnection, query } from '../plugins/mysql/src/query';
import { resolve } from 'node:path';
import { rootQuery, startMariadb, type MariadbInstance } from './harness/mariadb';
import { registerSecret } from './support/secretScan';
import type { ServerInfo } from './support/globalSetup';
import { eventually } from './support/pg';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

// What every connector's discovery shares (batches of 2 with cursors, resuming after a cursor, the
// trace, freeing connections on cancel) runs in connectors.discover.test.ts.

const filter = (f: Partial<DiscoveryFilter>): DiscoveryFilter => ({
  includeSchemas: [],
  excludeSchemas: [],
  includeTables: [],
  excludeTables: [],
  includeSystemSchemas: false,
  ...f,
});
const relations = (events: DiscoverDataSourceResponse[]): Relation[] => events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.relations : []));
const names = (events: DiscoverDataSourceResponse[]) => relations(events).map((r) => `${r.schema}.${r.name}`);
const schemaNames = (events: DiscoverDataSourceResponse[]) => (events[0]?.event?.$case === 'schemas' ? events[0].event.value.schemas.map((s) => s.name) : []);
const byName = (events: DiscoverDataSourceResponse[], qualified: string): Relation => {
  const r = relations(events).find((x) => `${x.schema}.${x.name}` === qualified);
  if (!r) throw new Error(`${qualified} was not discovered`);
  return r;
};

/** A MySQL data source for a harness server, with an inline password. */
function mysqlSource(server: ServerInfo, user = server.user, password = server.password): DataSource {
  return DataSource.fromPartial({
    id: 'test-mysql',
    type: 'mysql',
    primary: { host: server.host, port: server.port, database: '' },
    credentials: { username: user, password: { source: { $case: 'inlineValue', value: password } } },
  });
}

/** A relation without its times (they change with every run) and without empty or false fields (but `nullable`). */
function shape(r: Relation): Record<string, unknown> {
  const strip = (o: object): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(o).filter(
        ([k, v]) =>
          v !== undefined && v !== '' && !(v === false && k !== 'nullable') && !(v === 0 && k === 'attributeNumber') && !(Array.isArray(v) && v.length === 0),
      ),
    );
  const { createdAt: _c, updatedAt: _u, createdTime: _ct, updatedTime: _ut, columns, indexes, ...rest } = r;
  return {
    ...strip(rest),
    columns: columns.map(strip),
    indexes: indexes.map(strip),
  };
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** Every relation of the fixture the test account may see, in byte order of (schema, name). */
const ALL = [
  'shop.audit_log',
  'shop.customer_order_totals',
  'shop.customers',
  'shop.order_lines',
  'shop.orders',
  'shop.products',
  'shop.sales_by_year',
  'warehouse.locations',
  'warehouse.sessions',
  'warehouse.stock',
  'warehouse.warehouses',
];

describe('MySQL discovery (MariaDB)', () => {
  // A server of the suite's own with the discovery fixture: these tests read the whole
  // catalog, and other files create databases on the shared server while they run.
  let db: MariadbInstance;
  let t: TestDaemon;
  let full: DiscoverDataSourceResponse[];
  beforeAll(async () => {
    [db, t] = await Promise.all([startMariadb(), startTestDaemon({ plugins: ['@sourced/plugin-mysql'] })]);
    registerSecret('MySQL discovery server password', db.password);
    registerSecret('MySQL discovery server root password', db.superuserPassword);
    await db.sqlFile(resolve(__dirname, 'fixtures/mysql/catalog.sql'));
    full = await t.discover({ dataSource: mysqlSource(db) });
  });
  afterAll(async () => {
    await t?.stop();
    await db?.destroy();
  });

  /** Databases come first as schemas (usable or not), then every relation in byte order, then a summary; sequences have no gaps. */
  it('streams databases, then every relation in order, then a summary', () => {
    expect(full.map((e) => e.sequence)).toEqual(full.map((_e, i) => i + 1));
    const first = full[0].event;
    expect(first?.$case).toBe('schemas');
    const schemas = first?.$case === 'schemas' ? first.value.schemas : [];
    expect(schemas.map((s) => [s.name, s.usable, s.comment])).toEqual([
      ['shop', true, 'The web shop'],
      ['sourced_test', true, ''],
      ['vault', false, ''],
      ['warehouse', true, ''],
    ]);
    expect(full.some((e) => e.event?.$case === 'warning' && e.event.value.code === 'SCHEMA_NOT_USABLE' && e.event.value.message.includes('vault'))).toBe(true);
    expect(names(full)).toEqual(ALL);
    const last = full.at(-1)?.event;
    expect(last?.$case).toBe('summary');
    if (last?.$case === 'summary') {
      expect(last.value).toMatchObject({ schemas: 4, relations: 11, tables: 10, views: 1, failovers: 0 });
      expect(last.value.columns).toBe(relations(full).reduce((n, r) => n + r.columns.length, 0));
    }
  });

  /** A table travels whole: engine, collation, estimate, times, comment, every column attribute, keys and indexes. */
  it('describes shop.customers entity by entity', () => {
    const customers = byName(full, 'shop.customers');
    expect(customers.createdAt).toMatch(RFC3339);
    expect(customers.createdTime?.seconds).toBe(Date.parse(customers.createdAt) / 1000);
    expect(shape(customers)).toEqual({
      schema: 'shop',
      name: 'customers',
      kind: RelationKind.RELATION_KIND_TABLE,
      comment: 'People who buy things',
      engine: 'InnoDB',
      collation: 'utf8mb4_unicode_ci',
      estimatedRows: 20,
      // The next value as information_schema.TABLES says: InnoDB reserved 1..31 for the fixture's INSERT ... SELECT of 20 rows.
      autoIncrement: '32',
      // The JSON alias's column check.
      checkConstraints: [{ name: 'profile', expression: 'json_valid(`profile`)', enforced: true, validated: true, columns: ['profile'], noInherit: false }],
      primaryKey: { name: 'PRIMARY', columns: ['id'] },
      uniqueConstraints: [{ name: 'uq_customers_email', columns: ['email'] }],
      columns: [
        { name: 'id', ordinal: 1, dataType: 'int(10) unsigned', baseType: 'int', nullable: false, comment: 'Surrogate key', extra: 'auto_increment' },
        {
          name: 'email',
          ordinal: 2,
          dataType: 'varchar(191)',
          baseType: 'varchar',
          nullable: false,
          comment: 'Login and contact address',
          charset: 'utf8mb4',
          collation: 'utf8mb4_unicode_ci',
        },
        { name: 'full_name', ordinal: 3, dataType: 'varchar(120)', baseType: 'varchar', nullable: false, charset: 'latin1', collation: 'latin1_swedish_ci' },
        {
          name: 'country_code',
          ordinal: 4,
          dataType: 'char(2)',
          baseType: 'char',
          nullable: false,
          defaultValue: "'NL'",
          charset: 'utf8mb4',
          collation: 'utf8mb4_unicode_ci',
        },
        {
          name: 'status',
          ordinal: 5,
          dataType: "enum('active','suspended','it''s complicated')",
          baseType: 'enum',
          nullable: false,
          defaultValue: "'active'",
          enumValues: ['active', 'suspended', "it's complicated"],
          charset: 'utf8mb4',
          collation: 'utf8mb4_unicode_ci',
        },
        {
          name: 'tags',
          ordinal: 6,
          dataType: "set('vip','newsletter','b2b')",
          baseType: 'set',
          nullable: true,
          enumValues: ['vip', 'newsletter', 'b2b'],
          charset: 'utf8mb4',
          collation: 'utf8mb4_unicode_ci',
        },
        // MariaDB's JSON is LONGTEXT with a json_valid check: reported as declared (json) and as stored (longtext)
        {
          name: 'profile',
          ordinal: 7,
          dataType: 'json',
          baseType: 'longtext',
          storedType: 'longtext',
          nullable: true,
          charset: 'utf8mb4',
          collation: 'utf8mb4_bin',
        },
        { name: 'balance', ordinal: 8, dataType: 'decimal(10,2)', baseType: 'decimal', nullable: false, defaultValue: '0.00' },
        { name: 'created_at', ordinal: 9, dataType: 'datetime', baseType: 'datetime', nullable: false, defaultValue: 'current_timestamp()' },
        {
          name: 'updated_at',
          ordinal: 10,
          dataType: 'timestamp',
          baseType: 'timestamp',
          nullable: false,
          defaultValue: 'current_timestamp()',
          extra: 'on update current_timestamp()',
        },
        {
          name: 'email_domain',
          ordinal: 11,
          dataType: 'varchar(191)',
          baseType: 'varchar',
          nullable: true,
          generated: 'VIRTUAL',
          generationExpression: "substring_index(`email`,'@',-1)",
          charset: 'utf8mb4',
          collation: 'utf8mb4_unicode_ci',
          extra: 'VIRTUAL GENERATED',
        },
      ],
      indexes: [
        {
          name: 'PRIMARY',
          columns: ['id'],
          unique: true,
          primary: true,
          method: 'BTREE',
          definition: 'PRIMARY KEY (`id`) USING BTREE',
          prefixLengths: [0],
          sortOrders: ['ASC'],
          constraintName: 'PRIMARY',
        },
        {
          name: 'idx_customers_country_created',
          columns: ['country_code', 'created_at'],
          method: 'BTREE',
          definition: 'KEY `idx_customers_country_created` (`country_code`,`created_at` DESC) USING BTREE',
          prefixLengths: [0, 0],
          sortOrders: ['ASC', 'DESC'],
        },
        {
          name: 'idx_customers_domain',
          columns: ['email_domain'],
          method: 'BTREE',
          definition: 'KEY `idx_customers_domain` (`email_domain`) USING BTREE IGNORED',
          prefixLengths: [0],
          sortOrders: ['ASC'],
          invisible: true,
        },
        {
          name: 'idx_customers_name',
          columns: ['full_name'],
          method: 'BTREE',
          definition: 'KEY `idx_customers_name` (`full_name`(20)) USING BTREE',
          prefixLengths: [20],
          sortOrders: ['ASC'],
        },
        {
          name: 'uq_customers_email',
          columns: ['email'],
          unique: true,
          method: 'BTREE',
          definition: 'UNIQUE KEY `uq_customers_email` (`email`) USING BTREE',
          prefixLengths: [0],
          sortOrders: ['ASC'],
          constraintName: 'uq_customers_email',
        },
      ],
    });
  });

  /** Primary keys (composite), unique constraints (composite) and foreign keys (composite, cross-database, with their actions). */
  it('describes keys', () => {
    const lines = byName(full, 'shop.order_lines');
    expect(lines.primaryKey).toEqual({ name: 'PRIMARY', columns: ['order_id', 'line_no'] });
    expect(lines.foreignKeys).toEqual([
      {
        name: 'fk_lines_order',
        columns: ['order_id'],
        referencedSchema: 'shop',
        referencedTable: 'orders',
        referencedColumns: ['id'],
        onUpdate: 'RESTRICT',
        onDelete: 'CASCADE',
      },
      {
        name: 'fk_lines_stock',
        columns: ['warehouse_id', 'sku'],
        referencedSchema: 'warehouse',
        referencedTable: 'stock',
        referencedColumns: ['warehouse_id', 'sku'],
        onUpdate: 'RESTRICT',
        onDelete: 'RESTRICT',
      },
    ]);
    expect(lines.columns.find((c) => c.name === 'line_total')).toMatchObject({
      dataType: 'decimal(12,2)',
      generated: 'STORED',
      generationExpression: '`quantity` * `unit_price`',
      extra: 'STORED GENERATED',
    });
    expect(byName(full, 'shop.orders').foreignKeys).toEqual([
      {
        name: 'fk_orders_customer',
        columns: ['customer_id'],
        referencedSchema: 'shop',
        referencedTable: 'customers',
        referencedColumns: ['id'],
        onUpdate: 'RESTRICT',
        onDelete: 'CASCADE',
      },
    ]);
    const warehouses = byName(full, 'warehouse.warehouses');
    expect(warehouses.uniqueConstraints).toEqual([
      { name: 'uq_warehouses_code', columns: ['code'] },
      { name: 'uq_warehouses_region_city', columns: ['region', 'city'] },
    ]);
    // The account has only SELECT on warehouse: MariaDB then hides the actions of its foreign
    // keys (REFERENTIAL_CONSTRAINTS); the key itself is still reported.
    expect(byName(full, 'warehouse.stock').foreignKeys).toEqual([
      {
        name: 'fk_stock_warehouse',
        columns: ['warehouse_id'],
        referencedSchema: 'warehouse',
        referencedTable: 'warehouses',
        referencedColumns: ['id'],
        onUpdate: '',
        onDelete: '',
      },
    ]);
  });

  /** FULLTEXT, SPATIAL and HASH indexes keep their method and definition; a SPATIAL key's length is the server's SUB_PART (32, the bounding box), which its definition does not print. */
  it('describes FULLTEXT, SPATIAL and HASH indexes', () => {
    const index = (relation: string, name: string) => byName(full, relation).indexes.find((i) => i.name === name);
    expect(index('shop.products', 'ft_products_text')).toMatchObject({
      columns: ['name', 'description'],
      method: 'FULLTEXT',
      unique: false,
      definition: 'FULLTEXT KEY `ft_products_text` (`name`,`description`)',
      prefixLengths: [0, 0],
    });
    expect(index('warehouse.locations', 'sp_locations_position')).toMatchObject({
      columns: ['position'],
      method: 'SPATIAL',
      definition: 'SPATIAL KEY `sp_locations_position` (`position`)',
      prefixLengths: [32],
    });
    expect(index('warehouse.sessions', 'idx_sessions_token')).toMatchObject({ method: 'HASH', definition: 'KEY `idx_sessions_token` (`token`) USING HASH' });
    expect(byName(full, 'warehouse.locations').columns.find((c) => c.name === 'position')).toMatchObject({ dataType: 'point', nullable: false });
  });

  /** Engines, row estimates and times per table; partitions in order with their bounds and estimates; a view with its definition and definer. */
  it('describes engines, partitions and views', () => {
    const facts = (q: string) => {
      const r = byName(full, q);
      return [r.kind, r.engine, r.estimatedRows, RFC3339.test(r.createdAt), RFC3339.test(r.updatedAt)];
    };
    expect(facts('shop.audit_log')).toEqual([RelationKind.RELATION_KIND_TABLE, 'MyISAM', 4, true, true]);
    expect(facts('warehouse.sessions')).toEqual([RelationKind.RELATION_KIND_TABLE, 'MEMORY', 2, true, false]);
    expect(facts('shop.products')).toEqual([RelationKind.RELATION_KIND_TABLE, 'InnoDB', 10, true, true]);

    const sales = byName(full, 'shop.sales_by_year');
    expect(sales).toMatchObject({
      kind: RelationKind.RELATION_KIND_PARTITIONED_TABLE,
      partitionKey: 'RANGE (year(`sold_on`))',
      estimatedRows: 15,
      engine: 'InnoDB',
    });
    expect(sales.partitions).toEqual([
      { name: 'p2023', method: 'RANGE', expression: 'year(`sold_on`)', description: '2024', estimatedRows: 5, ordinal: 1 },
      { name: 'p2024', method: 'RANGE', expression: 'year(`sold_on`)', description: '2025', estimatedRows: 7, ordinal: 2 },
      { name: 'pmax', method: 'RANGE', expression: 'year(`sold_on`)', description: 'MAXVALUE', estimatedRows: 3, ordinal: 3 },
    ]);

    const view = byName(full, 'shop.customer_order_totals');
    expect(view).toMatchObject({ kind: RelationKind.RELATION_KIND_VIEW, estimatedRows: -1, owner: 'root@localhost', engine: '', comment: '', createdAt: '' });
    expect(view.viewDefinition).toMatch(/^select `c`\.`id` AS `customer_id`.* from \(`shop`\.`customers` `c` left join `shop`\.`orders` `o`/);
    expect(view.columns.map((c) => c.name)).toEqual(['customer_id', 'email', 'order_count', 'total_spent']);
  });

  /** Schema and relation globs are pushed down, case-sensitively; system databases only on request. */
  it('filters by database and relation patterns', async () => {
    const warehouse = await t.discover({ dataSource: mysqlSource(db), filter: filter({ includeSchemas: ['ware*'] }) });
    expect(names(warehouse)).toEqual(ALL.filter((n) => n.startsWith('warehouse.')));
    expect(schemaNames(warehouse)).toEqual(['warehouse']);

    const fewer = await t.discover({ dataSource: mysqlSource(db), filter: filter({ excludeTables: ['customer*', 'warehouse.s*'] }) });
    expect(names(fewer)).toEqual(ALL.filter((n) => !n.startsWith('shop.customer') && !n.startsWith('warehouse.s')));

    const orders = await t.discover({ dataSource: mysqlSource(db), filter: filter({ includeTables: ['shop.order*'], excludeSchemas: ['warehouse'] }) });
    expect(names(orders)).toEqual(['shop.order_lines', 'shop.orders']);

    const one = await t.discover({ dataSource: mysqlSource(db), filter: filter({ includeTables: ['order?'] }) });
    expect(names(one)).toEqual(['shop.orders']);

    const upper = await t.discover({ dataSource: mysqlSource(db), filter: filter({ includeSchemas: ['SHOP'] }) });
    expect([schemaNames(upper), names(upper)]).toEqual([[], []]);

    const system = await t.discover({
      dataSource: mysqlSource(db),
      filter: filter({ includeSystemSchemas: true, includeSchemas: ['information_schema'], includeTables: ['TABLES'] }),
    });
    expect(schemaNames(system)).toEqual(['information_schema']);
    expect(names(system)).toEqual(['information_schema.TABLES']);
    expect(byName(system, 'information_schema.TABLES').kind).toBe(RelationKind.RELATION_KIND_VIEW);
  });

  /**
   * Pages read one database at a time, from a list of SCHEMATA; SCHEMATA leaves out
   * performance_schema for an account without a privilege there, while information_schema.TABLES
   * lists the tables of it everyone may read: asked for, discovery sends exactly those.
   */
  it("sends the server's own tables the account sees when the filter includes them", async () => {
    const user = 'sourced_system_tables';
    const password = `pw-${randomBytes(8).toString('hex')}`;
    registerSecret('the system-tables account password', password);
    await rootQuery(db, `CREATE USER '${user}'@'%' IDENTIFIED BY ?`, [password]);
    try {
      await rootQuery(db, `GRANT SELECT ON warehouse.* TO '${user}'@'%'`);
      const args: ConnectionArgs = {
        role: 'PRIMARY',
        host: db.host,
        port: db.port,
        user,
        password: { reveal: () => password } as ConnectionArgs['password'],
        applicationName: 'sourced-test',
        keepAlive: false,
        connectTimeoutMs: 5000,
        credentialSources: {},
        credentialTimings: {},
      };
      const signal = new AbortController().signal;
      const conn = await connectSession(args, signal, noopLogger);
      let visible: string[];
      let listed: string[];
      try {
        const tables = await query<{ name: string }>(
          conn,
          "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'performance_schema'",
          [],
          signal,
        );
        visible = tables.map((r) => `performance_schema.${r.name}`).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
        listed = (await query<{ name: string }>(conn, 'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA', [], signal)).map((r) => r.name);
      } finally {
        await endConnection(conn);
      }
      expect(visible.length).toBeGreaterThan(0);
      expect(listed).not.toContain('performance_schema');
      const perf = await t.discover({
        dataSource: mysqlSource(db, user, password),
        filter: filter({ includeSystemSchemas: true, includeSchemas: ['performance_schema', 'ware*'] }),
      });
      expect(names(perf)).toEqual([...visible, ...ALL.filter((n) => n.startsWith('warehouse.'))]);
    } finally {
      await rootQuery(db, `DROP USER '${user}'@'%'`);
    }
  });

  /** A data source without a user name is bad input naming the field, not a failed login. */
  it('rejects a data source without a user name', async () => {
    const status = richStatusOf(await expectFailure(t.discover({ dataSource: mysqlSource(db, '') })));
    expect(status.grpcCode).toBe(3);
    expect(status.badRequest).toEqual([{ field: 'data_source.credentials.username', description: 'is required for MySQL' }]);
  });

  describe('cancellation', () => {
    // An account of its own, so that the other suites' sessions never count.
    const user = 'sourced_cancel';
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const sessions = () => rootQuery<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?', [user]);
    beforeAll(async () => {
      await rootQuery(db, "CREATE USER 'sourced_cancel'@'%' IDENTIFIED BY ?", [password]);
      await rootQuery(db, "GRANT SELECT, SHOW VIEW ON shop.* TO 'sourced_cancel'@'%'");
      await rootQuery(db, "GRANT SELECT ON warehouse.* TO 'sourced_cancel'@'%'");
    });

    /** A statement running when the call is cancelled is stopped on the server (KILL QUERY), and its connection is closed. */
    it('kills the running statement on cancel', async () => {
      const args: ConnectionArgs = {
        role: 'PRIMARY',
        host: db.host,
        port: db.port,
        user,
        password: { reveal: () => password } as ConnectionArgs['password'],
        applicationName: 'sourced-test',
        keepAlive: false,
        connectTimeoutMs: 5000,
        credentialSources: {},
        credentialTimings: {},
      };
      const controller = new AbortController();
      const conn = await connectSession(args, controller.signal, noopLogger);
      try {
        const running = query(conn, 'SELECT SLEEP(20) AS slept', [], controller.signal);
        await eventually(
          () => rootQuery<{ n: number }>(db, "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ? AND INFO LIKE 'SELECT SLEEP%'", [user]),
          (rows) => Number(rows[0].n) === 1,
        );
        const kills = async () => Number((await rootQuery<{ Value: string }>(db, "SHOW GLOBAL STATUS LIKE 'Com_kill'"))[0].Value);
        const killsBefore = await kills();
        const started = Date.now();
        controller.abort();
        await expect(running).rejects.toBeInstanceOf(AbortedError);
        expect(Date.now() - started).toBeLessThan(3000);
        expect(await kills()).toBeGreaterThan(killsBefore);
        const open = await eventually(sessions, (rows) => Number(rows[0].n) === 0);
        expect(Number(open[0].n)).toBe(0);
      } finally {
        await endConnection(conn);
      }
    });
  });
});
