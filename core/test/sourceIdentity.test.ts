import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import {
  LocationAwareConnector,
  normalizeDataSource,
  noopLogger,
  SourceIdentityError,
  type CatalogEntity,
  type ConnectionArgs,
  type ConnectorDefinition,
  type DataSource,
  type SchemaEntity,
  type SourceIdentity,
  type ValidationPlan,
} from '../src';

/**
 * The base connector's identity check, with connections that are plain objects: each one
 * answers as the identity its endpoint is scripted to give at that moment. The real drivers'
 * side (what PostgreSQL and MariaDB report) is covered by test/sourceIdentity.test.ts.
 */
interface FakeConn {
  port: number;
  identity: SourceIdentity;
}

class ScriptedConnector extends LocationAwareConnector<FakeConn> {
  /** What a new session to each port answers as; change it to move a name to another server. */
  answers = new Map<number, SourceIdentity>();
  opened: number[] = [];
  closedConns: FakeConn[] = [];

  protected override openConnection(args: ConnectionArgs): Promise<FakeConn> {
    const identity = this.answers.get(args.port);
    if (!identity) return Promise.reject(Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${args.port}`), { code: 'ECONNREFUSED' }));
    this.opened.push(args.port);
    return Promise.resolve({ port: args.port, identity: { ...identity } });
  }
  protected override closeConnection(conn: FakeConn): Promise<void> {
    this.closedConns.push(conn);
    return Promise.resolve();
  }
  protected override identifySession(conn: FakeConn): Promise<SourceIdentity | undefined> {
    return Promise.resolve(conn.identity);
  }
  protected override querySchemas(): Promise<SchemaEntity[]> {
    return Promise.resolve([]);
  }
  protected override queryRelations(): Promise<CatalogEntity[]> {
    return Promise.resolve([]);
  }
  override validationPlan(): ValidationPlan<unknown> {
    throw new Error('not used');
  }
  override isConnectionError(error: unknown): boolean {
    return (error as { code?: string }).code === 'ECONNREFUSED';
  }
}

const definition: ConnectorDefinition = {
  type: 'scripted',
  displayName: 'Scripted',
  defaultPort: 1,
  capabilities: ['discover'],
  create: () => {
    throw new Error('not used');
  },
};

function connectorFor(input: object): ScriptedConnector {
  const source: DataSource = normalizeDataSource(input as never, { resolve: (t) => (t === 'scripted' ? t : undefined), known: () => ['scripted'] });
  return new ScriptedConnector(definition, source, {
    secrets: { resolve: () => Promise.reject(new Error('no secrets here')) },
    logger: noopLogger,
    tracer: trace.getTracer('test'),
    applicationName: 'sourced-test',
  });
}

const server = (database: string, serverId: string, serverPort = 5432): SourceIdentity => ({ database, user: 'reader', serverPort, serverId });
const hybrid = {
  type: 'scripted',
  location: 'HYBRID',
  primary: { host: '127.0.0.1', port: 1001, database: 'app' },
  secondary: { host: '127.0.0.1', port: 1002, database: 'app' },
  credentials: { username: 'reader' },
};
const signal = new AbortController().signal;

describe('the identity check of every session', () => {
  /** A session connected to another database than the endpoint names is refused and closed, and the call does not fall back to the secondary. */
  it('refuses a primary connected to another database, without starting on the secondary', async () => {
    const c = connectorFor(hybrid);
    c.answers.set(1001, server('postgres', 'A'));
    c.answers.set(1002, server('app', 'B'));
    const error = await c.initialize(signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SourceIdentityError);
    expect((error as SourceIdentityError).reason).toBe('SOURCE_IDENTITY_MISMATCH');
    expect((error as Error).message).toContain('connected to database "postgres", not "app"');
    expect(c.opened).toEqual([1001]);
    expect(c.closedConns.map((x) => x.port)).toEqual([1001]);
  });

  /** A later session to the same endpoint that answers as another server is refused; the first identity stays the one reported. */
  it('refuses a reconnect that reaches another server, and keeps reporting the first', async () => {
    const c = connectorFor({ ...hybrid, location: 'ON_PREM', secondary: undefined });
    c.answers.set(1001, server('app', 'A', 5432));
    await c.initialize(signal);
    c.answers.set(1001, server('app', 'C', 5433));
    const error = await c.reconnect(signal).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(SourceIdentityError);
    expect(error?.message).toContain("server port 5433 where the call's first session had 5432");
    expect(error?.message).toContain('server id "C" where the call\'s first session had "A"');
    expect(c.identity('PRIMARY')).toMatchObject({ serverId: 'A' });
    await c.close();
  });

  /** The same server restarted (a new start time, a new version) is still the same source. */
  it('accepts the same server after a restart', async () => {
    const c = connectorFor({ ...hybrid, location: 'ON_PREM', secondary: undefined });
    c.answers.set(1001, { ...server('app', 'A'), startedAt: '2026-12-07T10:00:00.000Z', serverVersion: '15.1' });
    await c.initialize(signal);
    c.answers.set(1001, { ...server('app', 'A'), startedAt: '2026-12-07T11:00:00.000Z', serverVersion: '15.2' });
    await c.reconnect(signal);
    expect(c.identity('PRIMARY')).toMatchObject({ startedAt: '2026-12-07T11:00:00.000Z', serverVersion: '15.2' });
    await c.close();
  });

  /** A standby that answered as B at the start and as C at the failover is refused at the failover. */
  it('refuses a failover to a secondary that became another server', async () => {
    const c = connectorFor(hybrid);
    c.answers.set(1001, server('app', 'A'));
    c.answers.set(1002, server('app', 'B'));
    await c.initialize(signal);
    c.answers.set(1002, server('app', 'C'));
    await c.reconnect(signal); // the primary again: fine
    await c.failover('test', signal); // the standby opened at the start: still B
    expect(c.activeRole).toBe('SECONDARY');
    const error = await c.reconnect(signal).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(SourceIdentityError);
    expect(error?.message).toContain('the secondary endpoint 127.0.0.1:1002');
    await c.close();
  });
});
