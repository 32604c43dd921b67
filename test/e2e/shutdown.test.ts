import { randomBytes } from 'node:crypto';
import { credentials, Metadata, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { afterAll, describe, inject, it } from 'vitest';
import { DataSourceServiceClient, type DiscoverDataSourceResponse } from '@sourced/api';
import { PluginServiceClient } from '@sourced/api';
import type { ServerInfo } from '../support/globalSetup';
import { eventually, pgSource, superuserQuery } from '../support/pg';
import { startDaemonProcess, type DaemonProcess } from './support/processes';

/**
 * Relations in the database these tests discover. Each carries a long comment so that a
 * stream the client stops reading fills the transport's buffers (about 40 such messages) and
 * the daemon is held mid-discovery by back-pressure, with its database connection open.
 */
const TABLES = 60;

/** A discovery stream the test reads one message at a time, at its own pace. */
class SlowReader {
  readonly events: DiscoverDataSourceResponse[] = [];
  private readonly iterator: AsyncIterator<DiscoverDataSourceResponse>;

  constructor(call: ClientReadableStream<DiscoverDataSourceResponse>) {
    this.iterator = (call as AsyncIterable<DiscoverDataSourceResponse>)[Symbol.asyncIterator]();
  }

  /** Reads `n` messages, waiting `pauseMs` after each. */
  async read(n: number, pauseMs: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const next = await this.iterator.next();
      if (next.done) throw new Error(`the stream ended after ${this.events.length} messages`);
      this.events.push(next.value);
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }

  /** Reads to the end: 'end' when the stream completed, else the call's error. */
  async rest(): Promise<'end' | ServiceError> {
    try {
      for (;;) {
        const next = await this.iterator.next();
        if (next.done) return 'end';
        this.events.push(next.value);
      }
    } catch (error) {
      return error as ServiceError;
    }
  }

  relations(): number {
    return this.events.reduce((n, e) => n + (e.event?.$case === 'batch' ? e.event.value.relations.length : 0), 0);
  }
}

/** A login role with a database of its own holding {@link TABLES} tables, made for one test. */
interface OwnDatabase {
  /** Connection facts for the daemon: this role, its password, its database. */
  server: ServerInfo;
  /** Backends the daemon holds on the server: application_name sourced*, logged in as this role. */
  backends(): Promise<number>;
  drop(): Promise<void>;
}

/**
 * Each test discovers a database of its own, as a role of its own, so that connections of
 * the other test and of suites running alongside (which log in as the fixture's user) never
 * count as its daemon's.
 */
async function ownDatabase(pg: ServerInfo): Promise<OwnDatabase> {
  const role = `sourced_shutdown_${randomBytes(4).toString('hex')}`;
  const server: ServerInfo = { ...pg, user: role, password: `pw-${randomBytes(12).toString('hex')}`, database: role };
  await superuserQuery(pg, `create role ${role} login password '${server.password}'`);
  await superuserQuery(pg, `create database ${role} owner ${role}`);
  await superuserQuery(
    { ...pg, database: role },
    `set role ${role};
     do $$ begin
       for i in 1..${TABLES} loop
         execute format('create table t%s (id int primary key, name text, note text)', lpad(i::text, 3, '0'));
         execute format('comment on table t%s is %L', lpad(i::text, 3, '0'), repeat('x', 8000));
       end loop;
     end $$`,
  );
  return {
    server,
    backends: async () =>
      Number(
        (
          await superuserQuery<{ n: string }>(pg, "select count(*) as n from pg_stat_activity where usename = $1 and application_name like 'sourced%'", [role])
        )[0].n,
      ),
    async drop() {
      await superuserQuery(pg, `drop database if exists ${role} with (force)`);
      await superuserQuery(pg, `drop role if exists ${role}`);
    },
  };
}

describe.concurrent('SIGTERM', () => {
  const pg = inject('postgres');
  const cleanups: Array<() => unknown> = [];
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  /** A daemon subprocess and a database of the test's own, both removed after the suite. */
  async function setUp(graceMs: number) {
    const [db, daemon] = await Promise.all([ownDatabase(pg), startDaemonProcess({ args: ['--shutdown-grace-ms', String(graceMs)] })]);
    cleanups.push(
      () => daemon.kill(),
      () => db.drop(),
    );
    return { db, daemon };
  }

  /** Starts a discovery, one relation a batch, that the test reads at its own pace. */
  function startDiscovery(daemon: DaemonProcess, db: OwnDatabase) {
    const client = new DataSourceServiceClient(daemon.address, credentials.createInsecure());
    const call = client.discoverDataSource(
      { dataSource: pgSource(db.server), batchSize: 1, strategy: 0, resumeAfter: '', maxEntities: 0, maxDurationMs: 0 },
      new Metadata(),
    );
    return { client, stream: new SlowReader(call) };
  }

  /**
   * SIGTERM drains: the daemon stops accepting calls at once, an in-flight stream that fits
   * the grace period is delivered whole (up to its summary), the process exits 0, and no
   * connection of the daemon is left on the database server.
   */
  it('refuses new calls, lets an in-flight stream finish, exits 0 and leaves no connection', async ({ expect }) => {
    const { db, daemon } = await setUp(20_000);
    const { client, stream } = startDiscovery(daemon, db);
    await stream.read(3, 50);
    // Held by back-pressure mid-discovery, the daemon has its connection open.
    expect(await db.backends()).toBe(1);

    daemon.child.kill('SIGTERM');
    await daemon.waitForLog('shutting down');
    const plugins = new PluginServiceClient(daemon.address, credentials.createInsecure());
    const refused = await new Promise<ServiceError | null>((resolve) =>
      plugins.listPlugins({}, new Metadata(), { deadline: Date.now() + 10_000 }, (error) => resolve(error)),
    );
    plugins.close();
    expect(refused?.code).toBe(status.UNAVAILABLE);

    expect(await stream.rest()).toBe('end');
    client.close();
    expect(stream.events.at(-1)?.event?.$case).toBe('summary');
    expect(stream.relations()).toBe(TABLES);
    expect(stream.events.map((e) => e.sequence)).toEqual(stream.events.map((_e, i) => i + 1));

    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    expect(daemon.logs().map((l) => l.msg)).toContain('stopped');
    expect(await eventually(db.backends, (n) => n === 0)).toBe(0);
  });

  /**
   * A stream that cannot finish within the grace period is cancelled when the period ends:
   * the client gets CANCELLED or UNAVAILABLE (never a summary), the process still exits 0
   * soon after, and the daemon's connection is closed.
   */
  it('cancels a stream that outlives the grace period, exits 0 and leaves no connection', async ({ expect }) => {
    const { db, daemon } = await setUp(300);
    const { client, stream } = startDiscovery(daemon, db);
    await stream.read(3, 0);
    expect(await db.backends()).toBe(1);

    // The client reads nothing more until the daemon is gone.
    const signalled = Date.now();
    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    // Did not hang: far less than this, but the bound only proves the grace period was enforced.
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(daemon.logs().map((l) => l.msg)).toEqual(expect.arrayContaining(['grace period over; cancelling in-flight calls', 'stopped']));

    const end = await stream.rest();
    client.close();
    expect(end).not.toBe('end');
    expect([status.CANCELLED, status.UNAVAILABLE]).toContain((end as ServiceError).code);
    expect(stream.events.some((e) => e.event?.$case === 'summary')).toBe(false);
    expect(stream.relations()).toBeLessThan(TABLES);
    expect(await eventually(db.backends, (n) => n === 0)).toBe(0);
  });
});
