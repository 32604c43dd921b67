import { trace, type Meter } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import {
  ConnectionBudget,
  CredentialResolver,
  EndpointPool,
  endpointOf,
  noopLogger,
  SourceIdentityError,
  UnavailableError,
  type DataSource,
  type SourceIdentity,
} from '../src';
import { fakeContext, fakeSource, FakeConnectionLost, FakeServer, hybridSource, type FakeConnection } from './fakeConnector';

const signal = () => new AbortController().signal;

/** A pool over fake servers `primary` and `secondary` (the driver part only: open, close, identify). */
function pool(source: DataSource, options: { budget?: ConnectionBudget; identify?: (conn: FakeConnection) => SourceIdentity | undefined; meter?: Meter } = {}) {
  const servers = new Map([
    ['primary', new FakeServer('primary', [])],
    ['secondary', new FakeServer('secondary', [])],
  ]);
  const context = fakeContext({ connectionBudget: options.budget, meter: options.meter });
  const credentials = new CredentialResolver(source, 'fake', context);
  const endpoint = (role: 'PRIMARY' | 'SECONDARY') => endpointOf(source, role, 7000);
  const p = new EndpointPool<FakeConnection>({
    type: 'fake',
    source,
    context: { ...context, logger: noopLogger, tracer: trace.getTracer('test') },
    endpoint,
    connectionArgs: (role, s, session) => credentials.connectionArgs(role, endpoint(role), s, session),
    driver: {
      async open(args) {
        const server = servers.get(args.host)!;
        await server.holdOpens;
        if (!server.up) throw new FakeConnectionLost(`connect ECONNREFUSED ${args.host}`);
        const conn = { server, args, closed: false };
        server.opened.push(conn);
        return conn;
      },
      async close(conn) {
        conn.closed = true;
      },
      identify: options.identify ? async (conn) => options.identify!(conn) : undefined,
    },
  });
  return { pool: p, primary: servers.get('primary')!, secondary: servers.get('secondary')! };
}

