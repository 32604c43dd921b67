/**
 * Issue 15, items 1, 2 and 5, replayed against `sourced serve` processes with canary secrets in
 * their environment: `file://` traversal out of an allowed folder, secrets of another team
 * reached through a data source's `id` and the chain's fallbacks, and files named by
 * `ssl_config`. A stand-in PostgreSQL that asks for a cleartext password records what the
 * daemon sends; a real PostgreSQL role shows a stolen password would have logged in.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DataSource, SslMode } from '@sourced/api';
import { DataSourceServiceClient, type ValidateDataSourceResponse } from '@sourced/api';
import { hashToken } from '../../daemon/src/security/authenticate';
import { startPasswordRecorder, type PasswordRecorder } from '../harness/passwordRecorder';
import { superuserQuery } from '../support/pg';
import { registerSecret } from '../support/secretScan';
import { collect, expectFailure, richStatusOf } from '../support/testDaemon';
import { checkOf, inline, reference } from '../support/tlsChecks';
import { startDaemonProcess, type DaemonProcess } from './support/processes';

const hex = () => randomBytes(10).toString('hex');

describe('secret attacks against a daemon process (issue 15: 1, 2, 5)', () => {
  const pg = inject('postgres');
  const pgTls = inject('postgresTls');
  const dir = mkdtempSync(join(tmpdir(), 'sourced-secret-attack-'));
  const secretsDir = join(dir, 'secrets');
  const tlsDir = join(dir, 'tls');
  const outside = join(dir, 'outside');
  /** In the daemon's environment only: /proc/self/environ would carry it. */
  const envCanary = `canary-env-${hex()}`;
  /** A file outside every allowed folder. */
  const fileCanary = `canary-file-${hex()}`;
  /** Team B's database password (a real role has it), in the daemon's environment. */
  const teamBPassword = `canary-team-b-${hex()}`;
  const teamBRole = `team_b_${hex()}`;
  /** Team B's TLS client key, in the daemon's environment. */
  const teamBKey = `-----BEGIN PRIVATE KEY-----\ncanary-team-b-key-${hex()}\n-----END PRIVATE KEY-----`;
  const token = `reader-${hex()}`;
  let narrowed: DaemonProcess;
  let rbac: DaemonProcess;
  let recorder: PasswordRecorder;
  let narrowedClient: DataSourceServiceClient;
  let rbacClient: DataSourceServiceClient;

  const daemonEnv = {
    CANARY_ENV_SECRET: envCanary,
    SOURCED_SECRET_TEAM_B_PASSWORD: teamBPassword,
    SOURCED_SECRET_TEAM_B_SSL_KEY: teamBKey,
  };

  async function serve(name: string, config: object): Promise<DaemonProcess> {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify({ plugins: ['@sourced/plugin-postgres'], ...config }));
    return startDaemonProcess({ args: ['--config', file], env: daemonEnv });
  }

  beforeAll(async () => {
    for (const [label, value] of Object.entries({ envCanary, fileCanary, teamBPassword, teamBKey, token })) registerSecret(label, value);
    mkdirSync(join(secretsDir, 'sub'), { recursive: true });
    mkdirSync(join(tlsDir, 'sub'), { recursive: true });
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(secretsDir, 'pg'), `${pg.password}\n`);
    writeFileSync(join(outside, 'canary'), fileCanary);
    writeFileSync(join(outside, 'client.key'), teamBKey);
    writeFileSync(join(tlsDir, 'ca.pem'), pgTls.caCertPem ?? '');
    symlinkSync('/proc/self/environ', join(secretsDir, 'environ'));
    symlinkSync(join(outside, 'canary'), join(secretsDir, 'escape'));
    symlinkSync(join(outside, 'client.key'), join(tlsDir, 'escape.pem'));
    await superuserQuery(pg, `create role ${teamBRole} login password '${teamBPassword}'`);
    recorder = await startPasswordRecorder();
    [narrowed, rbac] = await Promise.all([
      // Auth off, a narrowed secret policy: team A's variables and two folders.
      serve('narrowed', {
        secrets: { allowedReferences: ['env://SOURCED_SECRET_TEAM_A_*', `file://${secretsDir}/*`, `file://${tlsDir}/*`] },
      }),
      // Bearer tokens and RBAC: the reader's role grants team A's variables only.
      serve('rbac', {
        auth: { tokens: [{ principal: 'reader', sha256: hashToken(token) }] },
        rbac: {
          roles: {
            'team-a': { rpcs: ['sourced.v1.DataSourceService/*'], connectors: ['postgres'], hosts: ['127.0.0.1'], secrets: ['env://SOURCED_SECRET_TEAM_A_*'] },
          },
          bindings: { reader: ['team-a'] },
        },
      }),
    ]);
    narrowedClient = new DataSourceServiceClient(narrowed.address, credentials.createInsecure());
    rbacClient = new DataSourceServiceClient(rbac.address, credentials.createInsecure());
  });

  afterAll(async () => {
    narrowedClient?.close();
    rbacClient?.close();
    await Promise.all([narrowed?.terminate(), rbac?.terminate(), recorder?.close()]);
    await superuserQuery(pg, `drop role if exists ${teamBRole}`).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const auth = () => {
    const m = new Metadata();
    m.set('authorization', `Bearer ${token}`);
    return m;
  };
  const toRecorder = (extra: Partial<DataSource>) =>
    DataSource.fromPartial({
      type: 'postgres',
      primary: { host: recorder.host, port: recorder.port, database: 'postgres' },
      credentials: { username: 'victim' },
      ...extra,
    });
  const toPg = (extra: Partial<DataSource>) =>
    DataSource.fromPartial({ type: 'postgres', primary: { host: pg.host, port: pg.port, database: pg.database }, ...extra });
  const validate = (client: DataSourceServiceClient, dataSource: DataSource, metadata = new Metadata()) =>
    collect<ValidateDataSourceResponse>(client.validateDataSource({ dataSource, checkTimeoutMs: 5000 }, metadata));
  const discover = (client: DataSourceServiceClient, dataSource: DataSource, metadata = new Metadata()) =>
    collect(client.discoverDataSource({ dataSource, strategy: 0, batchSize: 0, resumeAfter: '', maxEntities: 1, maxDurationMs: 0 }, metadata));
  /** The call's outcome: its status and message, or the checks that ran (id: state). */
  async function outcome(call: Promise<ValidateDataSourceResponse[]>) {
    try {
      const events = await call;
      const checks = Object.fromEntries(
        events.flatMap((e) => (e.event?.$case === 'checkFinished' ? [[e.event.value.checkId, e.event.value.status]] : [])),
      ) as Record<string, number>;
      return { events, checks, code: status.OK, message: '', rich: undefined };
    } catch (error) {
      const failure = await expectFailure(Promise.reject(error));
      const rich = richStatusOf(failure);
      return { events: [], checks: {} as Record<string, number>, code: failure.code, message: rich.message, rich };
    }
  }
  const sent = () => recorder.passwords.join('\n');
  const leaked = () => [envCanary, fileCanary, teamBPassword, teamBKey].some((c) => sent().includes(c));

  describe('1. file:// traversal', () => {
    /** `..`, `.`, empty segments and percent escapes are refused before the policy is matched: INVALID_ARGUMENT naming the field. */
    it('refuses a reference that is not a normalised absolute path, before any link is tried', async () => {
      const forms = [
        `file://${secretsDir}/../../../../../../proc/self/environ`,
        `file://${secretsDir}/./../outside/canary`,
        `file://${secretsDir}//pg`,
        `file://${secretsDir}/%2e%2e/outside/canary`,
        `file://${secretsDir}/sub/..`,
      ];
      for (const form of forms) {
        const r = await outcome(validate(narrowedClient, toRecorder({ credentials: { username: 'victim', password: reference(form) } })));
        expect(r.code, form).toBe(status.INVALID_ARGUMENT);
        expect(r.rich?.badRequest?.[0]?.field, form).toBe('data_source.credentials.password.reference');
        expect(r.message, form).toMatch(/normalised absolute path/);
      }
      expect(recorder.passwords).toEqual([]);
    });

    /** A name under the allowed folder whose real path is elsewhere (symlinks) is not read; /proc never is. */
    it('follows symlinks to the real path and refuses one outside the allowed folders, and /proc', async () => {
      for (const name of ['environ', 'escape']) {
        const r = await outcome(
          validate(narrowedClient, toRecorder({ credentials: { username: 'victim', password: reference(`file://${secretsDir}/${name}`) } })),
        );
        expect(checkOf(r.events, 'resolve-credentials').state, name).toBe('FAILED');
      }
      expect(leaked()).toBe(false);
      expect(recorder.passwords).toEqual([]);
    });

    /** Missing, a directory, a symlink out, a symlink into /proc: the same message, so the caller learns nothing about the host's files. */
    it('gives one identical error whether the file is missing, a directory or outside the allowed folders', async () => {
      const messages = new Set<string>();
      for (const name of ['nope', 'sub', 'escape', 'environ']) {
        const uri = `file://${secretsDir}/${name}`;
        const r = await outcome(validate(narrowedClient, toRecorder({ credentials: { username: 'victim', password: reference(uri) } })));
        const check = checkOf(r.events, 'resolve-credentials');
        messages.add(`${check.message.replaceAll(uri, 'URI')} | ${check.hint}`);
      }
      expect([...messages]).toHaveLength(1);
      expect([...messages][0]).not.toMatch(/ENOENT|EISDIR|exist|directory|symlink/i);
    });

    /** A regular file under an allowed folder still works. */
    it('still reads a regular file under an allowed folder', async () => {
      const r = await outcome(validate(narrowedClient, toPg({ credentials: { username: pg.user, password: reference(`file://${secretsDir}/pg`) } })));
      expect(checkOf(r.events, 'authenticate').state).toBe('PASSED');
    });
  });

  describe('2. secrets chosen through the id and the fallbacks', () => {
    const denied = (r: Awaited<ReturnType<typeof outcome>>) =>
      r.code === status.PERMISSION_DENIED || (r.code === status.OK && checkOf(r.events, 'resolve-credentials').state === 'FAILED');

    /** A granted but unset reference does not fall through to SOURCED_SECRET_TEAM_B_PASSWORD: the real server never sees team B's password. */
    it("does not fall back to another team's variable after a granted reference that is unset (real PostgreSQL)", async () => {
      const r = await outcome(
        validate(rbacClient, toPg({ id: 'TEAM_B', credentials: { username: teamBRole, password: reference('env://SOURCED_SECRET_TEAM_A_UNSET') } }), auth()),
      );
      expect(r.checks.authenticate ?? 0).not.toBe(1);
      expect(denied(r)).toBe(true);
      if (r.code === status.OK) expect(checkOf(r.events, 'resolve-credentials').message).toContain('env:SOURCED_SECRET_TEAM_B_PASSWORD: not tried');
    });

    /** Junk in connection_properties.password or additional_properties.password does not open the dynamic fallback either. */
    it("does not send another team's password after a junk property", async () => {
      for (const extra of [
        { connectionProperties: { password: 12345 } },
        { additionalProperties: { password: true } },
        { connectionProperties: { password: { nested: 'x' } } },
        { credentials: { username: 'victim', password: reference('env://SOURCED_SECRET_TEAM_A_UNSET') }, connectionProperties: { password: 7 } },
      ]) {
        const r = await outcome(validate(rbacClient, toRecorder({ id: 'TEAM_B', ...extra } as Partial<DataSource>), auth()));
        expect(denied(r), JSON.stringify(extra)).toBe(true);
      }
      expect(leaked()).toBe(false);
    });

    /** With auth off, a narrowed policy governs the dynamic link too: TEAM_B's variable is not allowed, so it is not read. */
    it('checks the dynamic variable against the secret policy (auth off, narrowed policy)', async () => {
      const r = await outcome(validate(narrowedClient, toRecorder({ id: 'TEAM_B' })));
      expect(r.code).toBe(status.PERMISSION_DENIED);
      expect(r.rich?.errorInfo?.reason).toBe('SECRET_REFERENCE_NOT_ALLOWED');
      expect(r.message).toContain('env://SOURCED_SECRET_TEAM_B_PASSWORD');
      expect(r.rich?.errorInfo?.metadata?.field).toBe('data_source.id');
      expect(leaked()).toBe(false);
    });

    /** The TLS client key's fallbacks are under the same rule: team B's key variable is never read for team A's caller. */
    it("does not fall back to another team's TLS key", async () => {
      const r = await outcome(
        validate(
          rbacClient,
          toRecorder({
            id: 'TEAM_B',
            credentials: { username: 'victim', password: inline('not-a-secret') },
            sslConfig: {
              mode: SslMode.SSL_MODE_REQUIRE,
              ca: '',
              cert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
              key: reference('env://SOURCED_SECRET_TEAM_A_UNSET_KEY'),
              serverName: '',
            },
          }),
          auth(),
        ),
      );
      expect(denied(r)).toBe(true);
      const resolved = r.code === status.OK ? checkOf(r.events, 'resolve-credentials') : undefined;
      expect(JSON.stringify(resolved?.details ?? {})).not.toContain('SOURCED_SECRET_TEAM_B_SSL_KEY');
    });
  });

  describe('5. files named by ssl_config', () => {
    /** Every refused path: the same status, reason and message, whether it exists, is a directory, a symlink out, or outside the allowed folders. */
    it('refuses every path outside the policy with one identical error', async () => {
      const paths = [
        '/etc/passwd',
        '/nonexistent/ca.pem',
        join(tlsDir, 'sub'),
        join(tlsDir, 'missing.pem'),
        join(tlsDir, 'escape.pem'),
        '/proc/self/environ',
        'ca.pem',
        `${tlsDir}/../outside/canary`,
      ];
      const seen = new Set<string>();
      for (const ca of paths) {
        const failure = await expectFailure(
          discover(narrowedClient, toRecorder({ sslConfig: { mode: SslMode.SSL_MODE_VERIFY_FULL, ca, cert: '', key: undefined, serverName: '' } })),
        );
        const rich = richStatusOf(failure);
        seen.add(JSON.stringify([failure.code, rich.message, rich.errorInfo?.reason, rich.badRequest]));
      }
      expect(seen.size).toBe(1);
      const [code, message, reason] = JSON.parse([...seen][0]) as [number, string, string];
      expect(code).toBe(status.PERMISSION_DENIED);
      expect(reason).toBe('SSL_PATH_NOT_ALLOWED');
      expect(message).toContain('data_source.ssl_config.ca');
      expect(message).not.toMatch(/ENOENT|EISDIR/);
    });

    /** A client key given as a path (inline) cannot make the daemon present a key file of the host as its TLS identity. */
    it('does not read a key file named by ssl_config.key', async () => {
      const failure = await expectFailure(
        discover(
          narrowedClient,
          toRecorder({
            sslConfig: { mode: SslMode.SSL_MODE_REQUIRE, ca: '', cert: join(tlsDir, 'ca.pem'), key: inline(join(outside, 'client.key')), serverName: '' },
          }),
        ),
      );
      expect(failure.code).toBe(status.PERMISSION_DENIED);
      expect(richStatusOf(failure).errorInfo?.reason).toBe('SSL_PATH_NOT_ALLOWED');
    });

    /** Inline PEM stays allowed, and so does a file under an allowed folder. */
    it('still takes inline PEM and files under an allowed folder', async () => {
      for (const ca of [pgTls.caCertPem ?? '', join(tlsDir, 'ca.pem')]) {
        const r = await outcome(
          validate(
            narrowedClient,
            DataSource.fromPartial({
              type: 'postgres',
              primary: { host: pgTls.host, port: pgTls.port, database: pgTls.database },
              credentials: { username: pgTls.user, password: inline(pgTls.password) },
              sslConfig: { mode: SslMode.SSL_MODE_VERIFY_FULL, ca, cert: '', serverName: '' },
            }),
          ),
        );
        expect(checkOf(r.events, 'tls').state, ca.slice(0, 20)).toBe('PASSED');
      }
    });
  });
});
