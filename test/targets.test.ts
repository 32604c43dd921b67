/**
 * The target policy through real gRPC calls: metadata addresses refused by default, deny and
 * allow lists, and DNS rebinding refused at the dial, for PostgreSQL, MariaDB and MongoDB
 * (whose driver dials replica-set members of the server's choosing, through the policy's
 * SOCKS5 guard). A DNS stand-in answers the names; a trap listener on 127.0.0.2 counts every
 * connection that reaches the denied address.
 */
import { randomBytes } from 'node:crypto';
import { getServers, setServers } from 'node:dns';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DataSource } from '@sourced/api';
import type { DiscoverDataSourceResponse } from '@sourced/api';
import { mongoFixture, SHOP, TEST_USER } from './fixtures/mongodb/fixture';
import { startDnsStandIn, type DnsStandIn } from './harness/mongo/dnsStandIn';
import { startMongoStandIn, type MongoStandIn } from './harness/mongo/MongoStandIn';
import { mongoSource } from './harness/mongo/sources';
import { pgSource } from './support/pg';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';
import { check, statuses } from './support/validation';

/** A TCP listener on 127.0.0.2 that counts the connections reaching it and closes them. */
async function startTrap(port = 0): Promise<{ port: number; hits(): number; stop(): Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((s) => {
    hits++;
    s.destroy();
  });
  server.listen(port, '127.0.0.2');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, hits: () => hits, stop: () => new Promise((r) => server.close(() => r())) };
}

const denial = async (call: Promise<unknown>) => {
  const rich = richStatusOf(await expectFailure(call));
  return { code: rich.grpcCode, reason: rich.errorInfo?.reason, metadata: rich.errorInfo?.metadata, message: rich.message };
};
const relationCount = (events: DiscoverDataSourceResponse[]) =>
  events.reduce((n, e) => n + (e.event?.$case === 'batch' ? e.event.value.relations.length + e.event.value.collections.length : 0), 0);

