/**
 * Issue 15, item 11, replayed against a `sourced serve` process: the metadata services and
 * address forms the review found missing from the target policy (6to4, NAT64, IPv4-compatible
 * and mapped forms, Alibaba Cloud's and Azure's metadata addresses, GCP's metadata name) are
 * refused with PERMISSION_DENIED before anything is dialled, and a `mongodb+srv` source is
 * looked up through the configured `targets.dnsServers` (the system's resolver does not know
 * the name), for the validation's checks and for the connections the driver opens.
 */
import { randomBytes } from 'node:crypto';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DataSource } from '@sourced/api';
import { DataSourceServiceClient, DiscoverDataSourceRequest, ValidateDataSourceRequest } from '@sourced/api';
import { startDnsStandIn, type DnsStandIn } from '../harness/mongo/dnsStandIn';
import { startMongoStandIn, type MongoStandIn } from '../harness/mongo/MongoStandIn';
import { pgSource } from '../support/pg';
import { registerSecret } from '../support/secretScan';
import { collect, expectFailure, richStatusOf } from '../support/testDaemon';
import { startConfiguredDaemon, type ConfiguredDaemon } from './support/hardenedDaemon';

const USER = 'srv_reader';
const PASSWORD = `pw-${randomBytes(9).toString('hex')}`;
registerSecret('SRV test MongoDB password', PASSWORD);
/** A name only the DNS stand-in knows. */
const CLUSTER = 'cluster0.sourced-srv.test';

describe('target policy against a daemon process (issue 15: 11)', () => {
  const pg = inject('postgres');
  let dns: DnsStandIn;
  let mongo: MongoStandIn;
  let d: ConfiguredDaemon;
  let client: DataSourceServiceClient;

  beforeAll(async () => {
    mongo = await startMongoStandIn({
      dataset: {
        databases: [{ name: 'shop', collections: [{ name: 'orders', type: 'collection', documents: [{ _id: 1 }] }] }],
        roles: [],
        users: [{ user: USER, db: 'admin', password: PASSWORD, roles: [{ role: 'readAnyDatabase', db: 'admin' }] }],
      },
    });
    dns = await startDnsStandIn({
      srv: { [`_mongodb._tcp.${CLUSTER}`]: [{ priority: 0, weight: 0, port: mongo.port, target: `node1.${CLUSTER}` }] },
      txt: { [CLUSTER]: ['authSource=admin'] },
      a: { [`node1.${CLUSTER}`]: ['127.0.0.1'] },
    });
    d = await startConfiguredDaemon({ plugins: ['@sourced/plugin-postgres', '@sourced/plugin-mongodb'], targets: { dnsServers: [`${dns.host}:${dns.port}`] } });
    client = new DataSourceServiceClient(d.daemon.address, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await d?.stop();
    await Promise.all([dns?.stop(), mongo?.stop()]);
  });

  const validate = (dataSource: DataSource) =>
    collect(client.validateDataSource(ValidateDataSourceRequest.fromPartial({ dataSource }), new Metadata(), { deadline: Date.now() + 20_000 }));

  /** Each form is refused by the policy (PERMISSION_DENIED, TARGET_DENIED, the rule named), before the connector dials. */
  it.each([
    ['6to4 of 169.254.169.254', '2002:a9fe:a9fe::1', '169.254.0.0/16'],
    ['NAT64, well-known prefix', '64:ff9b::808:808', '64:ff9b::/96'],
    ['NAT64, local-use prefix', '64:ff9b:1::a9fe:a9fe', '64:ff9b:1::/48'],
    ['IPv4-compatible 169.254.169.254', '::a9fe:a9fe', '169.254.0.0/16'],
    ['IPv4-mapped 169.254.169.254', '[::ffff:169.254.169.254]', '169.254.0.0/16'],
    ['IPv4-translated 169.254.169.254', '::ffff:0:a9fe:a9fe', '169.254.0.0/16'],
    ['Alibaba Cloud metadata', '100.100.100.200', '100.100.100.200/32'],
    ['IPv4-mapped Alibaba Cloud metadata', '::ffff:6464:64c8', '100.100.100.200/32'],
    ['Azure WireServer', '168.63.129.16', '168.63.129.16/32'],
    ['AWS metadata over IPv6', 'fd00:ec2::254', 'fd00:ec2::254/128'],
    ['GCP metadata by name', 'metadata.google.internal', 'metadata.google.internal'],
  ])('refuses %s (%s)', async (_, host, rule) => {
    const denied = richStatusOf(await expectFailure(validate(pgSource(pg, { primary: { host, port: 80, database: '' } }))));
    expect(denied.grpcCode).toBe(status.PERMISSION_DENIED);
    expect(denied.errorInfo?.reason).toBe('TARGET_DENIED');
    expect(denied.errorInfo?.metadata?.rule).toBe(rule);
    expect(denied.message).toContain('targets.allowLinkLocal');
  });

  /**
   * The SRV and TXT records come from `targets.dnsServers`: the validation's dns check lists
   * the seed, and the connections (the validation's and a discovery's) reach the member the
   * record names, with the TXT record's auth source.
   */
  it('looks mongodb+srv names up through the configured DNS servers', async () => {
    const source = DataSource.fromPartial({
      id: 'srv',
      type: 'mongodb',
      primary: { host: `_mongodb._tcp.${CLUSTER}`, port: 0, database: 'shop' },
      credentials: { username: USER, password: { source: { $case: 'inlineValue', value: PASSWORD } } },
    });
    const events = await validate(source);
    const finished = events.flatMap((e) => (e.event?.$case === 'checkFinished' ? [e.event.value] : []));
    const dnsCheck = finished.find((c) => c.checkId === 'dns');
    expect(dnsCheck?.details.seeds).toBe(`node1.${CLUSTER}:${mongo.port}`);
    expect(finished.find((c) => c.checkId === 'authenticate')?.message).toContain('auth source "admin"');
    expect(finished.filter((c) => c.status !== 1 && c.status !== 3 && c.checkId !== 'tls').map((c) => `${c.checkId}: ${c.message}`)).toEqual([]);

    const discovered = await collect(
      client.discoverDataSource(DiscoverDataSourceRequest.fromPartial({ dataSource: source }), new Metadata(), { deadline: Date.now() + 20_000 }),
    );
    const names = discovered.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.collections.map((c) => `${c.database}.${c.name}`) : []));
    expect(names).toEqual(['shop.orders']);
  });
});
