import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DiscoverDataSourceResponse } from '@sourced/api';
import type { SourceIdentity } from '@sourced/api';
import { EndpointRole } from '@sourced/api';
import { startLatencyProxy, type LatencyProxy } from './harness/latencyProxy';
import { startMariadb, type MariadbInstance } from './harness/mariadb';
import { startPostgres, type PostgresInstance } from './harness/postgres';
import { registerSecret } from './support/secretScan';
import {
  discoverWithFault,
  hybridSource,
  namesOf,
  seededCount,
  seededFilter,
  seededNames,
  seedMariadb,
  seedPostgres,
  singleSource,
  type SeedShape,
} from './support/hybrid';
import { richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

/**
 * Issue 25: a session is used only once the daemon has checked that it is the database and
 * server the call reads, and a summary says which database and server it read. Every expected
 * value here comes from the servers themselves, through the test's own queries.
 */

const SHAPE: SeedShape = { schemas: 2, tablesPerSchema: 30 };
const ALL = seededNames(SHAPE);
const BATCH = 5;

/** The summary's `source` of a finished discovery. */
function sourceOf(events: DiscoverDataSourceResponse[]): SourceIdentity | undefined {
  const last = events.at(-1)?.event;
  return last?.$case === 'summary' ? last.value.source : undefined;
}

/** What a PostgreSQL server says it is, asked over its local socket by the test (not through the daemon). */
async function postgresIdentity(s: PostgresInstance): Promise<{ systemIdentifier: string; port: number; startedEpoch: number; version: string }> {
  const [systemIdentifier, port, started, version] = (
    await s.psql(`SELECT system_identifier FROM pg_control_system(); SHOW port; SELECT extract(epoch FROM pg_postmaster_start_time()); SHOW server_version;`)
  )
    .trim()
    .split('\n');
  return { systemIdentifier, port: Number(port), startedEpoch: Number(started), version };
}

/** The error a discovery ends with; undefined when it succeeds. */
async function failureOf(run: Promise<{ events: DiscoverDataSourceResponse[] }>): Promise<(Error & { code: number; details: string }) | undefined> {
  return run.then(
    () => undefined,
    (e: unknown) => e as Error & { code: number; details: string },
  );
}

describe('PostgreSQL: which source a call reads', () => {
  let a: PostgresInstance; // primary
  let b: PostgresInstance; // secondary, behind the proxy
  let c: PostgresInstance; // another server holding the same catalog
  let empty: PostgresInstance; // same user, password and database, nothing seeded
  let proxy: LatencyProxy; // the secondary's address: a name that can come to point at c
  let t: TestDaemon;

  beforeAll(async () => {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    registerSecret('HYBRID test password', password);
    [a, b, c, empty, t] = await Promise.all([
      startPostgres({ password }),
      startPostgres({ password }),
      startPostgres({ password }),
      startPostgres({ password }),
      startTestDaemon({ plugins: ['@sourced/plugin-postgres'] }),
    ]);
    await seedPostgres([a, b, c], SHAPE);
    proxy = await startLatencyProxy(b);
  });
  afterAll(async () => {
    await proxy?.close();
    await t?.stop();
    await Promise.all([a, b, c, empty].map((s) => s?.destroy()));
  });
  beforeEach(async () => {
    proxy.target = { host: b.host, port: b.port };
    await a.start();
    expect(await seededCount(a)).toBe(ALL.length);
  });

  /** The summary names the database, user, port, system identifier, version and start time the server itself reports. */
  it('reports the database and server it read in the summary', async () => {
    const events = await t.discover({ dataSource: singleSource('postgres', a), filter: seededFilter, batchSize: BATCH });
    expect(namesOf(events)).toEqual(ALL);
    const server = await postgresIdentity(a);
    const source = sourceOf(events);
    expect(source).toMatchObject({
      database: a.database,
      user: a.user,
      serverPort: server.port,
      serverId: server.systemIdentifier,
      serverVersion: server.version,
    });
    expect(Math.abs(Date.parse(source?.startedAt ?? '') / 1000 - server.startedEpoch)).toBeLessThan(0.001);
  });

  /**
   * An empty database and a wrong one are told apart: the summary of an empty server names
   * that server, whose system identifier is not the seeded one's.
   */
  it('names the server of an empty catalog, so it is not mistaken for the expected one', async () => {
    const events = await t.discover({ dataSource: singleSource('postgres', empty), filter: seededFilter, batchSize: BATCH });
    expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { relations: 0 } });
    const [emptyServer, seededServer] = await Promise.all([postgresIdentity(empty), postgresIdentity(a)]);
    expect(sourceOf(events)?.serverId).toBe(emptyServer.systemIdentifier);
    expect(sourceOf(events)?.serverId).not.toBe(seededServer.systemIdentifier);
    expect(sourceOf(events)?.serverPort).toBe(empty.port);
  });

  /**
   * The secondary's address comes to point at another server (holding the same catalog, the
   * same user and password) while the run reads the primary; when the primary crashes, the
   * failover opens that other server and refuses it: FAILED_PRECONDITION
   * SOURCE_IDENTITY_MISMATCH naming the server id, and not one relation read from it.
   */
  it('refuses a failover to a server that answers as another than the secondary', async () => {
    const error = await failureOf(
      discoverWithFault(t, { dataSource: hybridSource('postgres', a, { ...b, port: proxy.port }), filter: seededFilter, batchSize: BATCH }, 2, async () => {
        proxy.target = { host: c.host, port: c.port };
        proxy.dropConnections();
        await a.stop({ mode: 'immediate' });
      }),
    );
    expect(error?.code).toBe(9); // FAILED_PRECONDITION
    expect(richStatusOf(error as never).errorInfo?.reason).toBe('SOURCE_IDENTITY_MISMATCH');
    const [bServer, cServer] = await Promise.all([postgresIdentity(b), postgresIdentity(c)]);
    expect(error?.details).toContain(`server id "${cServer.systemIdentifier}" where the call's first session had "${bServer.systemIdentifier}"`);
    expect(error?.details).toContain('secondary endpoint');
  });

  /**
   * The primary crashes mid-run and the secondary holds nothing (a replica that lost its
   * data): instead of a summary that ends the catalog there, the call fails UNAVAILABLE
   * SOURCE_EMPTY_AFTER_FAILOVER with the cursor of the last batch the client has.
   */
  it('fails a run whose failover lands on an empty catalog instead of ending it early', async () => {
    const error = await failureOf(
      discoverWithFault(t, { dataSource: hybridSource('postgres', a, empty), filter: seededFilter, batchSize: BATCH }, 2, () => a.stop({ mode: 'immediate' })),
    );
    expect(error?.code).toBe(14); // UNAVAILABLE
    const status = richStatusOf(error as never);
    expect(status.errorInfo?.reason).toBe('SOURCE_EMPTY_AFTER_FAILOVER');
    expect(status.errorInfo?.metadata?.endpoint).toBe('SECONDARY');
    expect(status.errorInfo?.metadata?.resume_after).toBeTruthy();
  });

  /** Failing over to the secondary, the summary names the secondary's server. */
  it('names the secondary in the summary after a failover', async () => {
    const { events } = await discoverWithFault(t, { dataSource: hybridSource('postgres', a, b), filter: seededFilter, batchSize: BATCH }, 2, () =>
      a.stop({ mode: 'immediate' }),
    );
    expect(namesOf(events)).toEqual(ALL);
    expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { endpoint: EndpointRole.ENDPOINT_ROLE_SECONDARY, failovers: 1 } });
    expect(sourceOf(events)).toMatchObject({ serverId: (await postgresIdentity(b)).systemIdentifier, serverPort: b.port, database: b.database });
  });
});

