/**
 * Issue 15, item 3, replayed against a `sourced serve` process: a discovery filter whose
 * pattern makes a backtracking regular expression take exponential time
 * (`*a*a…*a*s` against a database named with sixty `a`s, sent by a MongoDB server that
 * ignores the filter, as a hostile one would), and pattern lists far past any sensible size.
 * The daemon must keep answering health checks while the attack is in flight, end the call
 * promptly with the right answer, and refuse oversized lists with INVALID_ARGUMENT naming the
 * field and the limit.
 */
import { randomBytes } from 'node:crypto';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import { MAX_FILTER_PATTERN_CHARS, MAX_FILTER_PATTERNS } from '@sourced/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from '@sourced/api';
import { DataSourceServiceClient, DiscoverDataSourceRequest, type DiscoverDataSourceResponse } from '@sourced/api';
import { rootQuery, startMariadb, type MariadbInstance } from '../harness/mariadb';
import { startPostgres, type PostgresInstance } from '../harness/postgres';
import { startMongoStandIn, type MongoStandIn } from '../harness/mongo/MongoStandIn';
import { pgSource, superuserQuery } from '../support/pg';
import { registerSecret } from '../support/secretScan';
import { collect, expectFailure, richStatusOf } from '../support/testDaemon';
import { healthCheck, startConfiguredDaemon, type ConfiguredDaemon } from './support/hardenedDaemon';

/** The pattern of the review: twenty `*a` and a final `*s`. */
const CRAFTED = `${'*a'.repeat(20)}*s`;
/** A database name it does not match (no `s`), on which a regular expression backtracks for ever. */
const SIXTY_AS = 'a'.repeat(60);
/** A database name it matches. */
const MATCHING = `${'a'.repeat(25)}s`;
/** Schemas (PostgreSQL) and databases (MariaDB) of the push-down test. */
const SQL_SCHEMAS = [SIXTY_AS, MATCHING, 'lit_a%b', 'litxaZZb'];
const USER = 'redos_reader';
const PASSWORD = `pw-${randomBytes(9).toString('hex')}`;
registerSecret('pattern attack MongoDB password', PASSWORD);

const collectionNames = (events: DiscoverDataSourceResponse[]) =>
  events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.collections.map((c) => `${c.database}.${c.name}`) : []));

