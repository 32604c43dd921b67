import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  ProfileMode,
  type DataSource,
  type DiscoverDataSourceResponse,
  type DiscoveryFilter,
  type PreviewTableRequest,
  type ProfileTableRequest,
} from '@sourced/api';
import { collect, expectFailure, richStatusOf, type TestDaemon } from '../support/testDaemon';

const filter = (f: Partial<DiscoveryFilter> = {}): DiscoveryFilter => ({
  includeSchemas: [],
  excludeSchemas: [],
  includeTables: [],
  excludeTables: [],
  includeSystemSchemas: false,
  ...f,
});
const schemaNames = (events: DiscoverDataSourceResponse[]) =>
  events.flatMap((e) => (e.event?.$case === 'schemas' ? e.event.value.schemas.map((s) => s.name) : []));
const entityNames = (events: DiscoverDataSourceResponse[]) =>
  events.flatMap((e) =>
    e.event?.$case === 'batch'
      ? [...e.event.value.relations.map((r) => `${r.schema}.${r.name}`), ...e.event.value.collections.map((c) => `${c.database}.${c.name}`)]
      : [],
  );

/**
 * What one engine's scope cases need, set up for the suite: data sources for an account on a
 * shared server, and the server's own answers (queried by the test as the same account) for
 * what that account can see.
 */
export interface ScopeAccount {
  source(database: string): DataSource;
  /** A database the account can read, which a data source names. */
  named: string;
  /** A table or collection in the named database. */
  inside: { schema: string; name: string };
  /** A table or collection the account can read in another database. */
  outside: { schema: string; name: string };
  /** The tables, views and collections the account sees in `databases`, `schema.name`, in the order discovery streams them (the server's answer). */
  entitiesIn(databases: string[]): Promise<string[]>;
  /** The databases the account may list, but the server's own, in byte order (the server's answer). */
  visibleDatabases(): Promise<string[]>;
  /** Whether the account itself can read the outside table (so only the scope keeps it out). */
  canReadOutside(): Promise<boolean>;
  close(): Promise<void>;
}

export interface ScopeEngine {
  /** Shown in the suite's name. */
  label: string;
  /** Sets up the suite's account on the engine's shared server. */
  account(): Promise<ScopeAccount>;
}

/**
 * Registers the data source scope cases every connector shares for one engine (call inside a
 * describe): one that names a database is discovered, previewed and profiled as that database
 * only; one that names none covers every database the account can see but the server's own.
 */
export function scopeBehaviour(engine: ScopeEngine, daemon: () => TestDaemon): void {
  let t: TestDaemon;
  let a: ScopeAccount;
  beforeAll(async () => {
    t = daemon();
    a = await engine.account();
  });
  afterAll(() => a?.close());

  /** A data source naming a database discovers it and nothing else, whatever the filter asks (system schemas included). */
  it('discovers only the database a data source names', async () => {
    const expected = await a.entitiesIn([a.named]);
    expect(expected.length).toBeGreaterThan(0);
    for (const f of [filter(), filter({ includeSystemSchemas: true }), filter({ includeSchemas: ['*'] })]) {
      const events = await t.discover({ dataSource: a.source(a.named), filter: f });
      expect(schemaNames(events)).toEqual([a.named]);
      expect(entityNames(events)).toEqual(expected);
      const last = events.at(-1)?.event;
      expect(last?.$case === 'summary' ? last.value.relations + last.value.collections : -1).toBe(expected.length);
    }
  });

  /** With no database named: every database the account may list, as the server lists them to it, except the server's own. */
  it('discovers every database the account can see but the system ones when none is named', async () => {
    const expected = await a.visibleDatabases();
    expect(expected.length).toBeGreaterThan(1);
    const events = await t.discover({ dataSource: a.source('') });
    expect(schemaNames(events)).toEqual(expected);
    expect(entityNames(events)).toEqual(await a.entitiesIn(expected));
  });

  /** A preview or profile of a table in another database is NOT_FOUND, with a stable reason and a hint; through a data source naming its database, or none, it is read. */
  it('refuses to preview or profile a table outside the named database', async () => {
    expect(await a.canReadOutside()).toBe(true);
    const inside = await collect(
      t.dataSources.previewTable({ dataSource: a.source(a.named), table: a.inside, columns: [], limit: 2, strategy: 0 }, new Metadata()),
    );
    expect(inside.at(-1)?.event?.$case).toBe('summary');
    const preview = (database: string): PreviewTableRequest => ({ dataSource: a.source(database), table: a.outside, columns: [], limit: 2, strategy: 0 });
    const profile = (database: string): ProfileTableRequest => ({
      dataSource: a.source(database),
      table: a.outside,
      columns: [],
      mode: ProfileMode.PROFILE_MODE_STATISTICS,
      sampleRows: 0,
      mostCommonLimit: 0,
      histogramBuckets: 0,
      strategy: 0,
    });
    for (const call of [
      () => collect(t.dataSources.previewTable(preview(a.named), new Metadata())),
      () => collect(t.dataSources.profileTable(profile(a.named), new Metadata())),
    ]) {
      const error = await expectFailure(call());
      expect(error.code).toBe(5);
      const status = richStatusOf(error);
      expect(status.errorInfo?.reason).toBe('TABLE_OUT_OF_SCOPE');
      expect(status.errorInfo?.metadata).toMatchObject({ database: a.named, field: 'table.schema' });
      expect(status.errorInfo?.metadata.hint).toMatch(/data_source\.primary\.database/);
      expect(error.details).toContain(`database "${a.named}"`);
    }
    for (const database of [a.outside.schema, '']) {
      expect((await collect(t.dataSources.previewTable(preview(database), new Metadata()))).at(-1)?.event?.$case).toBe('summary');
      expect((await collect(t.dataSources.profileTable(profile(database), new Metadata()))).at(-1)?.event?.$case).toBe('summary');
    }
  });
}
