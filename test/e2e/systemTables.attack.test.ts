/**
 * Issue 15, item 4, replayed against `sourced serve` processes: an account with broad read
 * rights previews and profiles the tables where each database keeps its credentials
 * (PostgreSQL `pg_authid`, `pg_shadow`, `pg_user_mapping`, `pg_foreign_server`; MariaDB
 * `mysql.user`, `mysql.global_priv`; MongoDB `admin.system.users`). The review got real
 * password hashes back. With the default config every such call is PERMISSION_DENIED
 * (SYSTEM_TABLE_NOT_ALLOWED) naming `preview.allowSystemSchemas`; with it set (and the name
 * masks emptied, so only the credential masking is left) the calls work and the credential
 * columns are masked. The test reads the real hashes, SCRAM verifiers and option passwords
 * from each database itself and checks that none of them appears in anything a daemon sent
 * or logged (and registers them with the run's secret scan).
 */
import { randomBytes } from 'node:crypto';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import { MongoClient, type Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DataSource } from '@sourced/api';
import { DataSourceServiceClient, PreviewTableRequest, ProfileTableRequest, type PreviewTableResponse, type ProfileTableResponse } from '@sourced/api';
import { ProfileMode } from '@sourced/api';
import { rootQuery } from '../harness/mariadb';
import { startMongoStandIn, type MongoStandIn } from '../harness/mongo/MongoStandIn';
import { superuserQuery } from '../support/pg';
import { registerSecret } from '../support/secretScan';
import { collect, expectFailure, richStatusOf } from '../support/testDaemon';
import { startConfiguredDaemon, type ConfiguredDaemon } from './support/hardenedDaemon';

const hex = () => randomBytes(8).toString('hex');
const PLUGINS = ['@sourced/plugin-postgres', '@sourced/plugin-mysql', '@sourced/plugin-mongodb'];

interface Target {
  name: string;
  source: () => DataSource;
  tables: { schema: string; name: string; credential: string }[];
}