describe('target policy', () => {
  const pg = inject('postgres');
  const maria = inject('mariadb');
  const mongoServer = inject('mongodb');
  /** What each rebinding name answers next: the first answer, then the second for good. */
  const rebinding = new Map<string, string[][]>();
  const answer = (name: string) => () => {
    const queue = rebinding.get(name) ?? [];
    return (queue.length > 1 ? queue.shift() : queue[0]) ?? [];
  };
  let dns: DnsStandIn;
  let t: TestDaemon;
  let open: TestDaemon;
  let pgTrap: Awaited<ReturnType<typeof startTrap>>;
  let mariaTrap: Awaited<ReturnType<typeof startTrap>>;

  beforeAll(async () => {
    dns = await startDnsStandIn({
      a: {
        'pg.rebind.test': answer('pg.rebind.test'),
        'maria.rebind.test': answer('maria.rebind.test'),
        'mongo.rebind.test': answer('mongo.rebind.test'),
        'pg.stable.test': ['127.0.0.1'],
        'metadata.rebind.test': ['169.254.169.254'],
      },
    });
    pgTrap = await startTrap(pg.port);
    mariaTrap = await startTrap(maria.port);
    const dnsServers = [`${dns.host}:${dns.port}`];
    t = await startTestDaemon({ targets: { allow: [], deny: ['127.0.0.2/32', 'forbidden.test'], allowLinkLocal: false, dnsServers } });
    // The same daemon without the deny rule: shows that the rebound address is really dialled when nothing stops it.
    open = await startTestDaemon({ targets: { allow: [], deny: [], allowLinkLocal: false, dnsServers } });
  });
  afterAll(async () => {
    await Promise.all([t?.stop(), open?.stop()]);
    await Promise.all([pgTrap?.stop(), mariaTrap?.stop(), dns?.stop()]);
  });

  /** The cloud metadata address is refused before anything is dialled, by address or by a name that resolves to it; the daemon goes on serving. */
  it('refuses metadata addresses by default with PERMISSION_DENIED naming the rule', async () => {
    const byAddress = await denial(t.validate({ dataSource: pgSource(pg, { primary: { host: '169.254.169.254', port: 80, database: '' } }) }));
    expect(byAddress).toMatchObject({
      code: Status.PERMISSION_DENIED,
      reason: 'TARGET_DENIED',
      metadata: { host: '169.254.169.254', address: '169.254.169.254', rule: '169.254.0.0/16' },
    });
    expect(byAddress.message).toContain('link-local and cloud metadata addresses');
    const byName = await denial(t.discover({ dataSource: pgSource(pg, { primary: { host: 'metadata.rebind.test', port: 80, database: '' } }) }));
    expect(byName).toMatchObject({
      code: Status.PERMISSION_DENIED,
      reason: 'TARGET_DENIED',
      metadata: { host: 'metadata.rebind.test', address: '169.254.169.254' },
    });
    const ok = await t.discover({ dataSource: pgSource(pg) });
    expect(relationCount(ok)).toBeGreaterThan(0);
  });

  /** A denied name is refused as a name, before it is looked up. */
  it('refuses a denied host name', async () => {
    const denied = await denial(t.validate({ dataSource: pgSource(pg, { primary: { host: 'forbidden.test', port: pg.port, database: '' } }) }));
    expect(denied).toMatchObject({ code: Status.PERMISSION_DENIED, reason: 'TARGET_DENIED', metadata: { rule: 'forbidden.test' } });
  });

  /** A name that resolves through the policy's DNS servers to an allowed address works end to end (validation and discovery). */
  it('connects to an allowed name through the policy', async () => {
    const source = pgSource(pg, { primary: { host: 'pg.stable.test', port: pg.port, database: pg.database } });
    const events = await t.validate({ dataSource: source });
    expect(statuses(events)).toMatchObject({ dns: 'PASSED', tcp: 'PASSED', authenticate: 'PASSED', 'metadata-read': 'PASSED' });
    expect(check(events, 'dns').message).toBe('pg.stable.test resolved to 127.0.0.1');
    expect(relationCount(await t.discover({ dataSource: source }))).toBeGreaterThan(0);
  });

  /**
   * DNS rebinding: the name resolves to an allowed address when the call is checked, and to
   * a denied one when the driver dials. The dial is refused; nothing reaches the trap. Without
   * the rule the same call does reach it.
   */
  describe('DNS rebinding', () => {
    it('is refused at the PostgreSQL dial', async () => {
      const source = pgSource(pg, { primary: { host: 'pg.rebind.test', port: pg.port, database: pg.database } });
      rebinding.set('pg.rebind.test', [['127.0.0.1'], ['127.0.0.2']]);
      const denied = await denial(t.discover({ dataSource: source }));
      expect(denied).toMatchObject({
        code: Status.PERMISSION_DENIED,
        reason: 'TARGET_DENIED',
        metadata: { host: 'pg.rebind.test', address: '127.0.0.2', rule: '127.0.0.2/32' },
      });
      expect(pgTrap.hits()).toBe(0);

      rebinding.set('pg.rebind.test', [['127.0.0.1'], ['127.0.0.2']]);
      await expectFailure(open.discover({ dataSource: source }));
      expect(pgTrap.hits()).toBeGreaterThan(0);
    });

    it('is refused at the MariaDB dial', async () => {
      const source = DataSource.fromPartial({
        id: 'test-mysql',
        type: 'mysql',
        primary: { host: 'maria.rebind.test', port: maria.port, database: '' },
        credentials: { username: maria.user, password: { source: { $case: 'inlineValue', value: maria.password } } },
      });
      rebinding.set('maria.rebind.test', [['127.0.0.1'], ['127.0.0.2']]);
      const denied = await denial(t.discover({ dataSource: source }));
      expect(denied).toMatchObject({ code: Status.PERMISSION_DENIED, reason: 'TARGET_DENIED', metadata: { host: 'maria.rebind.test', address: '127.0.0.2' } });
      expect(mariaTrap.hits()).toBe(0);

      rebinding.set('maria.rebind.test', [['127.0.0.1'], ['127.0.0.2']]);
      await expectFailure(open.discover({ dataSource: source }));
      expect(mariaTrap.hits()).toBeGreaterThan(0);
    });

    /** MongoDB's driver dials through the policy's SOCKS5 guard: the rebound address is refused there, and the call says why. */
    it('is refused at the MongoDB dial', async () => {
      const mongoTrap = await startTrap(mongoServer.port);
      try {
        const source = mongoSource(mongoServer, { primary: { host: 'mongo.rebind.test', port: mongoServer.port, database: mongoServer.database } });
        rebinding.set('mongo.rebind.test', [['127.0.0.1'], ['127.0.0.2']]);
        const denied = await denial(t.discover({ dataSource: source }));
        expect(denied).toMatchObject({
          code: Status.PERMISSION_DENIED,
          reason: 'TARGET_DENIED',
          metadata: { host: 'mongo.rebind.test', address: '127.0.0.2' },
        });
        expect(mongoTrap.hits()).toBe(0);

        rebinding.set('mongo.rebind.test', [['127.0.0.1'], ['127.0.0.2']]);
        await expectFailure(open.discover({ dataSource: source }));
        expect(mongoTrap.hits()).toBeGreaterThan(0);
      } finally {
        await mongoTrap.stop();
      }
    });

    /** In validation, the dns check resolves through the policy: it fails with the rule, and nothing after it dials. */
    it('fails the dns check of a validation', async () => {
      const trapBefore = pgTrap.hits();
      rebinding.set('pg.rebind.test', [['127.0.0.1'], ['127.0.0.2']]);
      const events = await t.validate({ dataSource: pgSource(pg, { primary: { host: 'pg.rebind.test', port: pg.port, database: pg.database } }) });
      expect(statuses(events)).toMatchObject({ dns: 'FAILED', tcp: 'SKIPPED', authenticate: 'SKIPPED' });
      expect(check(events, 'dns').message).toBe(
        "connecting to pg.rebind.test (127.0.0.2) is refused by the daemon's target policy (targets.deny: 127.0.0.2/32)",
      );
      expect(check(events, 'dns').details).toMatchObject({ code: 'ETARGETDENIED', rule: '127.0.0.2/32' });
      expect(pgTrap.hits()).toBe(trapBefore);
    });
  });

  /**
   * MongoDB: the driver connects to the members the server lists, by name or by address. A
   * `mongodb+srv` source whose primary lists a member at the denied 127.0.0.2 is discovered
   * from the primary; the driver never reaches the member. Without the rule it does.
   */
  describe('MongoDB replica-set members', () => {
    let mongo: MongoStandIn;
    let mongoTrap: Awaited<ReturnType<typeof startTrap>>;
    let srvDns: DnsStandIn;
    let restore: () => void;
    const password = `Pa55-${randomBytes(9).toString('base64url')}`;
    beforeAll(async () => {
      mongoTrap = await startTrap();
      mongo = await startMongoStandIn({
        dataset: mongoFixture({ test: password, shop: `Pa55-${randomBytes(9).toString('base64url')}`, admin: `Pa55-${randomBytes(9).toString('base64url')}` }),
        replicaSet: 'rs0',
        advertiseHost: 'm1.guard.test',
        members: [`127.0.0.2:${mongoTrap.port}`],
        host: '127.0.0.1',
      });
      // The driver looks the SRV and TXT records up with dns.resolve* (the process's servers); the daemon resolves m1 through targets.dnsServers.
      srvDns = await startDnsStandIn({
        srv: { '_mongodb._tcp.cluster.guard.test': [{ priority: 0, weight: 0, port: mongo.port, target: 'm1.guard.test' }] },
        txt: { 'cluster.guard.test': ['replicaSet=rs0&authSource=admin'] },
        a: { 'm1.guard.test': ['127.0.0.1'] },
      });
      const saved = getServers();
      setServers([`${srvDns.host}:${srvDns.port}`]);
      restore = () => setServers(saved);
    });
    afterAll(async () => {
      restore?.();
      await Promise.all([mongo?.stop(), mongoTrap?.stop(), srvDns?.stop()]);
    });

    it('never dials a denied member the server lists', async () => {
      const dnsServers = [`${srvDns.host}:${srvDns.port}`];
      const guarded = await startTestDaemon({ targets: { allow: [], deny: ['127.0.0.2/32'], allowLinkLocal: false, dnsServers } });
      const unguarded = await startTestDaemon({ targets: { allow: [], deny: [], allowLinkLocal: false, dnsServers } });
      try {
        const source = DataSource.fromPartial({
          id: 'test-mongo-srv',
          type: 'mongodb',
          primary: { host: 'cluster.guard.test', port: 0, database: SHOP },
          credentials: { username: TEST_USER, password: { source: { $case: 'inlineValue', value: password } } },
          connectionProperties: { srv: true },
        });
        const events = await guarded.discover({ dataSource: source });
        expect(relationCount(events)).toBeGreaterThan(0);
        // the driver's monitor would have tried the member at once and again every heartbeat
        expect(mongoTrap.hits()).toBe(0);

        await unguarded.discover({ dataSource: source });
        expect(mongoTrap.hits()).toBeGreaterThan(0);
      } finally {
        await Promise.all([guarded.stop(), unguarded.stop()]);
      }
    });
  });
});