describe('name patterns against a daemon process (issue 15: 3)', () => {
  // Servers of the suite's own: the schemas it creates would otherwise show in the shared
  // servers' catalogs while other files discover them whole.
  let pg: PostgresInstance;
  let maria: MariadbInstance;
  let standIn: MongoStandIn;
  let d: ConfiguredDaemon;

  beforeAll(async () => {
    [pg, maria] = await Promise.all([startPostgres(), startMariadb()]);
    for (const [label, value] of Object.entries({
      pg: pg.password,
      pgSuperuser: pg.superuserPassword,
      maria: maria.password,
      mariaRoot: maria.superuserPassword,
    }))
      registerSecret(`pattern test ${label} password`, value);
    const collection = (name: string) => ({ name, type: 'collection' as const, documents: [{ _id: 1 }] });
    standIn = await startMongoStandIn({
      dataset: {
        databases: [
          { name: SIXTY_AS, collections: [collection('c')] },
          { name: MATCHING, collections: [collection('c')] },
        ],
        roles: [],
        users: [{ user: USER, db: 'admin', password: PASSWORD, roles: [{ role: 'readAnyDatabase', db: 'admin' }] }],
      },
      ignoreDatabaseFilter: true,
    });
    d = await startConfiguredDaemon({ plugins: ['@sourced/plugin-mongodb', '@sourced/plugin-postgres', '@sourced/plugin-mysql'] });
  });
  afterAll(async () => {
    d?.daemon.kill();
    await d?.stop().catch(() => undefined);
    await standIn?.stop();
    await Promise.all([pg?.destroy(), maria?.destroy()]);
  });

  const mongo = (): DataSource =>
    DataSource.fromPartial({
      id: 'redos',
      type: 'mongodb',
      // No database: every database the account can see is in scope (the attack needs the server's list).
      primary: { host: standIn.host, port: standIn.port, database: '' },
      credentials: { username: USER, password: { source: { $case: 'inlineValue', value: PASSWORD } } },
    });

  /**
   * The review's attack: the event loop froze for over ten minutes (every health check
   * failed). Now every health check sent while the discovery runs is answered, the discovery
   * ends within seconds, and it reads exactly the database the pattern matches.
   */
  it('keeps answering health checks and ends the discovery promptly', async () => {
    const client = new DataSourceServiceClient(d.daemon.address, credentials.createInsecure());
    const started = Date.now();
    const request = DiscoverDataSourceRequest.fromPartial({ dataSource: mongo(), filter: { includeSchemas: [CRAFTED] } });
    let finished = false;
    const discovery = collect(client.discoverDataSource(request, new Metadata(), { deadline: Date.now() + 30_000 })).finally(() => (finished = true));
    const health: string[] = [];
    // Health checks while the call is in flight (and at least a few, however fast it is).
    while (!finished || health.length < 3) {
      health.push(await healthCheck(d.daemon.address, 2_000));
      if (Date.now() - started > 30_000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const events = await discovery;
    client.close();
    expect(
      health.every((h) => h === 'SERVING'),
      `health checks: ${health.join(', ')}`,
    ).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(collectionNames(events)).toEqual([`${MATCHING}.c`]);
    expect(events.at(-1)?.event?.$case).toBe('summary');
  }, 60_000);

  /**
   * 10,000 patterns kept a PostgreSQL backend busy for 50 s. A list past the count or the
   * total length is refused before anything is dialled, naming the field and the limit.
   */
  it('refuses pattern lists past the caps with INVALID_ARGUMENT naming the field and the limit', async () => {
    const client = new DataSourceServiceClient(d.daemon.address, credentials.createInsecure());
    const discover = (filter: Partial<NonNullable<DiscoverDataSourceRequest['filter']>>) =>
      collect(
        client.discoverDataSource(DiscoverDataSourceRequest.fromPartial({ dataSource: pgSource(pg), filter }), new Metadata(), {
          deadline: Date.now() + 20_000,
        }),
      );
    const many = richStatusOf(await expectFailure(discover({ includeSchemas: Array.from({ length: 10_000 }, (_, i) => `s${i}_*`) })));
    expect(many.grpcCode).toBe(status.INVALID_ARGUMENT);
    expect(many.errorInfo?.reason).toBe('INVALID_FILTER');
    expect(many.badRequest).toEqual([{ field: 'filter.include_schemas', description: `has 10000 patterns; at most ${MAX_FILTER_PATTERNS} are allowed` }]);

    const long = richStatusOf(await expectFailure(discover({ excludeTables: Array.from({ length: 100 }, (_, i) => `${'x'.repeat(200)}${i}`) })));
    expect(long.grpcCode).toBe(status.INVALID_ARGUMENT);
    expect(long.badRequest?.[0].field).toBe('filter.exclude_tables');
    expect(long.badRequest?.[0].description).toContain(`at most ${MAX_FILTER_PATTERN_CHARS}`);

    // At the cap, the same daemon discovers as usual (pushed down as LIKE patterns).
    const events = await discover({ includeSchemas: Array.from({ length: MAX_FILTER_PATTERNS }, (_, i) => (i === 0 ? 'pub*' : `x${i}*a*a*a*s`)) });
    expect(events.at(-1)?.event?.$case).toBe('summary');
    client.close();
  }, 60_000);

  /**
   * PostgreSQL and MariaDB get the patterns as LIKE patterns: the crafted one answers at once
   * there too (MariaDB's REGEXP is PCRE, which backtracks: 150 ms per name for this pattern),
   * and LIKE's own wildcards in a glob stay literal (`lit_a%b` is not `lit?a*b`).
   */
  it.each([
    [
      'PostgreSQL',
      () => pgSource(pg, { credentials: { username: pg.superuser, password: { source: { $case: 'inlineValue', value: pg.superuserPassword } } } }),
    ],
    [
      'MariaDB',
      () =>
        DataSource.fromPartial({
          id: 'redos-maria',
          type: 'mysql',
          primary: { host: maria.host, port: maria.port, database: '' },
          credentials: { username: maria.superuser, password: { source: { $case: 'inlineValue', value: maria.superuserPassword } } },
        }),
    ],
  ] as const)(
    'pushes patterns down to %s as LIKE patterns',
    async (name, source) => {
      for (const schema of SQL_SCHEMAS) {
        if (name === 'PostgreSQL') await superuserQuery(pg, `create schema if not exists "${schema}"; create table if not exists "${schema}".t (id int)`);
        else
          await rootQuery(maria, `CREATE DATABASE IF NOT EXISTS \`${schema}\``).then(() =>
            rootQuery(maria, `CREATE TABLE IF NOT EXISTS \`${schema}\`.t (id INT)`),
          );
      }
      const client = new DataSourceServiceClient(d.daemon.address, credentials.createInsecure());
      const relations = async (includeSchemas: string[]) => {
        const events = await collect(
          client.discoverDataSource(DiscoverDataSourceRequest.fromPartial({ dataSource: source(), filter: { includeSchemas } }), new Metadata(), {
            deadline: Date.now() + 20_000,
          }),
        );
        return events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.relations.map((r) => `${r.schema}.${r.name}`) : []));
      };
      const started = Date.now();
      expect(await relations([CRAFTED])).toEqual([`${MATCHING}.t`]);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await relations(['lit_a%b'])).toEqual(['lit_a%b.t']);
      expect(await relations(['lit?a*b'])).toEqual(['lit_a%b.t', 'litxaZZb.t']);
      client.close();
    },
    60_000,
  );
});
