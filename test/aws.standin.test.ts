import { randomBytes } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretsManagerStandIn } from './harness/aws/SecretsManagerStandIn';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/**
 * The Secrets Manager stand-in itself: it must refuse what AWS refuses, or the provider's
 * suites would pass against a server more lenient than the real one.
 */
describe('Secrets Manager stand-in', () => {
  const key = { accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64'), allow: ['app/*'] };
  const temp = {
    accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: randomBytes(60).toString('base64'),
  };
  const old = { ...temp, accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`, expired: true };
  let s: SecretsManagerStandIn;
  beforeAll(async () => {
    s = await SecretsManagerStandIn.start({ keys: [key, temp, old] });
    s.putSecret('app/db', 'one');
  });
  afterAll(() => s.stop());

  const client = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = key, region = s.region) =>
    new SecretsManagerClient({ region, endpoint: s.endpoint, credentials, maxAttempts: 1 });
  const get = async (input: { SecretId: string; VersionStage?: string; VersionId?: string }, c = client()) => {
    try {
      const out = await c.send(new GetSecretValueCommand(input));
      return { value: out.SecretString ?? Buffer.from(out.SecretBinary ?? []).toString('hex'), stages: out.VersionStages, versionId: out.VersionId };
    } catch (error) {
      const e = error as { name: string; message: string; $metadata: { httpStatusCode?: number } };
      return { error: e.name, status: e.$metadata.httpStatusCode, message: e.message };
    }
  };

  /** A raw request signed by @smithy/signature-v4, optionally sent with another body than the one signed. */
  async function raw(options: { signedBody: string; sentBody?: string; declareHash?: boolean; date?: Date; credentials?: typeof key }) {
    const { port } = new URL(s.endpoint);
    const signer = new SignatureV4({
      service: 'secretsmanager',
      region: s.region,
      credentials: options.credentials ?? key,
      sha256: Hash.bind(null, 'sha256'),
      applyChecksum: options.declareHash ?? false,
    });
    const signed = await signer.sign(
      {
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: Number(port),
        path: '/',
        query: {},
        headers: { host: `127.0.0.1:${port}`, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.GetSecretValue' },
        body: options.signedBody,
      },
      { signingDate: options.date ?? new Date() },
    );
    const headers = { ...(signed.headers as Record<string, string>) };
    delete headers.host;
    const res = await fetch(s.endpoint, { method: 'POST', headers, body: options.sentBody ?? options.signedBody });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  }

  /** The real SDK round-trips: signature, JSON 1.1, versions and stages as PutSecretValue moves them. */
  it('serves the SDK, moving AWSCURRENT and AWSPREVIOUS on each new version', async () => {
    expect(await get({ SecretId: 'app/db' })).toMatchObject({ value: 'one', stages: ['AWSCURRENT'] });
    const second = s.rotate('app/db', 'two');
    s.rotate('app/db', 'three');
    s.putSecret('app/db', 'pending', { stages: ['AWSPENDING'] });
    expect(await get({ SecretId: 'app/db' })).toMatchObject({ value: 'three', stages: ['AWSCURRENT'] });
    expect(await get({ SecretId: 'app/db', VersionStage: 'AWSPREVIOUS' })).toMatchObject({ value: 'two', versionId: second });
    expect(await get({ SecretId: 'app/db', VersionStage: 'AWSPENDING' })).toMatchObject({ value: 'pending' });
    expect(await get({ SecretId: 'app/db', VersionId: second })).toMatchObject({ value: 'two', stages: ['AWSPREVIOUS'] });
    expect(await get({ SecretId: s.arnOf('app/db') })).toMatchObject({ value: 'three' });
    expect(await get({ SecretId: s.arnOf('app/db').slice(0, -7) })).toMatchObject({ value: 'three' });
    s.putSecret('app/blob', new Uint8Array([0, 1, 255]));
    expect(await get({ SecretId: 'app/blob' })).toMatchObject({ value: '0001ff' });
    expect(await get({ SecretId: 'app/db', VersionStage: 'nope' })).toMatchObject({
      error: 'ResourceNotFoundException',
      status: 400,
      message: "Secrets Manager can't find the specified secret value for staging label: nope",
    });
    expect(await get({ SecretId: 'app/none' })).toMatchObject({
      error: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    });
  });

  /** A body other than the one signed is refused, even when its declared x-amz-content-sha256 was signed too. */
  it('checks the body against the signature and the declared hash', async () => {
    const signedBody = JSON.stringify({ SecretId: 'app/db' });
    expect((await raw({ signedBody })).status).toBe(200);
    expect((await raw({ signedBody, declareHash: true })).status).toBe(200);
    for (const declareHash of [false, true]) {
      const tampered = await raw({ signedBody, sentBody: JSON.stringify({ SecretId: 'app/other' }), declareHash });
      expect(tampered).toMatchObject({ status: 403, body: { __type: 'InvalidSignatureException' } });
      expect(tampered.body.message).toMatch(/^The request signature we calculated does not match the signature you provided/);
    }
  });

  /** Unknown keys, wrong secrets, stale dates, wrong regions and session tokens fail as AWS fails them. */
  it('refuses bad credentials the way AWS does', async () => {
    const signedBody = JSON.stringify({ SecretId: 'app/db' });
    expect(await raw({ signedBody, credentials: { ...key, accessKeyId: 'AKIAUNKNOWNUNKNOWN00' } })).toEqual({
      status: 400,
      body: { __type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' },
    });
    expect(await get({ SecretId: 'app/db' }, client({ ...key, secretAccessKey: 'wrong' }))).toMatchObject({ error: 'InvalidSignatureException', status: 403 });
    expect((await raw({ signedBody, date: new Date(Date.now() - 10 * 60_000) })).body.message).toContain('Signature expired');
    expect(await get({ SecretId: 'app/db' }, client(key, 'us-east-1'))).toMatchObject({
      error: 'InvalidSignatureException',
      message: expect.stringContaining("Credential should be scoped to a valid region, not 'us-east-1'"),
    });
    expect(await get({ SecretId: 'app/db' }, client(temp))).toMatchObject({ value: 'three' });
    expect(await get({ SecretId: 'app/db' }, client({ ...temp, sessionToken: 'other' }))).toMatchObject({ error: 'UnrecognizedClientException', status: 400 });
    expect(await get({ SecretId: 'app/db' }, client({ accessKeyId: temp.accessKeyId, secretAccessKey: temp.secretAccessKey }))).toMatchObject({
      error: 'UnrecognizedClientException',
    });
    expect(await get({ SecretId: 'app/db' }, client(old))).toMatchObject({ error: 'ExpiredTokenException', status: 400 });
  });

  /** Per-key policies, throttling, 500s and the down switch answer with the service's error shapes. */
  it('denies, throttles, fails and goes down on request', async () => {
    s.putSecret('finance/db', 'x');
    expect(await get({ SecretId: 'finance/db' })).toMatchObject({
      error: 'AccessDeniedException',
      status: 400,
      message: expect.stringMatching(/is not authorized to perform: secretsmanager:GetSecretValue on resource: finance\/db/),
    });
    s.reset();
    s.throttleNext(2);
    expect(await get({ SecretId: 'app/db' })).toMatchObject({ error: 'ThrottlingException', status: 400, message: 'Rate exceeded' });
    expect(await get({ SecretId: 'app/db' })).toMatchObject({ error: 'ThrottlingException' });
    expect(await get({ SecretId: 'app/db' })).toMatchObject({ value: 'three' });
    s.failNext(1);
    expect(await get({ SecretId: 'app/db' })).toMatchObject({ error: 'InternalServiceError', status: 500 });
    s.setDown(true);
    expect(await get({ SecretId: 'app/db' })).toMatchObject({ status: undefined });
    s.setDown(false);
    // a closed port serves nothing, so counts nothing
    expect(s.callsFor('app/db')).toBe(4);
    expect(s.calls.filter((c) => c.secret === 'app/db').map((c) => c.error ?? c.status)).toEqual([
      'ThrottlingException',
      'ThrottlingException',
      200,
      'InternalServiceError',
    ]);
  });
});
