/**
 * The AWS Secrets Manager provider through the daemon, against a stand-in (and the real service with an account).
 *
 * Why one file (~480 lines): the stand-in cases share one Secrets Manager stand-in, one daemon and the PostgreSQL they
 * unlock; the real-service block mirrors them and runs only with an account.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_CONFIG } from '../daemon/src';
import { DataSource, type SecretValue } from '@sourced/api';
import { CheckStatus, type CheckFinished } from '@sourced/api';
import type { ValidateDataSourceResponse } from '@sourced/api';
import { SecretsManagerStandIn } from './harness/aws/SecretsManagerStandIn';
import type { ServerInfo } from './support/globalSetup';
import { pgSource } from './support/pg';
import { registerSecret } from './support/secretScan';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

// The provider reads AWS_MAX_ATTEMPTS when the daemon starts: one HTTP request per look-up
// makes the stand-in's call counts exact (the chain retries throttling itself).
process.env.AWS_MAX_ATTEMPTS = '1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const PLUGINS = ['@sourced/plugin-postgres', '@sourced/plugin-aws'];
const STATUS: Record<number, string> = {
  [CheckStatus.CHECK_STATUS_PASSED]: 'PASSED',
  [CheckStatus.CHECK_STATUS_FAILED]: 'FAILED',
  [CheckStatus.CHECK_STATUS_WARNING]: 'WARNING',
  [CheckStatus.CHECK_STATUS_SKIPPED]: 'SKIPPED',
};

function check(events: ValidateDataSourceResponse[], id: string): CheckFinished & { state: string } {
  const c = events.flatMap((e) => (e.event?.$case === 'checkFinished' ? [e.event.value] : [])).find((x) => x.checkId === id);
  if (!c) throw new Error(`no check ${id}`);
  return { ...c, state: STATUS[c.status] };
}
/** resolve-credentials and authenticate, the two checks these tests are about. */
function outcome(events: ValidateDataSourceResponse[]) {
  return { resolve: check(events, 'resolve-credentials').state, authenticate: check(events, 'authenticate').state };
}

