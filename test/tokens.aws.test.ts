import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Secret, type DatabaseTokenContext, type DatabaseTokenRequest, type DataSource as CoreDataSource, type SecretInput } from '@sourced/core';
import { RdsIamTokenProvider } from '../plugins/aws/src/rdsIamTokens';
import { CloudProvider, DataSource, Location } from '@sourced/api';
import type { ValidateDataSourceResponse } from '@sourced/api';
import { everythingVisible } from './harness/azure/sources';
import { startPostgres, type PostgresInstance } from './harness/postgres';
import { registerSecret } from './support/secretScan';
import { checkOf, inline, sslConfig } from './support/tlsChecks';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

const REGION = 'eu-west-1';
const ACCESS_KEY_ID = 'AKIAIOSFODNN7SOURCED';
const SECRET_ACCESS_KEY = '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';
const PLUGINS = ['@sourced/plugin-postgres', '@sourced/plugin-aws'];
/** The frozen instant: now, to the second (the test certificates are valid from about now on). */
const FROZEN = Math.floor(Date.now() / 1000) * 1000 + 60_000;

/** SHA-256 (and HMAC-SHA-256 with a secret) in the shape the Smithy signer takes. */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as Uint8Array));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : Buffer.from(data as Uint8Array));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

/** A core data source carrying just what the provider reads. */
function coreSource(keys = true): CoreDataSource {
  const secretInput = (value: string, field: string): SecretInput => ({ kind: 'inline', value: new Secret(value, 'inline'), field });
  return {
    cloud: {
      useIamAuth: true,
      awsRegion: REGION,
      ...(keys
        ? {
            awsAccessKeyId: secretInput(ACCESS_KEY_ID, 'cloud_config.aws_access_key_id'),
            awsSecretAccessKey: secretInput(SECRET_ACCESS_KEY, 'cloud_config.aws_secret_access_key'),
          }
        : {}),
    },
    connectionProperties: {},
  } as unknown as CoreDataSource;
}

const context: DatabaseTokenContext = {
  signal: new AbortController().signal,
  resolveSecret: async (input) => (input.kind === 'inline' ? input.value : Promise.reject(new Error('no references here'))),
  logger: {
    debug() {},
    info() {},
    warn() {},
    error() {},
    child() {
      return this;
    },
  } as unknown as DatabaseTokenContext['logger'],
};

/** The token the daemon will mint at the current (possibly fake) instant, and the signature recomputed independently. */
async function expectedToken(host: string, port: number, user: string): Promise<string> {
  const request: DatabaseTokenRequest = { source: coreSource(), host, port, user, connector: 'postgres' };
  return (await new RdsIamTokenProvider().mint(request, context)).token.reveal();
}