describe('MariaDB: which source a call reads', () => {
  let m: MariadbInstance;
  let t: TestDaemon;
  beforeAll(async () => {
    [m, t] = await Promise.all([startMariadb(), startTestDaemon({ plugins: ['@sourced/plugin-mysql'] })]);
    await seedMariadb([m], SHAPE);
  });
  afterAll(async () => {
    await t?.stop();
    await m?.destroy();
  });

  /** The summary names the port, host/server_id, version and start the server itself reports. */
  it('reports the database and server it read in the summary', async () => {
    const events = await t.discover({ dataSource: singleSource('mysql', m), filter: seededFilter, batchSize: BATCH });
    expect(namesOf(events)).toEqual(ALL);
    const [port, host, serverId, version, started] = (
      await m.sql(
        `SELECT @@port, @@hostname, @@server_id, VERSION(), UNIX_TIMESTAMP() - VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'UPTIME'`,
      )
    )
      .trim()
      .split('\t');
    const source = sourceOf(events);
    expect(source).toMatchObject({ database: '', user: m.user, serverPort: Number(port), serverId: `${host}/server_id=${serverId}`, serverVersion: version });
    expect(Math.abs(Date.parse(source?.startedAt ?? '') / 1000 - Number(started))).toBeLessThanOrEqual(1);
  });
});