describe('EndpointPool', () => {
  /** HYBRID opens the primary and keeps the secondary open; failover swaps them and closes the broken connection. */
  it('fails over from the active to the standby', async () => {
    const { pool: p, primary, secondary } = pool(hybridSource());
    await p.initialize(signal(), { statementTimeoutMs: 1234 });
    expect(p.activeRole).toBe('PRIMARY');
    expect(p.connection().server).toBe(primary);
    expect(p.connection().args.statementTimeoutMs).toBe(1234);
    expect(secondary.openConnections).toBe(1);
    expect(p.canFailover()).toBe(true);
    primary.up = false;
    expect(await p.failover('primary went away', signal())).toBe('SECONDARY');
    expect(p.connection().server).toBe(secondary);
    await new Promise((r) => setImmediate(r)); // the broken connection closes in the background
    expect(primary.openConnections).toBe(0);
    await p.close();
    expect(secondary.openConnections).toBe(0);
  });

  /** A primary down at the start: the run starts on the secondary and says why; both down is ALL_ENDPOINTS_UNAVAILABLE naming each. */
  it('starts on the secondary when the primary is down', async () => {
    const a = pool(hybridSource());
    a.primary.up = false;
    await a.pool.initialize(signal());
    expect(a.pool.activeRole).toBe('SECONDARY');
    expect(a.pool.startedOnSecondary).toBe(true);
    expect(a.pool.startProblem('PRIMARY')).toContain('ECONNREFUSED primary');
    const b = pool(hybridSource());
    b.primary.up = false;
    b.secondary.up = false;
    await expect(b.pool.initialize(signal())).rejects.toMatchObject({
      reason: 'ALL_ENDPOINTS_UNAVAILABLE',
      message: expect.stringMatching(/primary: .*secondary: /),
    });
  });

  /** A standby down at the start is reported and opened at failover once it is back; one still down fails the failover. */
  it('opens a standby that was down at failover', async () => {
    const { pool: p, secondary } = pool(hybridSource());
    secondary.up = false;
    await p.initialize(signal());
    expect(p.startProblem('SECONDARY')).toContain('ECONNREFUSED secondary');
    expect(p.startProblem('PRIMARY')).toBeUndefined();
    await expect(p.failover('lost', signal())).rejects.toBeInstanceOf(FakeConnectionLost);
    secondary.up = true;
    expect(await p.failover('lost again', signal())).toBe('PRIMARY'); // the earlier swap stands: back to the primary
    expect(await p.failover('and back', signal())).toBe('SECONDARY');
    expect(p.connection().server).toBe(secondary);
    expect(p.startProblem('SECONDARY')).toBeUndefined();
    await p.close();
  });

  /** ON_PREM has nothing to fail over to: NO_FAILOVER_ENDPOINT. reconnect() replaces the active connection with a new one to the same endpoint. */
  it('reconnects, and refuses a failover without a standby', async () => {
    const { pool: p, primary } = pool(fakeSource());
    await p.initialize(signal());
    expect(p.canFailover()).toBe(false);
    await expect(p.failover('lost', signal())).rejects.toMatchObject({ reason: 'NO_FAILOVER_ENDPOINT' });
    const first = p.connection();
    await p.reconnect(signal());
    expect(first.closed).toBe(true);
    expect(p.connection()).not.toBe(first);
    expect(primary.opened).toHaveLength(2);
    await p.close();
    await p.close(); // safe twice
    expect(primary.openConnections).toBe(0);
  });

  /** Reads that start at once share the extra connections: asked twice together, the pool opens them once. */
  it('opens the extra connections once for reads that ask at the same time', async () => {
    const { pool: p, primary } = pool(fakeSource());
    await p.initialize(signal());
    const [a, b] = await Promise.all([p.readers(2, signal()), p.readers(2, signal())]);
    expect(b).toEqual(a);
    expect(a).toHaveLength(2);
    expect(primary.opened).toHaveLength(3);
    expect(primary.openConnections).toBe(3);
    await p.close();
    expect(primary.openConnections).toBe(0);
  });

  /**
   * A read that started before a failover does not get the new endpoint's connections to go
   * with the old one's: CONNECTION_LOST, and extra connections opened for it across the switch
   * are closed, not kept for the endpoint left.
   */
  it("refuses a read's extra connections across a failover", async () => {
    const { pool: p, primary, secondary } = pool(hybridSource());
    await p.initialize(signal());
    const before = p.generation;
    await p.failover('primary went away', signal());
    expect(p.generation).not.toBe(before);
    await expect(p.readers(1, signal(), before)).rejects.toMatchObject({ reason: 'CONNECTION_LOST' });
    // Asked without the generation (or with the current one), the new endpoint's connections.
    const extra = await p.readers(1, signal(), p.generation);
    expect(extra[0]?.server).toBe(secondary);
    // Opening (slowly) while the endpoint changes: the connections opened are closed, none kept.
    let connected!: () => void;
    secondary.holdOpens = new Promise((resolve) => (connected = resolve));
    const opening = p.readers(3, signal());
    await new Promise((r) => setImmediate(r));
    await p.failover('secondary went away', signal());
    expect(p.activeRole).toBe('PRIMARY');
    connected();
    expect(await opening).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(secondary.opened).toHaveLength(4); // the standby, the first extra and the two opened across the switch ...
    expect(secondary.openConnections).toBe(0); // ... all closed with the endpoint left
    expect(primary.openConnections).toBe(1); // the active connection only
    await p.close();
    expect(primary.openConnections + secondary.openConnections).toBe(0);
  });

  /** The stall probe opens and closes a connection without taking a slot of the budget; a frozen endpoint rejects it. */
  it('probes outside the connection budget', async () => {
    const budget = new ConnectionBudget(1);
    const { pool: p, primary } = pool(fakeSource(), { budget });
    await p.initialize(signal());
    const key = ConnectionBudget.key('fake', 'primary', 7000);
    expect(budget.inUse(key)).toBe(1);
    await p.probe('PRIMARY', signal());
    expect(primary.opened).toHaveLength(2);
    expect(primary.openConnections).toBe(1);
    expect(budget.inUse(key)).toBe(1);
    primary.up = false;
    await expect(p.probe('PRIMARY', signal())).rejects.toBeInstanceOf(FakeConnectionLost);
    await p.close();
    expect(budget.inUse(key)).toBe(0);
  });

  /** Extra readers come from free slots only; the standby is not opened when its limit is reached (and says so); every slot comes back at close. */
  it('keeps within the connection budget', async () => {
    const budget = new ConnectionBudget(2);
    const { pool: p, primary } = pool(fakeSource(), { budget });
    await p.initialize(signal());
    expect((await p.readers(3, signal())).length).toBe(1);
    expect(primary.openConnections).toBe(2);
    expect((await p.readers(0, signal())).length).toBe(0);
    expect(primary.openConnections).toBe(1);
    await p.close();
    expect(budget.totalInUse()).toBe(0);

    // both endpoints in one budget key space; the secondary's slot is taken by someone else
    const shared = new ConnectionBudget(1);
    const other = shared.tryAcquire(ConnectionBudget.key('fake', 'secondary', 7000))!;
    const h = pool(hybridSource(), { budget: shared });
    await h.pool.initialize(signal());
    expect(h.secondary.opened).toHaveLength(0);
    expect(h.pool.startProblem('SECONDARY')).toContain('sources.maxConnectionsPerEndpoint');
    other();
    await h.pool.close();
    expect(shared.totalInUse()).toBe(0);
  });

  /** A session connected to another database than the endpoint names, or answering as another server later, is refused and closed. */
  it('refuses a session that is not the source', async () => {
    let serverId = 'a';
    const identify = (conn: FakeConnection) => ({ database: conn.args.database ?? '', user: 'u', serverId });
    const { pool: p, primary } = pool(fakeSource({ primary: { host: 'primary', database: 'app' } }), { identify });
    await p.initialize(signal());
    expect(p.identity('PRIMARY')).toMatchObject({ database: 'app', serverId: 'a' });
    serverId = 'b';
    await expect(p.reconnect(signal())).rejects.toBeInstanceOf(SourceIdentityError);
    expect(primary.openConnections).toBe(0);

    const wrong = pool(fakeSource({ primary: { host: 'primary', database: 'app' } }), { identify: () => ({ database: 'postgres', user: 'u' }) });
    await expect(wrong.pool.initialize(signal())).rejects.toThrow('connected to database "postgres", not "app"');
    expect(wrong.primary.openConnections).toBe(0);
  });

  /** A connection that finishes opening after close() is closed at once and the open fails CONNECTOR_CLOSED; before initialize there is no connection. */
  it('does not let a connection outlive the pool', async () => {
    const { pool: p, primary } = pool(fakeSource());
    expect(() => p.connection()).toThrow(UnavailableError);
    const opening = p.initialize(signal());
    await p.close();
    await expect(opening).rejects.toMatchObject({ reason: 'CONNECTOR_CLOSED' });
    expect(primary.openConnections).toBe(0);
  });

  /** sourced.source.connections counts each open connection by db.system and the endpoint's host, up at open and down at close, failover and reconnect included. */
  it('counts the connections it holds open', async () => {
    class Reader extends MetricReader {
      protected onForceFlush = () => Promise.resolve();
      protected onShutdown = () => Promise.resolve();
    }
    const reader = new Reader();
    const meter = new MeterProvider({ readers: [reader] }).getMeter('sourced');
    const open = async () => {
      const { resourceMetrics } = await reader.collect();
      const metric = resourceMetrics.scopeMetrics.flatMap((m) => m.metrics).find((m) => m.descriptor.name === 'sourced.source.connections');
      return Object.fromEntries(
        (metric?.dataPoints ?? []).map((p) => [`${String(p.attributes['db.system'])} ${String(p.attributes['server.address'])}`, p.value]),
      );
    };
    const { pool: p, primary } = pool(hybridSource(), { meter });
    await p.initialize(signal());
    expect(await open()).toEqual({ 'fake primary': 1, 'fake secondary': 1 });
    await p.readers(2, signal());
    expect(await open()).toEqual({ 'fake primary': 3, 'fake secondary': 1 });
    primary.up = false;
    await p.failover('primary went away', signal());
    await new Promise((r) => setImmediate(r));
    expect(await open()).toEqual({ 'fake primary': 0, 'fake secondary': 1 });
    await p.reconnect(signal());
    expect(await open()).toEqual({ 'fake primary': 0, 'fake secondary': 1 });
    await p.close();
    expect(await open()).toEqual({ 'fake primary': 0, 'fake secondary': 0 });
  });
});