function parseToken(token: string): { hostPort: string; params: URLSearchParams } {
  const m = /^([^/]+)\/\?(.*)$/.exec(token);
  if (!m) throw new Error(`not an RDS token: ${token.slice(0, 40)}`);
  return { hostPort: m[1] as string, params: new URLSearchParams(m[2]) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('RDS IAM tokens (aws-rds-iam)', () => {
  it('mints a SigV4 presigned rds-db:connect URL that an independent signer reproduces', async () => {
    const before = Date.now();
    const minted = await new RdsIamTokenProvider().mint(
      { source: coreSource(), host: 'db.abc.eu-west-1.rds.amazonaws.com', port: 5432, user: 'app_user', connector: 'postgres' },
      context,
    );
    const token = minted.token.reveal();
    expect(String(minted.token)).toBe('[REDACTED]');
    expect(minted.expiresAt).toBeGreaterThanOrEqual(before + 15 * 60_000);
    expect(minted.expiresAt).toBeLessThanOrEqual(Date.now() + 15 * 60_000);

    const { hostPort, params } = parseToken(token);
    expect(hostPort).toBe('db.abc.eu-west-1.rds.amazonaws.com:5432');
    expect(token).toMatch(
      /^db\.abc\.eu-west-1\.rds\.amazonaws\.com:5432\/\?Action=connect&DBUser=app_user&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[^&]+&X-Amz-Date=\d{8}T\d{6}Z&X-Amz-Expires=900&X-Amz-Signature=[0-9a-f]{64}&X-Amz-SignedHeaders=host$/,
    );
    const amzDate = params.get('X-Amz-Date') as string;
    expect(params.get('X-Amz-Credential')).toBe(`${ACCESS_KEY_ID}/${amzDate.slice(0, 8)}/${REGION}/rds-db/aws4_request`);

    const signingDate = new Date(
      `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
    );
    const signer = new SignatureV4({
      service: 'rds-db',
      region: REGION,
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
      sha256: Sha256,
    });
    const presigned = await signer.presign(
      {
        method: 'GET',
        protocol: 'https:',
        hostname: 'db.abc.eu-west-1.rds.amazonaws.com',
        port: 5432,
        path: '/',
        query: { Action: 'connect', DBUser: 'app_user' },
        headers: { host: 'db.abc.eu-west-1.rds.amazonaws.com:5432' },
      } as never,
      { expiresIn: 900, signingDate },
    );
    expect(presigned.query?.['X-Amz-Signature']).toBe(params.get('X-Amz-Signature'));
    // And a different secret key gives another signature: the comparison is not vacuous.
    const other = new SignatureV4({
      service: 'rds-db',
      region: REGION,
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: `${SECRET_ACCESS_KEY}x` },
      sha256: Sha256,
    });
    const wrong = await other.presign({ ...presigned, query: { Action: 'connect', DBUser: 'app_user' } } as never, { expiresIn: 900, signingDate });
    expect(wrong.query?.['X-Amz-Signature']).not.toBe(params.get('X-Amz-Signature'));
  });

  it('takes the region from an RDS host name and refuses to go without one', async () => {
    const source = coreSource();
    (source.cloud as { awsRegion?: string }).awsRegion = undefined;
    const saved = { r: process.env.AWS_REGION, d: process.env.AWS_DEFAULT_REGION };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    try {
      const minted = await new RdsIamTokenProvider().mint(
        { source, host: 'db.x.us-east-2.rds.amazonaws.com', port: 3306, user: 'u', connector: 'mysql' },
        context,
      );
      expect(parseToken(minted.token.reveal()).params.get('X-Amz-Credential')).toContain('/us-east-2/rds-db/');
      await expect(new RdsIamTokenProvider().mint({ source, host: '127.0.0.1', port: 3306, user: 'u', connector: 'mysql' }, context)).rejects.toMatchObject({
        reason: 'AWS_REGION_MISSING',
      });
    } finally {
      if (saved.r !== undefined) process.env.AWS_REGION = saved.r;
      if (saved.d !== undefined) process.env.AWS_DEFAULT_REGION = saved.d;
    }
  });

  it('refuses an access key id without its secret key', async () => {
    const source = coreSource();
    (source.cloud as { awsSecretAccessKey?: unknown }).awsSecretAccessKey = undefined;
    await expect(new RdsIamTokenProvider().mint({ source, host: 'h', port: 1, user: 'u', connector: 'postgres' }, context)).rejects.toMatchObject({
      reason: 'AWS_CREDENTIALS_INCOMPLETE',
    });
  });
});

describe('RDS IAM authentication through the daemon (PostgreSQL with the token as password)', () => {
  let pg: PostgresInstance;
  let t: TestDaemon;
  const seen: unknown[] = [];
  const tokens: string[] = [];

  beforeAll(async () => {
    [pg, t] = await Promise.all([startPostgres({ tls: true }), startTestDaemon({ plugins: PLUGINS })]);
    registerSecret('the test AWS secret access key', SECRET_ACCESS_KEY);
  });
  afterAll(async () => {
    for (const token of tokens) registerSecret('an RDS IAM token', token);
    await t?.stop();
    await pg?.destroy();
  });

  const source = () =>
    DataSource.fromPartial({
      id: 'rds-iam-pg',
      type: 'postgres',
      location: Location.LOCATION_CLOUD,
      cloudProvider: CloudProvider.CLOUD_PROVIDER_AWS,
      primary: { host: pg.host, port: pg.port, database: pg.database },
      credentials: { username: pg.user },
      sslConfig: sslConfig({ ca: pg.caCertPem }),
      cloudConfig: { useIamAuth: true, awsRegion: REGION, awsAccessKeyId: inline(ACCESS_KEY_ID), awsSecretAccessKey: inline(SECRET_ACCESS_KEY) },
    });

  async function validate(): Promise<ValidateDataSourceResponse[]> {
    const events = await t.validate({ dataSource: source() });
    seen.push(events);
    return events;
  }
  async function setRolePassword(token: string): Promise<void> {
    tokens.push(token);
    await pg.psql(`ALTER ROLE "${pg.user}" PASSWORD '${token.replace(/'/g, "''")}';`);
  }
  const mints = () => t.spans.getFinishedSpans().filter((s) => s.name === 'sourced.token.mint' && s.attributes['sourced.token.provider'] === 'aws-rds-iam');

  it('authenticates with the token minted for the connection, and mints a fresh one once it expired', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: FROZEN });
    const first = await expectedToken(pg.host, pg.port, pg.user);
    expect(first.length).toBeGreaterThan(300);
    await setRolePassword(first);

    const events = await validate();
    expect(checkOf(events, 'authenticate').state).toBe('PASSED');
    expect(checkOf(events, 'resolve-credentials').details['password.source']).toBe(
      `aws-rds-iam token (expires ${new Date(FROZEN + 15 * 60_000).toISOString()})`,
    );
    const firstMints = mints().length;
    expect(firstMints).toBeGreaterThanOrEqual(1);

    // 16 minutes later the first token has expired: the next connection carries a new one.
    vi.setSystemTime(FROZEN + 16 * 60_000);
    const second = await expectedToken(pg.host, pg.port, pg.user);
    expect(parseToken(second).params.get('X-Amz-Date')).not.toBe(parseToken(first).params.get('X-Amz-Date'));

    // The role still has the first token: the daemon does not reuse it, so this login fails.
    const stale = await validate();
    expect(checkOf(stale, 'authenticate').state).toBe('FAILED');
    expect(mints().length).toBeGreaterThan(firstMints);

    await setRolePassword(second);
    const fresh = await validate();
    expect(checkOf(fresh, 'authenticate').state).toBe('PASSED');
    expect(checkOf(fresh, 'resolve-credentials').details['password.source']).toBe(
      `aws-rds-iam token (expires ${new Date(FROZEN + 31 * 60_000).toISOString()})`,
    );

    // Neither token nor the secret key shows in events, logs or spans.
    const visible = everythingVisible(t, seen);
    for (const value of [first, second, SECRET_ACCESS_KEY, parseToken(first).params.get('X-Amz-Signature') as string]) expect(visible).not.toContain(value);
  });
});