const ref = (reference: string): SecretValue => ({ source: { $case: 'reference', value: reference } });
const inline = (value: string): SecretValue => ({ source: { $case: 'inlineValue', value } });
const awsKey = () => ({ accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64') });

interface AwsSourceOptions {
  /** Access keys for cloud_config (inline, or any SecretValue); null for the SDK's default chain. */
  keys?: { accessKeyId: string | SecretValue; secretAccessKey: string | SecretValue } | null;
  region?: string;
  /** connection_properties.aws_sm_endpoint; null for none. */
  endpoint?: string | null;
  properties?: Record<string, unknown>;
}

/** A PostgreSQL data source whose password is an aws-sm:// reference. */
function awsSource(
  server: ServerInfo,
  reference: string,
  options: AwsSourceOptions & { defaults: { keys: AwsSourceOptions['keys']; endpoint: string | null } },
): DataSource {
  const keys = options.keys === undefined ? options.defaults.keys : options.keys;
  const endpoint = options.endpoint === undefined ? options.defaults.endpoint : options.endpoint;
  const asValue = (v: string | SecretValue) => (typeof v === 'string' ? inline(v) : v);
  return pgSource(server, {
    credentials: { username: server.user, password: ref(reference) },
    cloudConfig: {
      awsRegion: options.region ?? '',
      awsAccessKeyId: keys ? asValue(keys.accessKeyId) : undefined,
      awsSecretAccessKey: keys ? asValue(keys.secretAccessKey) : undefined,
      useIamAuth: false,
      azureTenantId: '',
      azureClientId: '',
      azureClientSecret: undefined,
      useManagedIdentity: false,
    },
    connectionProperties: { ...(endpoint ? { aws_sm_endpoint: endpoint } : {}), ...options.properties },
  });
}

/** Everything a caller or operator could see, for the leak checks. */
function seen(t: TestDaemon, extra: unknown[]): string {
  const spans = t.spans.getFinishedSpans().map((s) => [s.name, s.attributes, s.events, s.status]);
  return JSON.stringify(extra) + t.logs.join('\n') + JSON.stringify(spans);
}

describe('AWS Secrets Manager (stand-in)', () => {
  const pg = inject('postgres');
  const reader = { ...awsKey(), principal: 'user/sourced-reader' };
  const limited = { ...awsKey(), principal: 'user/sourced-limited', allow: ['prod/*'] };
  const wrongSecret = randomBytes(30).toString('base64');
  const stalePassword = `stale-${randomBytes(9).toString('hex')}`;
  const captured: unknown[] = [];
  let s: SecretsManagerStandIn;
  let t: TestDaemon;
  let versionOne: string;

  const source = (reference: string, options: AwsSourceOptions = {}) =>
    awsSource(pg, reference, { ...options, defaults: { keys: reader, endpoint: s.endpoint } });
  const validate = async (daemon: TestDaemon, dataSource: DataSource) => {
    const events = await daemon.validate({ dataSource });
    captured.push(events);
    return events;
  };
  const failure = async (call: Promise<unknown>) => {
    const error = await expectFailure(call);
    const status = richStatusOf(error);
    captured.push(status);
    return status;
  };

  beforeAll(async () => {
    for (const [label, value] of [
      ['aws reader secret key', reader.secretAccessKey],
      ['aws limited secret key', limited.secretAccessKey],
      ['aws wrong secret key', wrongSecret],
      ['rotated-out password', stalePassword],
    ] as const) {
      registerSecret(label, value);
    }
    s = await SecretsManagerStandIn.start({ region: 'eu-west-1', keys: [reader, limited] });
    const doc = JSON.stringify({ username: pg.user, password: pg.password, db: { primary: { password: pg.password } } });
    for (const name of [
      'prod/pg',
      'prod/pg-regional',
      'prod/pg-throttled',
      'prod/pg-gives-up',
      'prod/pg-popular',
      'prod/pg-env',
      'prod/pg-default',
      'finance/pg',
    ])
      s.putSecret(name, doc);
    // versions: v1 (right) becomes AWSPREVIOUS under v2 (stale); AWSPENDING and a custom stage are right
    versionOne = s.putSecret('prod/pg-versions', JSON.stringify({ password: pg.password })).versionId;
    s.putSecret('prod/pg-versions', JSON.stringify({ password: stalePassword }));
    s.putSecret('prod/pg-versions', JSON.stringify({ password: pg.password }), { stages: ['AWSPENDING'] });
    s.putSecret('prod/pg-versions', JSON.stringify({ password: pg.password }), { stages: ['blue'] });
    s.putSecret('prod/pg-binary', Buffer.from(pg.password, 'utf8'));
    s.putSecret('prod/pg-rotating', JSON.stringify({ password: stalePassword }));
    t = await startTestDaemon({ plugins: PLUGINS });
  });
  afterAll(async () => {
    await t?.stop();
    await s?.stop();
  });

  /** An aws-sm:// password is fetched with the data source's own keys, signed for the reference's region, and reported by link. */
  it('resolves the password from Secrets Manager and says where it came from', async () => {
    const events = await validate(t, source('aws-sm://eu-west-1/prod/pg#password'));
    expect(outcome(events)).toEqual({ resolve: 'PASSED', authenticate: 'PASSED' });
    expect(check(events, 'resolve-credentials').details['password.source']).toBe('aws-sm://eu-west-1/prod/pg');
    expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { ok: true } });
    expect(s.calls.filter((c) => c.secret === 'prod/pg')).toEqual([
      { operation: 'GetSecretValue', secret: 'prod/pg', region: 'eu-west-1', accessKeyId: reader.accessKeyId, status: 200 },
    ]);
  });

  /** `#path` picks a field (nested too) from the one cached fetch; a missing field is named. */
  it('extracts JSON fields from one fetch', async () => {
    expect(outcome(await validate(t, source('aws-sm://eu-west-1/prod/pg#db.primary.password')))).toEqual({ resolve: 'PASSED', authenticate: 'PASSED' });
    const missing = check(await validate(t, source('aws-sm://eu-west-1/prod/pg#db.replica.password')), 'resolve-credentials');
    expect(missing.state).toBe('FAILED');
    expect(missing.message).toContain('has no field "db.replica.password"');
    expect(s.callsFor('prod/pg')).toBe(1);
  });

  /** AWSCURRENT by default; `versionStage` (AWS and custom stages) and `versionId` pick other versions; a missing stage is named. */
  it('reads versions and stages', async () => {
    expect(outcome(await validate(t, source('aws-sm://eu-west-1/prod/pg-versions#password')))).toEqual({ resolve: 'PASSED', authenticate: 'FAILED' });
    for (const query of ['versionStage=AWSPREVIOUS', `versionId=${versionOne}`, 'versionStage=AWSPENDING', 'versionStage=blue']) {
      const events = await validate(t, source(`aws-sm://eu-west-1/prod/pg-versions?${query}#password`));
      expect([query, outcome(events)]).toEqual([query, { resolve: 'PASSED', authenticate: 'PASSED' }]);
      expect(check(events, 'resolve-credentials').details['password.source']).toBe(`aws-sm://eu-west-1/prod/pg-versions?${query}`);
    }
    const green = check(await validate(t, source('aws-sm://eu-west-1/prod/pg-versions?versionStage=green#password')), 'resolve-credentials');
    expect(green.state).toBe('FAILED');
    expect(green.message).toContain('AWS Secrets Manager has no secret prod/pg-versions (version stage green) in eu-west-1');
    expect(s.calls.filter((c) => c.secret === 'prod/pg-versions').map((c) => c.versionStage ?? c.versionId ?? 'default')).toEqual([
      'default',
      'AWSPREVIOUS',
      versionOne,
      'AWSPENDING',
      'blue',
      'green',
    ]);
  });

  /** A SecretBinary secret is returned as bytes and used as the password. */
  it('reads a binary secret', async () => {
    const events = await validate(t, source('aws-sm://eu-west-1/prod/pg-binary'));
    expect(outcome(events)).toEqual({ resolve: 'PASSED', authenticate: 'PASSED' });
  });

  /** Without a region in the reference, cloud_config.aws_region is used; an ARN's own region wins over it. */
  it('takes the region from cloud_config or the ARN', async () => {
    expect(outcome(await validate(t, source('aws-sm://prod/pg-regional#password', { region: 'eu-west-1' })))).toEqual({
      resolve: 'PASSED',
      authenticate: 'PASSED',
    });
    // the stand-in serves eu-west-1 only: a request signed for us-east-1 would be refused
    const events = await validate(t, source(`aws-sm://${s.arnOf('prod/pg-regional')}#password`, { region: 'us-east-1' }));
    expect(outcome(events)).toEqual({ resolve: 'PASSED', authenticate: 'PASSED' });
    expect(s.calls.filter((c) => c.secret === 'prod/pg-regional').map((c) => [c.region, c.status])).toEqual([
      ['eu-west-1', 200],
      ['eu-west-1', 200],
    ]);
  });

  /** A missing secret fails resolve-credentials naming it; discovery fails before connecting, listing the link and why. */
  it('reports a missing secret by name', async () => {
    const reference = 'aws-sm://eu-west-1/prod/missing#password';
    const resolve = check(await validate(t, source(reference)), 'resolve-credentials');
    expect(resolve.state).toBe('FAILED');
    expect(resolve.message).toBe(
      'could not resolve password (data_source.credentials.password); tried aws-sm://eu-west-1/prod/missing: AWS Secrets Manager has no secret prod/missing (version stage AWSCURRENT) in eu-west-1; env:SOURCED_SECRET_TEST_PG_PASSWORD: not set',
    );
    const status = await failure(t.discover({ dataSource: source(reference) }));
    expect(status.errorInfo?.reason).toBe('SECRET_NOT_RESOLVED');
    expect(status.message).toContain('aws-sm://eu-west-1/prod/missing: AWS Secrets Manager has no secret prod/missing');
  });

  /** The service's AccessDenied reaches the check with the principal and what to allow. */
  it('reports access denied', async () => {
    const resolve = check(await validate(t, source('aws-sm://eu-west-1/finance/pg#password', { keys: limited })), 'resolve-credentials');
    expect(resolve.state).toBe('FAILED');
    expect(resolve.message).toContain(
      'AWS Secrets Manager refused access to secret finance/pg (version stage AWSCURRENT) in eu-west-1: User: arn:aws:iam::123456789012:user/sourced-limited is not authorized',
    );
    expect(resolve.message).toContain('allow secretsmanager:GetSecretValue');
  });

  /**
   * An unknown key or a wrong secret key fails as invalid credentials, without the service's
   * canonical request; a known key id with a wrong secret never gets the value cached for the right one.
   */
  it('reports invalid credentials and keeps them apart in the cache', async () => {
    const unknown = check(await validate(t, source('aws-sm://eu-west-1/prod/pg#password', { keys: awsKey() })), 'resolve-credentials');
    expect(unknown.state).toBe('FAILED');
    expect(unknown.message).toContain(
      'AWS did not accept the credentials used to read secret prod/pg (version stage AWSCURRENT) in eu-west-1 (UnrecognizedClientException): The security token included in the request is invalid',
    );
    const wrong = check(
      await validate(t, source('aws-sm://eu-west-1/prod/pg#password', { keys: { accessKeyId: reader.accessKeyId, secretAccessKey: wrongSecret } })),
      'resolve-credentials',
    );
    expect(wrong.state).toBe('FAILED');
    expect(wrong.message).toContain('(InvalidSignatureException): The request signature we calculated does not match the signature you provided');
    expect(wrong.message).not.toMatch(/Canonical String|String-to-Sign|x-amz|AKIA/);
    expect(s.calls.filter((c) => c.secret === 'prod/pg').map((c) => c.error ?? c.status)).toEqual([
      200,
      'UnrecognizedClientException',
      'InvalidSignatureException',
    ]);
  });

  /** With the provider down, the chain falls back to connection_properties.password; with no fallback it says the provider is unreachable. */
  it('falls back when the provider is down', async () => {
    s.setDown(true);
    try {
      const events = await validate(t, source('aws-sm://eu-west-1/prod/pg-down#password', { properties: { password: pg.password } }));
      expect(outcome(events)).toEqual({ resolve: 'PASSED', authenticate: 'PASSED' });
      expect(check(events, 'resolve-credentials').details['password.source']).toBe('connection_properties.password');
      const alone = check(await validate(t, source('aws-sm://eu-west-1/prod/pg-down#password')), 'resolve-credentials');
      expect(alone.state).toBe('FAILED');
      expect(alone.message).toContain(`could not reach AWS Secrets Manager at ${s.endpoint} to read secret prod/pg-down`);
    } finally {
      s.setDown(false);
    }
  });

  /** A provider that does not answer fails at the daemon's provider time limit, not the check's. */
  it('times out a slow provider', async () => {
    const quick = await startTestDaemon({ plugins: PLUGINS, secrets: { ...DEFAULT_CONFIG.secrets, providerTimeoutMs: 300 } });
    s.setDelay(5000);
    try {
      const started = Date.now();
      const resolve = check(await validate(quick, source('aws-sm://eu-west-1/prod/pg-slow#password')), 'resolve-credentials');
      expect(resolve.state).toBe('FAILED');
      expect(resolve.message).toContain('aws-secrets-manager did not answer within 300 ms');
      expect(Date.now() - started).toBeLessThan(4000);
      captured.push(seen(quick, []));
    } finally {
      s.setDelay(0);
      await quick.stop();
    }
  });

  /** Throttling is retried with back-off and then succeeds; throttling that persists ends as THROTTLED after the chain's attempts. */
  it('retries throttling', async () => {
    s.throttleNext(2);
    expect(outcome(await validate(t, source('aws-sm://eu-west-1/prod/pg-throttled#password')))).toEqual({ resolve: 'PASSED', authenticate: 'PASSED' });
    expect(s.calls.filter((c) => c.secret === 'prod/pg-throttled').map((c) => c.error ?? c.status)).toEqual([
      'ThrottlingException',
      'ThrottlingException',
      200,
    ]);
    s.throttleNext(10);
    const resolve = check(await validate(t, source('aws-sm://eu-west-1/prod/pg-gives-up#password')), 'resolve-credentials');
    s.throttleNext(0);
    expect(resolve.state).toBe('FAILED');
    expect(resolve.message).toContain('aws-secrets-manager throttled aws-sm://eu-west-1/prod/pg-gives-up 3 times; try again later');
    expect(s.callsFor('prod/pg-gives-up')).toBe(3);
  });

  /** After a rotation the cached value serves until the TTL passes, then the new AWSCURRENT is fetched. */
  it('picks up a rotated secret after the cache TTL, not before', async () => {
    const ttl = 1500;
    const cached = await startTestDaemon({ plugins: PLUGINS, secrets: { ...DEFAULT_CONFIG.secrets, cacheTtlMs: ttl } });
    try {
      const reference = 'aws-sm://eu-west-1/prod/pg-rotating#password';
      // the value is fetched, and cached, between these two instants
      const before = Date.now();
      expect(outcome(await validate(cached, source(reference)))).toEqual({ resolve: 'PASSED', authenticate: 'FAILED' });
      const after = Date.now();
      s.rotate('prod/pg-rotating', JSON.stringify({ password: pg.password }));
      expect(outcome(await validate(cached, source(reference)))).toEqual({ resolve: 'PASSED', authenticate: 'FAILED' });
      // the second validation really ran inside the TTL (else the test proves nothing)
      expect(Date.now() - before).toBeLessThan(ttl);
      expect(s.callsFor('prod/pg-rotating')).toBe(1);
      await new Promise((r) => setTimeout(r, after + ttl + 50 - Date.now()));
      expect(outcome(await validate(cached, source(reference)))).toEqual({ resolve: 'PASSED', authenticate: 'PASSED' });
      expect(s.callsFor('prod/pg-rotating')).toBe(2);
      captured.push(seen(cached, []));
    } finally {
      await cached.stop();
    }
  });

  /** Twenty concurrent validations of one reference make exactly one call to the provider. */
  it('collapses concurrent look-ups into one provider call', async () => {
    s.setDelay(300);
    try {
      const runs = await Promise.all(Array.from({ length: 20 }, () => validate(t, source('aws-sm://eu-west-1/prod/pg-popular#password'))));
      expect(runs.map((events) => outcome(events).authenticate)).toEqual(Array(20).fill('PASSED'));
    } finally {
      s.setDelay(0);
    }
    expect(s.callsFor('prod/pg-popular')).toBe(1);
  });

  /** The provider's own keys may be references (env://SOURCED_SECRET_AWS_*), resolved through the chain and its policy. */
  it('takes the cloud keys from env:// references, within the policy', async () => {
    process.env.SOURCED_SECRET_AWS_ACCESS_KEY_ID = reader.accessKeyId;
    process.env.SOURCED_SECRET_AWS_SECRET_ACCESS_KEY = reader.secretAccessKey;
    try {
      const keys = { accessKeyId: ref('env://SOURCED_SECRET_AWS_ACCESS_KEY_ID'), secretAccessKey: ref('env://SOURCED_SECRET_AWS_SECRET_ACCESS_KEY') };
      expect(outcome(await validate(t, source('aws-sm://eu-west-1/prod/pg-env#password', { keys })))).toEqual({ resolve: 'PASSED', authenticate: 'PASSED' });
      expect(s.calls.filter((c) => c.secret === 'prod/pg-env').map((c) => c.accessKeyId)).toEqual([reader.accessKeyId]);

      const forbidden = { ...keys, secretAccessKey: ref('env://AWS_SECRET_ACCESS_KEY') };
      const status = await failure(t.validate({ dataSource: source('aws-sm://eu-west-1/prod/pg-env#password', { keys: forbidden }) }));
      expect(status.grpcCode).toBe(7);
      expect(status.errorInfo).toMatchObject({
        reason: 'SECRET_REFERENCE_NOT_ALLOWED',
        metadata: { field: 'data_source.cloud_config.aws_secret_access_key.reference' },
      });
    } finally {
      delete process.env.SOURCED_SECRET_AWS_ACCESS_KEY_ID;
      delete process.env.SOURCED_SECRET_AWS_SECRET_ACCESS_KEY;
    }
  });

  /**
   * Without cloud_config keys the SDK's default chain signs (here from the environment, with the
   * operator's AWS_ENDPOINT_URL_SECRETS_MANAGER); a request may not send those credentials to an
   * endpoint of its own choosing (a failed check in validation, PERMISSION_DENIED in discovery).
   */
  it('uses the default credential chain, and keeps it away from request-chosen endpoints', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: reader.accessKeyId,
      AWS_SECRET_ACCESS_KEY: reader.secretAccessKey,
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: s.endpoint,
    });
    try {
      const events = await validate(t, source('aws-sm://prod/pg-default#password', { keys: null, endpoint: null }));
      expect(outcome(events)).toEqual({ resolve: 'PASSED', authenticate: 'PASSED' });
      expect(s.calls.filter((c) => c.secret === 'prod/pg-default').map((c) => [c.accessKeyId, c.region])).toEqual([[reader.accessKeyId, 'eu-west-1']]);

      const elsewhere = 'http://127.0.0.1:9';
      const refused = check(await validate(t, source('aws-sm://prod/pg-default#password', { keys: null, endpoint: elsewhere })), 'resolve-credentials');
      expect(refused.state).toBe('FAILED');
      expect(refused.message).toContain(`data_source.connection_properties.aws_sm_endpoint: ${elsewhere} is not an AWS endpoint`);
      const status = await failure(t.discover({ dataSource: source('aws-sm://prod/pg-default#password', { keys: null, endpoint: elsewhere }) }));
      expect(status.grpcCode).toBe(7);
      expect(status.errorInfo).toMatchObject({
        reason: 'SECRET_REFERENCE_NOT_ALLOWED',
        metadata: { field: 'data_source.connection_properties.aws_sm_endpoint' },
      });
      expect(status.message).toContain(`${elsewhere} is not an AWS endpoint`);
    } finally {
      process.env = saved;
    }
  });

  /** A reference with no region anywhere fails naming what to set. */
  it('says which region to set', async () => {
    const saved = { ...process.env };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    try {
      const resolve = check(await validate(t, source('aws-sm://prod/pg#password')), 'resolve-credentials');
      expect(resolve.state).toBe('FAILED');
      expect(resolve.message).toContain(
        "no AWS region for aws-sm://prod/pg: write it in the reference (aws-sm://eu-west-1/<secret>), use the secret's ARN, set cloud_config.aws_region, or set AWS_REGION",
      );
    } finally {
      process.env = saved;
    }
  });

  /** Neither the database password nor any AWS secret key appears in an event, log line, span or error of this file. */
  it('leaks no secret anywhere', () => {
    const everything = seen(t, captured);
    expect(everything).toContain('aws-sm://eu-west-1/prod/pg');
    for (const [label, value] of Object.entries({
      password: pg.password,
      reader: reader.secretAccessKey,
      limited: limited.secretAccessKey,
      wrong: wrongSecret,
      stale: stalePassword,
    })) {
      expect([label, everything.includes(value)]).toEqual([label, false]);
    }
  });
});