describe('credential tables against daemon processes (issue 15: 4)', () => {
  const pg = inject('postgres');
  const maria = inject('mariadb');
  const tag = hex();
  const pgRole = `sys_reader_${tag}`;
  const pgPassword = `pw-${hex()}`;
  const mariaUser = `sys_reader_${tag}`;
  const mariaPassword = `pw-${hex()}`;
  const mongoUser = 'sys_root';
  const mongoPassword = `pw-${hex()}`;
  const serverOption = `srv-secret-${hex()}`;
  const mappingOption = `um-secret-${hex()}`;
  for (const [label, value] of Object.entries({ pgPassword, mariaPassword, mongoPassword, serverOption, mappingOption }))
    registerSecret(`system tables ${label}`, value);
  /** Every credential the databases hold, read from them by the test: none may leave a daemon. */
  const hashes = new Set<string>();
  let mongo: MongoStandIn;
  let closed: ConfiguredDaemon;
  let opened: ConfiguredDaemon;

  const inline = (value: string) => ({ source: { $case: 'inlineValue' as const, value } });
  const targets: Target[] = [
    {
      name: 'PostgreSQL',
      source: () =>
        DataSource.fromPartial({
          id: 'sys-pg',
          type: 'postgres',
          primary: { host: pg.host, port: pg.port, database: pg.database },
          credentials: { username: pgRole, password: inline(pgPassword) },
        }),
      tables: [
        { schema: 'pg_catalog', name: 'pg_authid', credential: 'rolpassword' },
        { schema: 'pg_catalog', name: 'pg_shadow', credential: 'passwd' },
        { schema: 'pg_catalog', name: 'pg_user_mapping', credential: 'umoptions' },
        { schema: 'pg_catalog', name: 'pg_foreign_server', credential: 'srvoptions' },
      ],
    },
    {
      name: 'MariaDB',
      source: () =>
        DataSource.fromPartial({
          id: 'sys-maria',
          type: 'mysql',
          primary: { host: maria.host, port: maria.port, database: '' },
          credentials: { username: mariaUser, password: inline(mariaPassword) },
        }),
      tables: [
        { schema: 'mysql', name: 'user', credential: 'authentication_string' },
        { schema: 'mysql', name: 'global_priv', credential: 'Priv' },
      ],
    },
    {
      name: 'MongoDB',
      source: () =>
        DataSource.fromPartial({
          id: 'sys-mongo',
          type: 'mongodb',
          primary: { host: mongo.host, port: mongo.port, database: 'admin' },
          credentials: { username: mongoUser, password: inline(mongoPassword) },
        }),
      tables: [{ schema: 'admin', name: 'system.users', credential: 'credentials' }],
    },
  ];

  beforeAll(async () => {
    // PostgreSQL: a role that reads everything, a foreign server and a user mapping with passwords in their options.
    await superuserQuery(pg, `create role ${pgRole} login password '${pgPassword}'`);
    await superuserQuery(pg, `grant pg_read_all_data to ${pgRole}`);
    await superuserQuery(pg, `grant select on pg_authid, pg_user_mapping to ${pgRole}`);
    await superuserQuery(pg, `create foreign data wrapper sys_fdw_${tag}`);
    await superuserQuery(pg, `create server sys_srv_${tag} foreign data wrapper sys_fdw_${tag} options (host 'db.example', password '${serverOption}')`);
    await superuserQuery(pg, `create user mapping for ${pgRole} server sys_srv_${tag} options (user 'remote', password '${mappingOption}')`);
    for (const r of await superuserQuery<{ rolpassword: string }>(pg, 'select rolpassword from pg_authid where rolpassword is not null')) {
      hashes.add(r.rolpassword);
      // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>: each part on its own too.
      for (const part of r.rolpassword.split(/[$:]/)) if (part.length >= 16) hashes.add(part);
    }
    hashes.add(serverOption).add(mappingOption);

    // MariaDB: an account that may read every database.
    await rootQuery(maria, `CREATE USER '${mariaUser}'@'%' IDENTIFIED BY '${mariaPassword}'`);
    await rootQuery(maria, `GRANT SELECT ON *.* TO '${mariaUser}'@'%'`);
    for (const r of await rootQuery<{ a: string | null; p: string | null }>(maria, 'SELECT authentication_string AS a, Password AS p FROM mysql.user')) {
      for (const v of [r.a, r.p]) if (v && v.length >= 16) hashes.add(v);
    }
    for (const r of await rootQuery<{ priv: string }>(maria, 'SELECT CONVERT(Priv USING utf8mb4) AS priv FROM mysql.global_priv')) {
      const parsed = JSON.parse(r.priv) as { authentication_string?: string; auth_or?: { authentication_string?: string }[] };
      for (const v of [parsed.authentication_string, ...(parsed.auth_or ?? []).map((a) => a.authentication_string)]) if (v && v.length >= 16) hashes.add(v);
    }

    // MongoDB: a root user; admin.system.users holds every user's SCRAM-SHA-256 verifier.
    mongo = await startMongoStandIn({
      dataset: {
        databases: [{ name: 'app', collections: [{ name: 'orders', type: 'collection', documents: [{ _id: 1 }] }] }],
        roles: [],
        users: [
          { user: mongoUser, db: 'admin', password: mongoPassword, roles: [{ role: 'root', db: 'admin' }] },
          { user: 'app', db: 'admin', password: `pw-${hex()}`, roles: [{ role: 'read', db: 'app' }] },
        ],
      },
      serveSystemUsers: true,
    });
    const client = new MongoClient(`mongodb://${mongo.host}:${mongo.port}/?directConnection=true`, {
      auth: { username: mongoUser, password: mongoPassword },
      authSource: 'admin',
    });
    try {
      for (const u of await client.db('admin').collection('system.users').find({}).toArray()) {
        for (const scram of Object.values((u.credentials ?? {}) as Record<string, Document>)) {
          for (const k of ['salt', 'storedKey', 'serverKey']) if (typeof scram[k] === 'string') hashes.add(scram[k] as string);
        }
      }
    } finally {
      await client.close();
    }
    for (const h of hashes) registerSecret('a credential of a system table', h);

    [closed, opened] = await Promise.all([
      startConfiguredDaemon({ plugins: PLUGINS }),
      // Opted in, and no name masks at all: only the connectors' credential columns stay masked.
      startConfiguredDaemon({ plugins: PLUGINS, preview: { allowSystemSchemas: true, maskColumns: [] } }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([closed?.stop(), opened?.stop()]);
    await mongo?.stop();
    await superuserQuery(pg, `drop owned by ${pgRole}`).catch(() => undefined);
    await superuserQuery(pg, `drop server if exists sys_srv_${tag} cascade`).catch(() => undefined);
    await superuserQuery(pg, `drop foreign data wrapper if exists sys_fdw_${tag} cascade`).catch(() => undefined);
    await superuserQuery(pg, `drop role if exists ${pgRole}`).catch(() => undefined);
    await rootQuery(maria, `DROP USER IF EXISTS '${mariaUser}'@'%'`).catch(() => undefined);
  });

  /** The test found what it looks for: otherwise "nothing leaked" would prove nothing. */
  it('found the databases’ own hashes and verifiers', () => {
    expect([...hashes].filter((h) => h.startsWith('SCRAM-SHA-256$')).length).toBeGreaterThan(0);
    expect([...hashes].some((h) => h.startsWith('*') && h.length === 41)).toBe(true); // mysql_native_password
    expect(hashes.size).toBeGreaterThan(8);
  });

  const deadline = () => ({ deadline: Date.now() + 20_000 });
  const previewOn = (d: ConfiguredDaemon, dataSource: DataSource, table: { schema: string; name: string }, columns: string[] = []) =>
    collect<PreviewTableResponse>(d.dataSources.previewTable(PreviewTableRequest.fromPartial({ dataSource, table, columns }), new Metadata(), deadline()));
  const profileOn = (d: ConfiguredDaemon, dataSource: DataSource, table: { schema: string; name: string }, mode: ProfileMode) =>
    collect<ProfileTableResponse>(d.dataSources.profileTable(ProfileTableRequest.fromPartial({ dataSource, table, mode }), new Metadata(), deadline()));
  /** Everything a caller and an operator saw of the daemons so far. */
  const seen = (texts: string[]) => [...texts, closed.daemon.stdout(), closed.daemon.stderr(), opened.daemon.stdout(), opened.daemon.stderr()].join('\n');
  const leaked = (text: string) => [...hashes].filter((h) => text.includes(h)).length;

  describe.each(targets.map((t) => [t.name, t] as const))('%s', (_, target) => {
    const tables = target.tables.map((t) => [`${t.schema}.${t.name}`, t] as const);
    /** By default: PERMISSION_DENIED before anything is read, with a stable reason and the setting to change. */
    it.each(tables)('refuses to preview or profile %s by default', async (_name, table) => {
      const texts: string[] = [];
      for (const call of [
        previewOn(closed, target.source(), table),
        profileOn(closed, target.source(), table, ProfileMode.PROFILE_MODE_STATISTICS),
        profileOn(closed, target.source(), table, ProfileMode.PROFILE_MODE_SAMPLE),
      ]) {
        const error = await expectFailure(call);
        const rich = richStatusOf(error);
        texts.push(JSON.stringify(rich));
        expect(rich.grpcCode).toBe(status.PERMISSION_DENIED);
        expect(rich.errorInfo?.reason).toBe('SYSTEM_TABLE_NOT_ALLOWED');
        expect(rich.errorInfo?.metadata).toMatchObject({ schema: table.schema, table: table.name, setting: 'preview.allowSystemSchemas' });
        expect(rich.message).toContain('preview.allowSystemSchemas: true');
      }
      expect(leaked(seen(texts))).toBe(0);
    });

    /** Opted in: the previews and profiles work, the credential column is masked, and no hash or verifier leaves. */
    it.each(tables)('masks the credentials of %s when system schemas are allowed', async (_name, table) => {
      const whole = await previewOn(opened, target.source(), table);
      const header = whole.find((e) => e.event?.$case === 'header');
      const columns = header?.event?.$case === 'header' ? header.event.value.columns : [];
      const rows = whole.flatMap((e) => (e.event?.$case === 'rows' ? e.event.value.rows : []));
      expect(rows.length).toBeGreaterThan(0); // the table was read: its credentials were there to leak
      if (target.name === 'MongoDB') {
        // Whole documents: the credentials field is left out of the projection.
        const docs = rows.map((r) => (r.cells[0]?.value?.$case === 'json' ? r.cells[0].value.value : ''));
        expect(docs.join('\n')).toContain(`"user":"${mongoUser}"`);
        expect(docs.join('\n')).not.toContain('SCRAM-SHA-256');
      } else {
        expect(columns.find((c) => c.name === table.credential)?.masked).toBe(true);
      }
      expect(whole.at(-1)?.event?.$case).toBe('summary');
      const chosen = await previewOn(opened, target.source(), table, [table.credential]);
      const statistics = await profileOn(opened, target.source(), table, ProfileMode.PROFILE_MODE_STATISTICS);
      const sample = await profileOn(opened, target.source(), table, ProfileMode.PROFILE_MODE_SAMPLE);
      for (const events of [chosen, statistics, sample]) expect(events.at(-1)?.event?.$case).toBe('summary');
      const summary = chosen.at(-1)?.event;
      expect(summary?.$case === 'summary' ? summary.value.maskedColumns : []).toEqual([table.credential]);
      expect(leaked(seen([JSON.stringify([whole, chosen, statistics, sample])]))).toBe(0);
    });
  });
});
