import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import {
  ConnectionBudget,
  DiscoveryEngine,
  EMPTY_FILTER,
  LocationAwareConnector,
  PreviewEngine,
  type CompiledFilter,
  type ConnectionArgs,
  type ConnectorDefinition,
  type RelationEntity,
  type RelationPage,
  type SchemaEntity,
  type ValidationPlan,
} from '../src';
import { collect, fakeContext, FakeConnectionLost, FakeServer, hybridSource, tables, type FakeConnection } from './fakeConnector';

/**
 * A plugin written against SDK 1.2: a subclass of the deprecated base class with only the
 * discovery hooks. It must keep working as before, now on core's services.
 */
class LegacyConnector extends LocationAwareConnector<FakeConnection> {
  /** Extra connections each page was given. */
  readonly parallelSeen: number[] = [];
  constructor(
    definition: ConnectorDefinition,
    source: ConstructorParameters<typeof LocationAwareConnector<FakeConnection>>[1],
    context: ConstructorParameters<typeof LocationAwareConnector<FakeConnection>>[2],
    private readonly servers: Map<string, FakeServer>,
  ) {
    super(definition, source, context);
  }
  protected async openConnection(args: ConnectionArgs): Promise<FakeConnection> {
    const server = this.servers.get(args.host);
    if (!server?.up) throw new FakeConnectionLost(`connect ECONNREFUSED ${args.host}`);
    const conn = { server, args, closed: false };
    server.opened.push(conn);
    return conn;
  }
  protected async closeConnection(conn: FakeConnection): Promise<void> {
    conn.closed = true;
  }
  protected querySchemas(conn: FakeConnection, filter: CompiledFilter): Promise<SchemaEntity[]> {
    const names = [...new Set(conn.server.tables.map((t) => t.schema))].filter((s) => filter.schemaMatches(s)).sort();
    return Promise.resolve(names.map((name) => ({ name, usable: true })));
  }
  protected async queryRelations(
    conn: FakeConnection,
    page: RelationPage,
    _signal: AbortSignal,
    parallel: readonly FakeConnection[],
  ): Promise<RelationEntity[]> {
    this.parallelSeen.push(parallel.length);
    if (!conn.server.up) throw new FakeConnectionLost(`${conn.server.host} went away`);
    conn.server.pageReads.push(page.after ? `${page.after.schema}.${page.after.name}` : '');
    return conn.server.tables
      .map(
        (t) =>
          ({
            entity: 'relation',
            schema: t.schema,
            name: t.name,
            kind: 'TABLE',
            columns: [],
            uniqueConstraints: [],
            foreignKeys: [],
            indexes: [],
            estimatedRows: 1,
          }) as unknown as RelationEntity,
      )
      .sort((a, b) => (a.schema === b.schema ? (a.name < b.name ? -1 : 1) : a.schema < b.schema ? -1 : 1))
      .filter((r) => !page.after || r.schema > page.after.schema || (r.schema === page.after.schema && r.name > page.after.name))
      .slice(0, page.limit);
  }
  validationPlan(): ValidationPlan<unknown> {
    return { createState: () => ({}), checks: [], cleanup: async () => undefined };
  }
  isConnectionError(error: unknown): boolean {
    return error instanceof FakeConnectionLost;
  }
}

const definition: ConnectorDefinition = {
  type: 'legacy',
  displayName: 'Legacy',
  defaultPort: 7000,
  capabilities: ['validate', 'discover'],
  create: () => undefined as never,
};

describe('LocationAwareConnector (deprecated) on core services', () => {
  /** A HYBRID run through the old hooks: parallel readers within the budget, failover mid-run with nothing lost or twice, every connection and slot given back. */
  it('still discovers, fails over and keeps the budget', async () => {
    const servers = new Map([
      ['primary', new FakeServer('primary', tables(10))],
      ['secondary', new FakeServer('secondary', tables(10))],
    ]);
    const budget = new ConnectionBudget(2);
    const connector = new LegacyConnector(definition, hybridSource(), fakeContext({ connectionBudget: budget }), servers);
    const primary = servers.get('primary')!;
    let pages = 0;
    const original = connector.listRelations.bind(connector);
    connector.listRelations = async (page, signal) => {
      if (pages++ === 1) primary.up = false;
      return original(page, signal);
    };
    const events = await collect(
      new DiscoveryEngine(trace.getTracer('test')).run(
        connector,
        { filter: EMPTY_FILTER, strategy: 'AGGRESSIVE', batchSize: 4, resumeAfter: '' },
        new AbortController().signal,
      ),
    );
    const sent = events.flatMap((e) => (e.kind === 'batch' ? e.entities.map((x) => `${x.schema}.${x.name}`) : []));
    expect(sent).toEqual(
      tables(10)
        .map((t) => `${t.schema}.${t.name}`)
        .sort(),
    );
    expect(events.filter((e) => e.kind === 'failover')).toHaveLength(1);
    // AGGRESSIVE asks for several readers; the budget of 2 per endpoint leaves one extra
    expect(Math.max(...connector.parallelSeen)).toBe(1);
    expect(budget.totalInUse()).toBe(0);
    expect(primary.openConnections + servers.get('secondary')!.openConnections).toBe(0);
  });

  /** A subclass without preview hooks: the preview is refused PREVIEW_NOT_SUPPORTED, as before. */
  it('refuses a preview it has no hooks for', async () => {
    const servers = new Map([['primary', new FakeServer('primary', tables(1))]]);
    const connector = new LegacyConnector(definition, hybridSource(), fakeContext(), servers);
    await expect(
      collect(
        new PreviewEngine(trace.getTracer('test')).run(
          connector,
          { table: { schema: 's0', name: 't000' }, columns: [], limit: 1, strategy: 'BALANCED' },
          new AbortController().signal,
        ),
      ),
    ).rejects.toMatchObject({ reason: 'PREVIEW_NOT_SUPPORTED' });
    await connector.close();
  });
});
