import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DiscoverDataSourceResponse } from '@sourced/api';
import { RelationKind, type DiscoveryFilter, type Relation } from '@sourced/api';
import { pgSource } from './support/pg';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

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
const byName = (events: DiscoverDataSourceResponse[], qualified: string): Relation => {
  const r = relations(events).find((x) => `${x.schema}.${x.name}` === qualified);
  if (!r) throw new Error(`${qualified} was not discovered`);
  return r;
};

/** Every relation of the fixture the test role may see, in byte order of (schema, name). */
const ALL = [
  'inventory.products',
  'inventory.stock',
  'inventory.supplier_feed',
  'inventory.warehouses',
  'sales.customer_order_totals',
  'sales.customers',
  'sales.daily_revenue',
  'sales.events',
  'sales.events_2024_h1',
  'sales.events_2024_h2',
  'sales.order_lines',
  'sales.orders',
];

describe('PostgreSQL discovery', () => {
  const pg = inject('postgres');
  let t: TestDaemon;
  let full: DiscoverDataSourceResponse[];
  beforeAll(async () => {
    t = await startTestDaemon();
    full = await t.discover({ dataSource: pgSource(pg) });
  });
  afterAll(() => t.stop());

  /** Schemas come first, then relations in deterministic order; a summary closes the stream; sequences have no gaps. */
  it('streams schemas, then every relation in order, then a summary', () => {
    expect(full.map((e) => e.sequence)).toEqual(full.map((_e, i) => i + 1));
    expect(full[0].event?.$case).toBe('schemas');
    const schemas = full[0].event?.$case === 'schemas' ? full[0].event.value.schemas : [];
    expect(schemas.map((s) => [s.name, s.usable])).toEqual([
      ['empty_schema', true],
      ['hidden', false],
      ['inventory', true],
      ['public', true],
      ['sales', true],
    ]);
    expect(schemas.find((s) => s.name === 'sales')?.comment).toBeTruthy();
    expect(full.some((e) => e.event?.$case === 'warning' && e.event.value.code === 'SCHEMA_NOT_USABLE' && e.event.value.message.includes('hidden'))).toBe(true);
    expect(names(full)).toEqual(ALL);
    const last = full.at(-1)?.event;
    expect(last?.$case).toBe('summary');
    if (last?.$case === 'summary') {
      expect(last.value).toMatchObject({ schemas: 5, relations: 12, tables: 10, views: 2, failovers: 0 });
      expect(last.value.columns).toBe(relations(full).reduce((n, r) => n + r.columns.length, 0));
    }
  });

  it('describes columns: identity, domain, arrays, defaults, comments', () => {
    const customers = byName(full, 'sales.customers');
    expect(customers).toMatchObject({ kind: RelationKind.RELATION_KIND_TABLE, estimatedRows: 1000 });
    expect(customers.comment).toBeTruthy();
    const col = (n: string) => customers.columns.find((c) => c.name === n);
    expect(customers.columns.map((c) => c.name)).toEqual([
      'id',
      'email',
      'full_name',
      'country_code',
      'tags',
      'profile',
      'external_id',
      'created_at',
      'is_active',
    ]);
    expect(customers.columns.map((c) => c.ordinal)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(col('id')).toMatchObject({ dataType: 'bigint', nullable: false, generated: 'ALWAYS' });
    expect(col('email')).toMatchObject({ dataType: 'sales.email_address', domain: 'sales.email_address', baseType: 'text', nullable: false });
    expect(col('email')?.comment).toBeTruthy();
    expect(col('full_name')).toMatchObject({ dataType: 'character varying(120)', nullable: false });
    expect(col('tags')).toMatchObject({ dataType: 'text[]', isArray: true, baseType: 'text', defaultValue: "'{}'::text[]" });
    expect(col('created_at')).toMatchObject({ dataType: 'timestamp with time zone', defaultValue: 'now()' });
    expect(col('profile')).toMatchObject({ dataType: 'jsonb', nullable: true });

    const orders = byName(full, 'sales.orders');
    const status = orders.columns.find((c) => c.name === 'status');
    expect(status).toMatchObject({ dataType: 'sales.order_status', enumValues: ['pending', 'paid', 'shipped', 'cancelled'] });
    expect(orders.columns.find((c) => c.name === 'quantities')).toMatchObject({ dataType: 'integer[]', isArray: true, baseType: 'integer' });
    expect(orders.columns.find((c) => c.name === 'total')).toMatchObject({ dataType: 'numeric(10,2)' });
  });

  it('describes keys: primary, unique, foreign (composite, cross-schema, actions)', () => {
    const customers = byName(full, 'sales.customers');
    expect(customers.primaryKey).toEqual({ name: 'customers_pkey', columns: ['id'] });
    expect(customers.uniqueConstraints).toEqual([{ name: 'customers_external_id_key', columns: ['external_id'] }]);
    const warehouses = byName(full, 'inventory.warehouses');
    expect(warehouses.uniqueConstraints).toEqual([
      { name: 'warehouses_code_key', columns: ['code'] },
      { name: 'warehouses_region_city_key', columns: ['region', 'city'] },
    ]);
    const lines = byName(full, 'sales.order_lines');
    expect(lines.primaryKey).toEqual({ name: 'order_lines_pkey', columns: ['order_id', 'line_no'] });
    expect(lines.foreignKeys).toEqual([
      {
        name: 'order_lines_order_id_fkey',
        columns: ['order_id'],
        referencedSchema: 'sales',
        referencedTable: 'orders',
        referencedColumns: ['id'],
        onUpdate: 'NO ACTION',
        onDelete: 'CASCADE',
      },
      {
        name: 'order_lines_stock_fkey',
        columns: ['warehouse_id', 'sku'],
        referencedSchema: 'inventory',
        referencedTable: 'stock',
        referencedColumns: ['warehouse_id', 'sku'],
        onUpdate: 'NO ACTION',
        onDelete: 'NO ACTION',
      },
    ]);
  });

  it('describes indexes: expression, partial, GIN, unique, primary', () => {
    const idx = Object.fromEntries(byName(full, 'sales.customers').indexes.map((i) => [i.name, i]));
    expect(Object.keys(idx).sort()).toEqual([
      'customers_active_created_idx',
      'customers_email_lower_key',
      'customers_external_id_key',
      'customers_pkey',
      'customers_profile_gin',
    ]);
    expect(idx.customers_pkey).toMatchObject({ primary: true, unique: true, method: 'btree', columns: ['id'] });
    expect(idx.customers_email_lower_key).toMatchObject({ unique: true, columns: ['lower(email::text)'] });
    expect(idx.customers_active_created_idx).toMatchObject({ unique: false, columns: ['created_at'], predicate: 'is_active' });
    expect(idx.customers_profile_gin).toMatchObject({ method: 'gin', columns: ['profile'] });
    expect(idx.customers_profile_gin.definition).toContain('USING gin (profile)');
    const orders = byName(full, 'sales.orders').indexes.find((i) => i.name === 'orders_customer_status_idx');
    expect(orders?.columns).toEqual(['customer_id', 'status']);
  });

  it('describes partitions, foreign tables, views and materialized views', () => {
    const events = byName(full, 'sales.events');
    expect(events).toMatchObject({ kind: RelationKind.RELATION_KIND_PARTITIONED_TABLE, partitionKey: 'RANGE (event_date)' });
    const h1 = byName(full, 'sales.events_2024_h1');
    expect(h1).toMatchObject({ kind: RelationKind.RELATION_KIND_TABLE, partitionOf: 'sales.events', estimatedRows: 182 });
    expect(h1.partitionBound).toBe("FOR VALUES FROM ('2024-01-01') TO ('2024-07-01')");
    expect(byName(full, 'inventory.supplier_feed')).toMatchObject({ kind: RelationKind.RELATION_KIND_FOREIGN_TABLE, foreignServer: 'feed_files' });
    const view = byName(full, 'sales.customer_order_totals');
    expect(view.kind).toBe(RelationKind.RELATION_KIND_VIEW);
    expect(view.viewDefinition).toMatch(/SELECT/i);
    expect(view.columns.map((c) => c.name)).toEqual(['customer_id', 'email', 'order_count', 'total_spent']);
    const mv = byName(full, 'sales.daily_revenue');
    expect(mv).toMatchObject({ kind: RelationKind.RELATION_KIND_MATERIALIZED_VIEW, estimatedRows: 126 });
    expect(mv.viewDefinition).toMatch(/SELECT/i);
    expect(mv.comment).toBeTruthy();
  });

  it('filters by schema and relation patterns', async () => {
    const inventory = await t.discover({ dataSource: pgSource(pg), filter: filter({ includeSchemas: ['inv*'] }) });
    expect(names(inventory)).toEqual(ALL.filter((n) => n.startsWith('inventory.')));
    const schemas = inventory[0].event?.$case === 'schemas' ? inventory[0].event.value.schemas.map((s) => s.name) : [];
    expect(schemas).toEqual(['inventory']);

    const noPartitions = await t.discover({ dataSource: pgSource(pg), filter: filter({ excludeTables: ['events_*', 'inventory.s*'] }) });
    expect(names(noPartitions)).toEqual(ALL.filter((n) => !n.startsWith('sales.events_') && !n.startsWith('inventory.s')));

    const onlyOrders = await t.discover({ dataSource: pgSource(pg), filter: filter({ includeTables: ['sales.order*'], excludeSchemas: ['inventory'] }) });
    expect(names(onlyOrders)).toEqual(['sales.order_lines', 'sales.orders']);
  });

  /** A discovery stopped by its entity limit says so, and its last cursor resumes the rest. */
  it('stops at max_entities, says so, and resumes from the last cursor', async () => {
    const first = await t.discover({ dataSource: pgSource(pg), batchSize: 2, maxEntities: 5 });
    expect(names(first)).toEqual(ALL.slice(0, 5));
    const summary = first.at(-1)?.event;
    expect(summary).toMatchObject({ $case: 'summary', value: { relations: 5, stoppedEarly: true, stopReason: 'MAX_ENTITIES' } });
    const batches = first.flatMap((e) => (e.event?.$case === 'batch' ? [e.event.value] : []));
    const rest = await t.discover({ dataSource: pgSource(pg), resumeAfter: batches.at(-1)?.cursor ?? '' });
    expect([...names(first), ...names(rest)]).toEqual(ALL);
    expect(rest.at(-1)?.event).toMatchObject({ $case: 'summary', value: { stoppedEarly: false, stopReason: '' } });
  });

  /** A discovery stopped by its time limit says so and still ends with a summary. */
  it('stops at max_duration_ms and says so', async () => {
    const events = await t.discover({ dataSource: pgSource(pg), batchSize: 1, maxDurationMs: 1 });
    expect(names(events).length).toBeLessThan(ALL.length);
    expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { stoppedEarly: true, stopReason: 'MAX_DURATION' } });
  });
});