const REAL_SECRET_ID = process.env.SOURCED_TEST_AWS_SECRET_ID;
const REAL_REGION = process.env.SOURCED_TEST_AWS_REGION ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
const REAL_SKIPPED = REAL_SECRET_ID
  ? ''
  : " (skipped: set SOURCED_TEST_AWS_SECRET_ID, AWS_REGION and the SDK's credential variables such as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE to run against the real service)";

/**
 * The same look-ups against the real service, with the SDK's default credential chain. The
 * secret's value is unknown here, so only resolution is checked, not the database login;
 * faults that need the stand-in's switches are not repeated.
 */
describe(`AWS Secrets Manager (real service)${REAL_SKIPPED}`, () => {
  const pg = inject('postgres');
  const fragment = process.env.SOURCED_TEST_AWS_JSON_PATH ? `#${process.env.SOURCED_TEST_AWS_JSON_PATH}` : '';
  let t: TestDaemon | undefined;
  beforeAll(async () => {
    if (!REAL_SECRET_ID) return;
    registerSecret('AWS_SECRET_ACCESS_KEY', process.env.AWS_SECRET_ACCESS_KEY);
    registerSecret('AWS_SESSION_TOKEN', process.env.AWS_SESSION_TOKEN);
    t = await startTestDaemon({ plugins: PLUGINS });
  });
  afterAll(() => t?.stop());
  const real = (reference: string, options: AwsSourceOptions = {}) =>
    awsSource(pg, reference, { region: REAL_REGION, ...options, defaults: { keys: null, endpoint: null } });

  /** The given secret resolves through the default chain and is reported by its link. */
  it.skipIf(!REAL_SECRET_ID)('resolves the secret', async () => {
    const events = await t!.validate({ dataSource: real(`aws-sm://${REAL_SECRET_ID}${fragment}`) });
    const resolve = check(events, 'resolve-credentials');
    expect([resolve.state, resolve.message]).toEqual(['PASSED', expect.any(String)]);
    expect(resolve.details['password.source']).toBe(`aws-sm://${REAL_SECRET_ID}`);
  });

  /** A secret that does not exist is reported as missing (or denied, when the policy hides unknown names). */
  it.skipIf(!REAL_SECRET_ID)('reports a missing secret', async () => {
    const name = `sourced-test-missing-${randomBytes(6).toString('hex')}`;
    const resolve = check(await t!.validate({ dataSource: real(`aws-sm://${name}`) }), 'resolve-credentials');
    expect(resolve.state).toBe('FAILED');
    expect(resolve.message).toMatch(new RegExp(`(has no|refused access to) secret ${name}`));
  });

  /** An unknown key and a wrong secret key are invalid credentials, and the service's canonical request never shows. */
  it.skipIf(!REAL_SECRET_ID)('reports invalid credentials', async () => {
    const unknown = check(await t!.validate({ dataSource: real(`aws-sm://${REAL_SECRET_ID}`, { keys: awsKey() }) }), 'resolve-credentials');
    expect(unknown.message).toContain('(UnrecognizedClientException)');
    const id = process.env.AWS_ACCESS_KEY_ID;
    if (id) {
      const wrong = check(
        await t!.validate({
          dataSource: real(`aws-sm://${REAL_SECRET_ID}`, { keys: { accessKeyId: id, secretAccessKey: randomBytes(30).toString('base64') } }),
        }),
        'resolve-credentials',
      );
      expect(wrong.message).toMatch(/\((InvalidSignatureException|SignatureDoesNotMatch)\)/);
      expect(wrong.message).not.toMatch(/Canonical String|String-to-Sign/);
    }
  });
});
