/**
 * Credentials encrypted at rest (issue 20) through a daemon: EncryptSecret and ReencryptSecret
 * over gRPC, a PostgreSQL validation and discovery whose password is an envelope (the harness
 * PostgreSQL), key rotation with the local keyring file, every bad envelope as a status (and as
 * the credentials check failing in a validation stream), RBAC key grants, the audit lines, and
 * a fuzz pass over envelope bytes. The secret scan of this file also covers the audit log and
 * every error status.
 *
 * Why one file (~430 lines): every case runs through the one daemon the set-up starts with its keyring file, RBAC tokens
 * and audit log, which the rotation, grant and audit cases then read back.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DataSource, SecretServiceClient, type EncryptSecretResponse, type ReencryptSecretResponse } from '@sourced/api';
import {
  createLocalKeyProvider,
  definePlugin,
  ENVELOPE_PREFIX,
  KeyProviderUnavailableError,
  noopLogger,
  sealEnvelope,
  Secret,
  type KeyProvider,
} from '@sourced/core';
import { DEFAULT_CONFIG } from '../daemon/src';
import { verifyAuditLog } from '../daemon/src/audit';
import { hashToken } from '../daemon/src/security/authenticate';
import { startTestDaemon as startSdkTestDaemon, richStatusOf, expectFailure, collect, type TestDaemon } from '../sdk/src/testing';
import { superuserQuery } from './support/pg';
import { freePort } from './harness/ports';
import { captureSource, captureText, registerSecret, spansText } from './support/secretScan';
import { check } from './support/validation';

const key = () => randomBytes(32).toString('base64');
const K1 = key();
const K2 = key();
const ring = (current: string, keys: Record<string, string>, disabled: string[] = []) => JSON.stringify({ current, keys, disabled });
const token = (name: string) => `${name}-${randomBytes(12).toString('hex')}`;

describe('envelope encryption through the daemon', () => {
  const pg = inject('postgres');
  const dir = mkdtempSync(join(tmpdir(), 'sourced-enc-'));
  const keyring = join(dir, 'keyring.json');
  const auditFile = join(dir, 'audit.log');
  const tokens = { platform: token('platform'), nokeys: token('nokeys'), readonly: token('readonly') };
  let downPort = 0;
  let t: TestDaemon;
  let secrets: SecretServiceClient;

  /** A key provider plugin whose service is down: it calls a local port nothing listens on. */
  const remote: KeyProvider = {
    id: 'remote-test',
    generateDataKey: () => httpCall(downPort),
    decryptDataKey: () => httpCall(downPort),
  };

  /** The local provider under another name, registering every data key it makes with the secret scan. */
  const recordingBase = createLocalKeyProvider({ json: ring('r1', { r1: K1 }) });
  let dataKeys = 0;
  const noteKey = (k: Uint8Array) => {
    dataKeys += 1;
    registerSecret(`data key ${dataKeys} (base64)`, Buffer.from(k).toString('base64'));
    registerSecret(`data key ${dataKeys} (base64url)`, Buffer.from(k).toString('base64url'));
    registerSecret(`data key ${dataKeys} (hex)`, Buffer.from(k).toString('hex'));
  };
  const recording: KeyProvider = {
    id: 'recording',
    currentKeyId: () => 'r1',
    generateDataKey: async (r, c) => {
      const k = await recordingBase.generateDataKey(r, c);
      noteKey(k.plaintext);
      return k;
    },
    decryptDataKey: async (r, c) => {
      const k = await recordingBase.decryptDataKey(r, c);
      noteKey(k);
      return k;
    },
  };

  const meta = (who: keyof typeof tokens) => {
    const m = new Metadata();
    m.set('authorization', `Bearer ${tokens[who]}`);
    return m;
  };
  const encrypt = (
    plaintext: string,
    context: { dataSourceId: string; field: string },
    who: keyof typeof tokens = 'platform',
    extra: { keyProvider?: string; keyId?: string } = {},
  ) =>
    new Promise<EncryptSecretResponse>((resolve, reject) =>
      secrets.encryptSecret({ plaintext, context, keyProvider: extra.keyProvider ?? '', keyId: extra.keyId ?? '' }, meta(who), (e, r) =>
        e ? reject(e) : resolve(r),
      ),
    );
  const reencrypt = (envelope: string, context: { dataSourceId: string; field: string }, who: keyof typeof tokens = 'platform') =>
    new Promise<ReencryptSecretResponse>((resolve, reject) =>
      secrets.reencryptSecret({ envelope, context, keyProvider: '', keyId: '' }, meta(who), (e, r) => (e ? reject(e) : resolve(r))),
    );
  const source = (envelope: string, id = 'orders-db', database = pg.database) =>
    DataSource.fromPartial({
      id,
      type: 'postgres',
      primary: { host: pg.host, port: pg.port, database },
      credentials: { username: pg.user, password: { source: { $case: 'encrypted', value: envelope } } },
    });
  const validate = (ds: DataSource, who: keyof typeof tokens = 'platform') => t.validate({ dataSource: ds }, { metadata: meta(who) });
  const discover = (ds: DataSource, who: keyof typeof tokens = 'platform') =>
    collect(t.dataSources.discoverDataSource({ dataSource: ds, strategy: 0, batchSize: 0, resumeAfter: '', maxEntities: 0, maxDurationMs: 0 }, meta(who)));
  const failure = async (call: Promise<unknown>) => {
    const error = await expectFailure(call);
    captureText('error statuses', JSON.stringify({ message: error.message, details: richStatusOf(error) }));
    const rich = richStatusOf(error);
    return {
      code: rich.grpcCode,
      reason: rich.errorInfo?.reason,
      metadata: rich.errorInfo?.metadata ?? {},
      message: rich.message,
      violations: rich.badRequest ?? [],
    };
  };
  const ctx = { dataSourceId: 'orders-db', field: 'credentials.password' };

  beforeAll(async () => {
    downPort = await freePort();
    writeFileSync(keyring, ring('k1', { k1: K1 }));
    for (const [name, value] of Object.entries(tokens)) registerSecret(`${name} token`, value);
    registerSecret('K1', K1);
    registerSecret('K2', K2);
    const granted = { connectors: ['postgres'], hosts: [pg.host], secrets: [] };
    t = await startSdkTestDaemon({
      builtins: true,
      plugins: [
        definePlugin({
          id: 'remote-keys',
          version: '1.0.0',
          sdk: '^1.0.0',
          register: (r) => {
            r.registerKeyProvider(remote);
            r.registerKeyProvider(recording);
          },
        }),
      ],
      config: {
        pluginSettings: { 'builtin-secrets': { keyringFile: keyring } },
        auth: { tokens: Object.entries(tokens).map(([principal, value]) => ({ principal, sha256: hashToken(value) })) },
        audit: { ...DEFAULT_CONFIG.audit, file: auditFile, stdout: false },
        rbac: {
          roles: {
            platform: { rpcs: ['sourced.v1.SecretService/*', 'sourced.v1.DataSourceService/*'], ...granted, keys: ['local:*', 'remote-test:*', 'recording:*'] },
            nokeys: { rpcs: ['sourced.v1.SecretService/*', 'sourced.v1.DataSourceService/*'], ...granted, keys: [] },
            readonly: { rpcs: ['sourced.v1.DataSourceService/*'], ...granted, keys: ['local:*'] },
          },
          bindings: { platform: ['platform'], nokeys: ['nokeys'], readonly: ['readonly'] },
        },
      } as never,
    });
    captureSource('daemon log lines', () => t.logs.join('\n'));
    captureSource('exported spans', () => spansText(t.spans.getFinishedSpans()));
    captureSource('audit log', () => readFileSync(auditFile, 'utf8'));
    secrets = new SecretServiceClient(t.address, credentials.createInsecure());
  });
  afterAll(async () => {
    secrets?.close();
    await t?.stop();
  });

  it('EncryptSecret returns an envelope; a PostgreSQL validation and discovery use it as the password', async () => {
    registerSecret('pg password', pg.password);
    const sealed = await encrypt(pg.password, ctx);
    expect(sealed.envelope.startsWith(ENVELOPE_PREFIX)).toBe(true);
    expect(sealed.key).toEqual({ keyProvider: 'local', keyId: 'k1' });
    expect(sealed.envelope).not.toContain(Buffer.from(pg.password).toString('base64url').slice(0, 8));

    const events = await validate(source(sealed.envelope));
    const creds = check(events, 'resolve-credentials');
    expect(creds.status).toBe(1); // PASSED
    expect(creds.details['password.source']).toBe('encrypted (local:k1)');
    // The server accepted the decrypted password: the authentication check passed against PostgreSQL itself.
    expect(check(events, 'authenticate').status).toBe(1);

    // A database of its own: the shared fixture database's catalog is what other suites compare against.
    const database = `sourced_enc20_${process.pid}_${Date.now()}`;
    const own = { ...pg, database };
    await superuserQuery(pg, `CREATE DATABASE ${database}`);
    try {
      await superuserQuery(own, 'CREATE SCHEMA enc20; CREATE TABLE enc20.probe (id int primary key, note text)');
      await superuserQuery(own, `GRANT USAGE ON SCHEMA enc20 TO ${pg.user}; GRANT SELECT ON enc20.probe TO ${pg.user}`);
      const expected = await superuserQuery<{ name: string }>(
        own,
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'enc20' ORDER BY 1",
      );
      // The envelope is bound to the data source id and field, not to the database it names.
      const discovered = (await discover(source(sealed.envelope, 'orders-db', database)))
        .flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.relations : []))
        .filter((r) => r.schema === 'enc20')
        .map((r) => r.name);
      expect(expected.map((r) => r.name)).toEqual(['probe']);
      expect(discovered).toEqual(expected.map((r) => r.name));
    } finally {
      await superuserQuery(pg, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    }
  });

  it('every bad envelope is a clear status on discovery and the credentials check failing on validation, never INTERNAL', async () => {
    const good = (await encrypt(pg.password, ctx)).envelope;
    const bytes = Buffer.from(good.slice(ENVELOPE_PREFIX.length), 'base64url');
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 3] ^= 0xff;
    const otherKeyring = createLocalKeyProvider({ json: ring('k1', { k1: K2 }) });
    const foreign = (
      await sealEnvelope(new Secret('whatever-value', 't'), ctx, otherKeyring, { signal: AbortSignal.timeout(5000), logger: noopLogger, field: 'x' })
    ).envelope;
    const unknownKey = (
      await sealEnvelope(new Secret('whatever-value', 't'), ctx, createLocalKeyProvider({ json: ring('k9', { k9: K1 }) }), {
        signal: AbortSignal.timeout(5000),
        logger: noopLogger,
        field: 'x',
      })
    ).envelope;
    const down = (
      await sealEnvelope(
        new Secret('whatever-value', 't'),
        ctx,
        { ...createLocalKeyProvider({ json: ring('k1', { k1: K1 }) }), id: 'remote-test' },
        { signal: AbortSignal.timeout(5000), logger: noopLogger, field: 'x' },
      )
    ).envelope;
    const cases: { name: string; ds: DataSource; code: number; reason: string }[] = [
      { name: 'tampered', ds: source(ENVELOPE_PREFIX + flipped.toString('base64url')), code: status.INVALID_ARGUMENT, reason: 'ENVELOPE_TAMPERED' },
      { name: 'truncated', ds: source(good.slice(0, good.length - 30)), code: status.INVALID_ARGUMENT, reason: 'ENVELOPE_MALFORMED' },
      { name: 'not an envelope', ds: source('sourced:enc:v1:%%%'), code: status.INVALID_ARGUMENT, reason: 'ENVELOPE_MALFORMED' },
      { name: 'another version', ds: source('sourced:enc:v7:AAAA'), code: status.INVALID_ARGUMENT, reason: 'ENVELOPE_UNSUPPORTED' },
      { name: 'foreign keyring', ds: source(foreign), code: status.INVALID_ARGUMENT, reason: 'ENVELOPE_DATA_KEY_INVALID' },
      { name: 'another data source', ds: source(good, 'billing-db'), code: status.PERMISSION_DENIED, reason: 'ENVELOPE_CONTEXT_MISMATCH' },
      { name: 'unknown key id', ds: source(unknownKey), code: status.FAILED_PRECONDITION, reason: 'ENCRYPTION_KEY_NOT_FOUND' },
      { name: 'key provider down', ds: source(down), code: status.UNAVAILABLE, reason: 'ENCRYPTION_KEY_PROVIDER_UNAVAILABLE' },
    ];
    for (const c of cases) {
      const f = await failure(discover(c.ds));
      expect({ name: c.name, code: f.code, reason: f.reason }).toEqual({ name: c.name, code: c.code, reason: c.reason });
      expect(f.metadata.hint, c.name).toBeTruthy();
      expect(f.message).not.toContain(pg.password);
      const events = await validate(c.ds);
      const creds = check(events, 'resolve-credentials');
      expect({ name: c.name, status: creds.status }).toEqual({ name: c.name, status: 2 }); // FAILED
      expect(creds.hint, c.name).toBe(f.metadata.hint);
      expect(check(events, 'authenticate').status, c.name).not.toBe(1);
    }
    // The same envelope in another field (ssl key is bound to ssl_config.key): context mismatch.
    const moved = DataSource.fromPartial({ ...source('x'), credentials: { username: pg.user }, connectionProperties: { password: good } });
    expect(await failure(discover(moved))).toMatchObject({ code: status.PERMISSION_DENIED, reason: 'ENVELOPE_CONTEXT_MISMATCH' });
    // Without a data source id there is no context to open it with.
    expect(await failure(discover(source(good, '')))).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'ENCRYPTION_CONTEXT_INVALID' });
  });

  it('the plugin records name each plugin\u2019s key providers (what ListPlugins answers; test/aws.kms.test.ts asks it)', () => {
    const records = t.daemon.container.cradle.pluginRegistry.list();
    expect(Object.fromEntries(records.filter((r) => r.keyProviders?.length).map((r) => [r.id, r.keyProviders]))).toEqual({
      'builtin-secrets': ['local'],
      aws: ['aws-kms'],
      azure: ['azure-kv-keys'],
      'remote-keys': ['remote-test', 'recording'],
    });
  });

  it('refuses bad EncryptSecret and ReencryptSecret requests with field and hint', async () => {
    const bad = await failure(encrypt('', { dataSourceId: '', field: 'data_source.credentials.password' }));
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(bad.violations.map((v) => v.field).sort()).toEqual(['context.data_source_id', 'context.field', 'plaintext']);
    expect(await failure(encrypt('v4lue-x', ctx, 'platform', { keyProvider: 'nope' }))).toMatchObject({
      code: status.FAILED_PRECONDITION,
      reason: 'ENCRYPTION_KEY_PROVIDER_NOT_LOADED',
    });
    expect(await failure(encrypt('v4lue-x', ctx, 'platform', { keyId: 'k77' }))).toMatchObject({
      code: status.FAILED_PRECONDITION,
      reason: 'ENCRYPTION_KEY_NOT_FOUND',
    });
    expect(await failure(encrypt('v4lue-x', ctx, 'platform', { keyProvider: 'remote-test' }))).toMatchObject({
      code: status.UNAVAILABLE,
      reason: 'ENCRYPTION_KEY_PROVIDER_UNAVAILABLE',
    });
    expect(await failure(reencrypt('sourced:enc:v1:AAAA', ctx))).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'ENVELOPE_MALFORMED' });
    const good = (await encrypt('v4lue-x', ctx)).envelope;
    expect(await failure(reencrypt(good, { ...ctx, dataSourceId: 'other' }))).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: 'ENVELOPE_CONTEXT_MISMATCH',
    });
    registerSecret('v4lue-x', 'v4lue-x');
  });

  it('RBAC: encrypting needs the RPC and the key; a call whose password is an envelope needs its key', async () => {
    const good = (await encrypt(pg.password, ctx)).envelope;
    const rpc = await failure(encrypt('s3cret-rbac', ctx, 'readonly'));
    expect(rpc).toMatchObject({ code: status.PERMISSION_DENIED, reason: 'MISSING_GRANT', metadata: { grant: 'rpc' } });
    const keyDenied = await failure(encrypt('s3cret-rbac', ctx, 'nokeys'));
    expect(keyDenied).toMatchObject({ code: status.PERMISSION_DENIED, reason: 'MISSING_GRANT', metadata: { grant: 'key', value: 'local:k1' } });
    const useDenied = await failure(discover(source(good), 'nokeys'));
    expect(useDenied).toMatchObject({ code: status.PERMISSION_DENIED, reason: 'MISSING_GRANT', metadata: { grant: 'key' } });
    expect(useDenied.message).toContain('local:k1');
    expect(await failure(reencrypt(good, ctx, 'nokeys'))).toMatchObject({ code: status.PERMISSION_DENIED, reason: 'MISSING_GRANT' });
    // The read-only role may use the envelope (it holds local:*), not make one.
    expect(check(await validate(source(good), 'readonly'), 'resolve-credentials').status).toBe(1);
    registerSecret('s3cret-rbac', 's3cret-rbac');
  });

  it('rotation: old envelopes still open, ReencryptSecret moves them, then the old key is retired', async () => {
    writeFileSync(keyring, ring('k1', { k1: K1 }));
    const old = (await encrypt(pg.password, ctx)).envelope;
    writeFileSync(keyring, ring('k2', { k1: K1, k2: K2 }) + '\n');
    expect(check(await validate(source(old)), 'resolve-credentials').details['password.source']).toBe('encrypted (local:k1)');
    const fresh = await encrypt(pg.password, ctx);
    expect(fresh.key?.keyId).toBe('k2');
    const moved = await reencrypt(old, ctx);
    expect(moved.key).toEqual({ keyProvider: 'local', keyId: 'k2' });
    expect(moved.previousKey).toEqual({ keyProvider: 'local', keyId: 'k1' });
    expect(moved.envelope).not.toBe(old);
    // Disabled first (shows what was missed), then retired.
    writeFileSync(keyring, ring('k2', { k1: K1, k2: K2 }, ['k1']));
    expect(await failure(discover(source(old)))).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'ENCRYPTION_KEY_DISABLED' });
    writeFileSync(keyring, ring('k2', { k2: K2 }) + '\n\n');
    const retired = await failure(discover(source(old)));
    expect(retired).toMatchObject({ code: status.FAILED_PRECONDITION, reason: 'ENCRYPTION_KEY_NOT_FOUND', metadata: { key_id: 'k1', key_provider: 'local' } });
    const events = await validate(source(moved.envelope));
    expect(check(events, 'resolve-credentials').details['password.source']).toBe('encrypted (local:k2)');
    expect(check(events, 'authenticate').status).toBe(1);
  });

  it('fuzz: mutated envelope bytes are always refused with a caller status, and the daemon keeps serving', async () => {
    writeFileSync(keyring, ring('k2', { k2: K2 }));
    const good = (await encrypt(pg.password, ctx)).envelope;
    const bytes = Buffer.from(good.slice(ENVELOPE_PREFIX.length), 'base64url');
    let seed = 20261207;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const codes = new Map<number, number>();
    const allowed = new Set([status.INVALID_ARGUMENT, status.PERMISSION_DENIED, status.FAILED_PRECONDITION]);
    const N = 200;
    for (let i = 0; i < N; i++) {
      const b = Buffer.from(bytes);
      const kind = rand(4);
      let mutated: Buffer;
      if (kind === 0) {
        for (let j = 0; j <= rand(4); j++) b[rand(b.length)] = rand(256);
        mutated = b;
      } else if (kind === 1) mutated = b.subarray(0, rand(b.length));
      else if (kind === 2) mutated = Buffer.concat([b, randomBytes(1 + rand(64))]);
      else {
        const at = rand(b.length);
        mutated = Buffer.concat([b.subarray(0, at), randomBytes(rand(8)), b.subarray(at + rand(8))]);
      }
      if (mutated.equals(bytes)) continue;
      const error = await expectFailure(discover(source(ENVELOPE_PREFIX + mutated.toString('base64url'))));
      expect(allowed.has(error.code), `mutation ${i}: ${status[error.code]} ${error.message}`).toBe(true);
      codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
    }
    expect([...codes.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(N * 0.9);
    expect(check(await validate(source(good)), 'authenticate').status).toBe(1);
  });

  it('leak scan: no data key, keyring key or value appears in logs, spans, events, statuses or the audit log', async () => {
    registerSecret('K1 (hex)', Buffer.from(K1, 'base64').toString('hex'));
    registerSecret('K2 (hex)', Buffer.from(K2, 'base64').toString('hex'));
    const value = `leak-probe-${randomBytes(8).toString('hex')}`;
    registerSecret('encrypted value', value);
    const sealed = await encrypt(value, { dataSourceId: 'orders-db', field: 'additional_properties.api_token' }, 'platform', { keyProvider: 'recording' });
    expect(sealed.key).toEqual({ keyProvider: 'recording', keyId: 'r1' });
    const withPassword = await encrypt(pg.password, ctx, 'platform', { keyProvider: 'recording' });
    const events = await validate(source(withPassword.envelope));
    expect(check(events, 'authenticate').status).toBe(1);
    await reencrypt(withPassword.envelope, ctx);
    // A failed open still never shows the value: the same envelope in the wrong field.
    const wrongField = DataSource.fromPartial({
      ...source('x'),
      credentials: { username: pg.user },
      additionalProperties: { api_token: sealed.envelope, password: sealed.envelope },
    });
    expect((await failure(discover(wrongField))).reason).toBe('ENVELOPE_CONTEXT_MISMATCH');
    // generate (2) + decrypt (1) + reencrypt (decrypt + generate) = 5 data keys, all registered with the scan that runs after this file.
    expect(dataKeys).toBe(5);
  });

  it('the audit log records key provider, key id and outcome of each use, never a value or envelope, and verifies', async () => {
    await new Promise((r) => setTimeout(r, 200));
    const lines = readFileSync(auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const encrypts = lines.filter((l) => l.rpc === 'sourced.v1.SecretService/EncryptSecret' && l.outcome === 'OK');
    expect(encrypts.length).toBeGreaterThan(0);
    expect(encrypts[0]).toMatchObject({
      data_source: { id: 'orders-db' },
      keys: [{ operation: 'encrypt', key_provider: 'local', key_id: 'k1', outcome: 'OK' }],
    });
    const reencrypts = lines.filter((l) => l.rpc === 'sourced.v1.SecretService/ReencryptSecret' && l.outcome === 'OK');
    expect(reencrypts[0]?.keys).toEqual([
      { operation: 'decrypt', key_provider: 'local', key_id: 'k1', outcome: 'OK' },
      { operation: 'reencrypt', key_provider: 'local', key_id: 'k2', outcome: 'OK' },
    ]);
    const tampered = lines.find((l) => (l.keys as { outcome: string }[] | undefined)?.some((k) => k.outcome === 'ENVELOPE_TAMPERED'));
    expect(tampered).toMatchObject({
      outcome: 'INVALID_ARGUMENT',
      keys: [{ operation: 'decrypt', key_provider: 'local', key_id: 'k1', outcome: 'ENVELOPE_TAMPERED' }],
    });
    const text = readFileSync(auditFile, 'utf8');
    expect(text).not.toContain(ENVELOPE_PREFIX);
    await t.stop();
    const report = await verifyAuditLog(auditFile);
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });
});

/** A request to a local port nothing listens on: the key provider's service is down. */
function httpCall(port: number): Promise<never> {
  return new Promise((_, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/decrypt' }, () =>
      reject(new KeyProviderUnavailableError('x', 'remote-test', 'unexpected answer')),
    );
    req.on('error', (e) => reject(e));
    req.end();
  });
}
