import { readdirSync, readlinkSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckStatus, expectFailure, PluginState, richStatusOf, startTestDaemon, type TestDaemon } from '@sourced/plugin-sdk/testing';
import { createFixture, EXPECTED_RELATIONS, METRIC_TABLES, type Fixture } from './fixture';
import { checksOf, PLUGIN, relationsOf, sqliteSource, type Relation } from './helpers';

/** Descriptors this process (the daemon runs in it) holds open on a file or its -wal/-shm companions. */
function openDescriptors(file: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(file);
    } catch {
      return false;
    }
  }).length;
}

/** gRPC status codes used below. */
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const CANCELLED = 1;

describe('sourced-plugin-sqlite, loaded by the daemon from its path', () => {
  let fx: Fixture;
  let t: TestDaemon;

  beforeAll(async () => {
    fx = createFixture();
    t = await startTestDaemon({ plugins: [PLUGIN], config: { pluginSettings: { sqlite: { root: fx.root } } } });
  });
  afterAll(async () => {
    await t?.stop();
    if (fx) rmSync(dirname(fx.root), { recursive: true, force: true });
  });

  it('is listed as loaded, with its connector and SDK range', async () => {
    const plugin = (await t.listPlugins()).find((p) => p.id === 'sqlite');
    expect(plugin).toMatchObject({
      state: PluginState.PLUGIN_STATE_LOADED,
      version: '1.0.0',
      connectors: ['sqlite'],
      capabilities: ['validate', 'discover', 'preview', 'profile'],
      sdkRange: '^1.0.0',
      module: PLUGIN,
    });
  });

  describe('validation', () => {
    it('passes every check of a good file, and reports what it found', async () => {
      const events = await t.validate({ dataSource: sqliteSource('shop.db') });
      const checks = checksOf(events);
      expect(checks.map((c) => [c.checkId, CheckStatus[c.status]])).toEqual([
        ['file', 'CHECK_STATUS_PASSED'],
        ['open', 'CHECK_STATUS_PASSED'],
        ['sqlite-version', 'CHECK_STATUS_PASSED'],
        ['journal-mode', 'CHECK_STATUS_PASSED'],
        ['quick-check', 'CHECK_STATUS_PASSED'],
        ['metadata-read', 'CHECK_STATUS_PASSED'],
      ]);
      const byId = Object.fromEntries(checks.map((c) => [c.checkId, c]));
      expect(byId['journal-mode'].details).toMatchObject({ journal_mode: 'wal' });
      expect(byId['sqlite-version'].details.version).toMatch(/^3\.\d+\.\d+$/);
      expect(byId.open.details).toMatchObject({ encoding: 'UTF-8' });
      // 5 shop tables + 24 metrics + "Order Notes" + the fts5 table and its 5 shadow tables (ANALYZE's sqlite_stat1 is internal).
      expect(byId['metadata-read'].details).toMatchObject({ tables: String(5 + 24 + 1 + 1 + 5), views: '3' });
      const last = events.at(-1)?.event;
      expect(last?.$case === 'summary' && last.value).toMatchObject({ ok: true, connector: 'sqlite', endpoints: 1 });
    });

    it('fails at the file check, with a hint, when the file does not exist', async () => {
      const checks = checksOf(await t.validate({ dataSource: sqliteSource('nope/missing.db') }));
      expect(checks[0]).toMatchObject({ checkId: 'file', status: CheckStatus.CHECK_STATUS_FAILED, message: 'no database file at "nope/missing.db"' });
      expect(checks[0].hint).toContain('relative to the folder the sqlite plugin serves');
      expect(checks.slice(1).every((c) => c.status === CheckStatus.CHECK_STATUS_SKIPPED)).toBe(true);
    });

    it('fails at the open check when the file is not a SQLite database', async () => {
      const checks = checksOf(await t.validate({ dataSource: sqliteSource('notes.txt') }));
      expect(checks.map((c) => [c.checkId, CheckStatus[c.status]]).slice(0, 2)).toEqual([
        ['file', 'CHECK_STATUS_PASSED'],
        ['open', 'CHECK_STATUS_FAILED'],
      ]);
      expect(checks[1]).toMatchObject({ message: '"notes.txt" is not a SQLite database', details: { reason: 'SQLITE_NOT_A_DATABASE' } });
      expect(checks[1].hint).toContain('SQLite format 3');
    });

    it('warns that an empty database holds nothing to discover', async () => {
      const checks = checksOf(await t.validate({ dataSource: sqliteSource('empty.db') }));
      expect(checks.find((c) => c.checkId === 'metadata-read')).toMatchObject({ status: CheckStatus.CHECK_STATUS_WARNING });
    });
  });

  describe('paths', () => {
    const refused = async (database: string) => {
      const error = await expectFailure(t.discover({ dataSource: sqliteSource(database) }));
      expect(error.code).toBe(INVALID_ARGUMENT);
      const status = richStatusOf(error);
      expect(status.badRequest?.map((v) => v.field)).toEqual(['data_source.primary.database']);
      return status;
    };

    it('refuses a path that climbs out of the root with ..', async () => {
      const status = await refused('../outside/secret.db');
      expect(status.errorInfo?.reason).toBe('SQLITE_PATH_OUTSIDE_ROOT');
      expect(status.badRequest?.[0].description).toContain('outside the folder the sqlite plugin may read');
      // The caller learns nothing of the operator's folder layout.
      expect(status.message).not.toContain(fx.root);
    });

    it('refuses an absolute path elsewhere, even in validation', async () => {
      await refused(join(fx.outside, 'secret.db'));
      const error = await expectFailure(t.validate({ dataSource: sqliteSource(join(fx.outside, 'secret.db')) }));
      expect(richStatusOf(error).badRequest?.[0].field).toBe('data_source.primary.database');
    });

    it('refuses a symbolic link to a file outside the root, and a path through a linked folder', async () => {
      expect((await refused('link-out.db')).badRequest?.[0].description).toContain('leads through a symbolic link out of the folder');
      expect((await refused('dir-out/secret.db')).badRequest?.[0].description).toContain('leads through a symbolic link out of the folder');
      expect((await refused('dir-out/missing.db')).errorInfo?.reason).toBe('SQLITE_PATH_OUTSIDE_ROOT');
    });

    it('accepts an absolute path inside the root, a subfolder, and a link that stays inside', async () => {
      for (const database of [join(fx.root, 'sub', 'inner.db'), 'sub/inner.db', 'sub/../sub/inner.db']) {
        const names = relationsOf(await t.discover({ dataSource: sqliteSource(database) })).map((r) => r.name);
        expect(names).toEqual(['t']);
      }
      expect(relationsOf(await t.discover({ dataSource: sqliteSource('link-in.db') }))).toHaveLength(EXPECTED_RELATIONS.length);
    });

    it('ends a discovery of a missing file with NOT_FOUND and a stable reason', async () => {
      const error = await expectFailure(t.discover({ dataSource: sqliteSource('missing.db') }));
      expect(error.code).toBe(NOT_FOUND);
      expect(richStatusOf(error).errorInfo?.reason).toBe('SQLITE_FILE_NOT_FOUND');
    });
  });

  describe('discovery', () => {
    let relations: Relation[];
    let byName: Map<string, Relation>;
    beforeAll(async () => {
      const events = await t.discover({ dataSource: sqliteSource('shop.db'), batchSize: 7 });
      relations = relationsOf(events);
      byName = new Map(relations.map((r) => [r.name, r]));
    });

    it('reports the schema main, then every relation in (schema, name) byte order, without internals', async () => {
      const events = await t.discover({ dataSource: sqliteSource('shop.db') });
      const first = events[0].event;
      expect(first?.$case === 'schemas' && first.value.schemas.map((s) => s.name)).toEqual(['main']);
      expect(relations.map((r) => `${r.schema}.${r.name}`)).toEqual(EXPECTED_RELATIONS.map((n) => `main.${n}`));
      // The same whatever the batch size.
      expect(relationsOf(events)).toEqual(relations);
      const summary = events.at(-1)?.event;
      expect(summary?.$case === 'summary' && summary.value).toMatchObject({ schemas: 1, relations: EXPECTED_RELATIONS.length, views: 3 });
      const batches = events.flatMap((e) => (e.event?.$case === 'batch' ? [e.event.value] : []));
      expect(batches[0].progress?.total).toBe(EXPECTED_RELATIONS.length);
    });

    it('reads columns with their declared types, affinities, nullability and defaults', () => {
      const customers = byName.get('customers')!;
      expect(customers.kind).toBe(1); // RELATION_KIND_TABLE
      expect(customers.columns.map((c) => [c.ordinal, c.name, c.dataType, c.baseType, c.nullable, c.defaultValue, c.extra])).toEqual([
        [1, 'id', 'INTEGER', 'INTEGER', false, '', 'rowid autoincrement'],
        [2, 'email', 'TEXT', 'TEXT', false, '', ''],
        [3, 'name', 'VARCHAR(120)', 'TEXT', false, '', ''],
        [4, 'created_at', 'TEXT', 'TEXT', false, 'CURRENT_TIMESTAMP', ''],
      ]);
      const products = byName.get('products')!;
      expect(products.columns.map((c) => [c.name, c.dataType, c.baseType, c.nullable])).toEqual([
        ['sku', 'TEXT', 'TEXT', false], // WITHOUT ROWID: primary key columns are NOT NULL
        ['title', 'VARCHAR(200)', 'TEXT', false],
        ['price', 'NUMERIC(10, 2)', 'NUMERIC', false],
        ['weight_kg', 'REAL', 'REAL', true],
        ['picture', 'BLOB', 'BLOB', true],
      ]);
      const notes = byName.get('Order Notes')!;
      expect(notes.columns.map((c) => [c.name, c.dataType, c.baseType])).toEqual([
        ['order_id', 'INTEGER', 'INTEGER'],
        ['note', 'ANY', 'BLOB'],
      ]);
      expect(byName.get('order_items')!.columns.find((c) => c.name === 'amount')).toMatchObject({ generated: 'VIRTUAL', dataType: 'NUMERIC' });
      expect(byName.get('addresses')!.columns.find((c) => c.name === 'country')).toMatchObject({ dataType: 'CHAR(2)', defaultValue: "'DE'" });
    });

    it('reads primary keys, unique constraints and foreign keys (declaration order, implicit parent keys resolved)', () => {
      expect(byName.get('customers')!.primaryKey).toEqual({ name: 'PRIMARY', columns: ['id'] });
      expect(byName.get('customers')!.uniqueConstraints).toEqual([{ name: 'sqlite_autoindex_customers_1', columns: ['email'] }]);
      expect(byName.get('order_items')!.primaryKey).toEqual({ name: 'PRIMARY', columns: ['order_id', 'line'] });
      expect(byName.get('order_items')!.foreignKeys).toEqual([
        { name: 'order_items_order_id_fkey', columns: ['order_id'], referencedSchema: 'main', referencedTable: 'orders', referencedColumns: ['id'], onUpdate: 'NO ACTION', onDelete: 'CASCADE' },
        { name: 'order_items_sku_fkey', columns: ['sku'], referencedSchema: 'main', referencedTable: 'products', referencedColumns: ['sku'], onUpdate: 'CASCADE', onDelete: 'NO ACTION' },
      ]);
      // REFERENCES Customers: no column list, another spelling: the parent's primary key, by its own name.
      expect(byName.get('orders')!.foreignKeys).toEqual([
        { name: 'orders_customer_id_fkey', columns: ['customer_id'], referencedSchema: 'main', referencedTable: 'customers', referencedColumns: ['id'], onUpdate: 'NO ACTION', onDelete: 'NO ACTION' },
      ]);
      expect(byName.get('Order Notes')!.foreignKeys[0]).toMatchObject({ referencedTable: 'orders', referencedColumns: ['id'] });
      expect(byName.get('v_customer_orders')!.primaryKey).toBeUndefined();
    });

    it('reads indexes: partial, on expressions, descending, and those behind constraints', () => {
      // The contract's index fields this connector fills (later contract fields keep their defaults).
      expect(byName.get('orders')!.indexes).toMatchObject([
        {
          name: 'idx_orders_customer_placed',
          columns: ['customer_id', 'placed_at'],
          unique: false,
          primary: false,
          method: 'btree',
          predicate: '',
          definition: 'CREATE INDEX idx_orders_customer_placed ON orders (customer_id, placed_at DESC)',
          prefixLengths: [],
          invisible: false,
        },
        {
          name: 'idx_orders_open',
          columns: ['status'],
          unique: false,
          primary: false,
          method: 'btree',
          predicate: "status <> 'done'",
          definition: "CREATE INDEX idx_orders_open ON orders (status) WHERE status <> 'done'",
          prefixLengths: [],
          invisible: false,
        },
      ]);
      const customers = byName.get('customers')!.indexes;
      expect(customers.map((i) => [i.name, i.columns, i.unique, i.definition])).toEqual([
        ['idx_customers_email_lower', ['lower(email)'], false, 'CREATE INDEX idx_customers_email_lower ON customers (lower(email))'],
        ['sqlite_autoindex_customers_1', ['email'], true, 'UNIQUE (email)'],
      ]);
      expect(byName.get('addresses')!.indexes.map((i) => [i.name, i.columns, i.unique])).toEqual([['idx_addresses_customer_line', ['customer_id', 'line1'], true]]);
      expect(byName.get('products')!.indexes.map((i) => [i.name, i.primary, i.definition])).toEqual([['sqlite_autoindex_products_1', true, 'PRIMARY KEY (sku)']]);
    });

    it('reads views with their SELECT and columns; a broken view comes without columns', () => {
      const view = byName.get('v_customer_orders')!;
      expect(view.kind).toBe(4); // RELATION_KIND_VIEW
      expect(view.viewDefinition).toBe('SELECT c.id AS customer_id, c.email, o.id AS order_id, o.total\n      FROM customers c JOIN orders o ON o.customer_id = c.id');
      expect(view.columns.map((c) => [c.name, c.dataType])).toEqual([
        ['customer_id', 'INTEGER'],
        ['email', 'TEXT'],
        ['order_id', 'INTEGER'],
        ['total', 'NUMERIC'],
      ]);
      expect(view.estimatedRows).toBe(-1);
      expect(byName.get('v_open_orders')!.viewDefinition).toBe("SELECT id, status FROM orders WHERE status <> 'done'");
      expect(byName.get('v_open_orders')!.columns.map((c) => c.name)).toEqual(['id', 'status']);
      const broken = byName.get('v_broken')!;
      expect(broken).toMatchObject({ kind: 4, viewDefinition: 'SELECT x FROM scratch', columns: [] });
      expect(t.logs.some((l) => l.includes('main.v_broken') && l.includes('no such table'))).toBe(true);
    });

    it('reports a virtual table with its module, without hidden columns or shadow tables', () => {
      const fts = byName.get('product_search')!;
      expect(fts).toMatchObject({ kind: 1, engine: 'fts5' });
      expect(fts.columns.map((c) => [c.ordinal, c.name])).toEqual([
        [1, 'title'],
        [2, 'description'],
      ]);
      expect(relations.some((r) => r.name.startsWith('product_search_'))).toBe(false);
    });

    it('estimates rows from ANALYZE statistics where there are some', () => {
      expect(byName.get('customers')!.estimatedRows).toBe(50);
      expect(byName.get('orders')!.estimatedRows).toBe(50);
      // ANALYZE writes no row for a table without indexes or rows.
      expect(byName.get('metrics_01')!.estimatedRows).toBe(-1);
    });

    it('applies include and exclude patterns, and counts what passes', async () => {
      const events = await t.discover({
        dataSource: sqliteSource('shop.db'),
        filter: { includeSchemas: [], excludeSchemas: [], includeTables: ['metrics_*', 'main.order*', 'v_*'], excludeTables: ['metrics_1?', 'v_broken'], includeSystemSchemas: false },
      });
      expect(relationsOf(events).map((r) => r.name)).toEqual([
        ...METRIC_TABLES.filter((n) => !/^metrics_1\d$/.test(n)),
        'order_items',
        'orders',
        'v_customer_orders',
        'v_open_orders',
      ]);
      const batch = events.find((e) => e.event?.$case === 'batch')?.event;
      expect(batch?.$case === 'batch' && batch.value.progress?.total).toBe(18);
      const none = await t.discover({ dataSource: sqliteSource('shop.db'), filter: { includeSchemas: ['other'], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false } });
      expect(relationsOf(none)).toEqual([]);
    });

    it('resumes after a cursor with exactly the rest', async () => {
      const events = await t.discover({ dataSource: sqliteSource('shop.db'), batchSize: 10, maxEntities: 10 });
      const batch = events.find((e) => e.event?.$case === 'batch')?.event;
      const cursor = batch?.$case === 'batch' ? batch.value.cursor : '';
      expect(relationsOf(events).map((r) => r.name)).toEqual(EXPECTED_RELATIONS.slice(0, 10));
      const rest = await t.discover({ dataSource: sqliteSource('shop.db'), batchSize: 10, resumeAfter: cursor });
      expect(relationsOf(rest).map((r) => r.name)).toEqual(EXPECTED_RELATIONS.slice(10));
    });

    it('stops when the caller cancels, and closes the file', async () => {
      const stream = t.discoverStream({ dataSource: sqliteSource('shop.db'), batchSize: 1 });
      const error = await new Promise<{ code?: number }>((resolve) => {
        stream.once('data', () => stream.cancel());
        stream.on('error', resolve);
        stream.on('end', () => resolve({}));
      });
      expect(error.code).toBe(CANCELLED);
      // The connector closed the database: the daemon holds no descriptor on the file any more.
      const deadline = Date.now() + 5000;
      while (openDescriptors(join(fx.root, 'shop.db')) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(openDescriptors(join(fx.root, 'shop.db'))).toBe(0);
    });
  });
});

describe('sourced-plugin-sqlite settings', () => {
  it.each([
    [undefined, 'pluginSettings.sqlite.root is required'],
    [{ root: 'relative/folder' }, 'pluginSettings.sqlite.root must be an absolute path'],
    [{ root: '/no/such/folder/anywhere' }, 'does not exist'],
    [{ root: __filename }, 'is not a folder'],
    [{ root: '/tmp', rot: 1 }, 'unknown settings: rot'],
  ])('refuses to load with %j', async (settings, message) => {
    const t = await startTestDaemon({ plugins: [PLUGIN], config: { pluginSettings: settings === undefined ? {} : { sqlite: settings } } });
    try {
      const plugin = (await t.listPlugins()).find((p) => p.module === PLUGIN);
      expect(plugin?.state).toBe(PluginState.PLUGIN_STATE_FAILED);
      expect(plugin?.loadError).toContain(message);
    } finally {
      await t.stop();
    }
  });
});
