import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, NotAllowedError, NotFoundError, parseSecretReference, SecretErrorReason, UnavailableError, type SourcedError } from '@sourced/core';
import { createSecretsManagerProvider, type SecretsManagerProvider } from '../plugins/aws/src';
import { awsDataSource, inlineKeys, providerContext } from './harness/aws/providerContext';
import { SecretsManagerStandIn } from './harness/aws/SecretsManagerStandIn';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** The provider on its own, with the real SDK against the stand-in: what the chain receives from it. */
describe('aws-secrets-manager provider', () => {
  const key = { accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64'), allow: ['app/*'] };
  const other = { accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64') };
  let s: SecretsManagerStandIn;
  let provider: SecretsManagerProvider;
  beforeAll(async () => {
    s = await SecretsManagerStandIn.start({ keys: [key, other] });
    s.putSecret('app/text', 'plain text');
    s.putSecret('app/bytes', new Uint8Array([0, 1, 0xfe, 0xff]));
    s.putSecret('finance/db', 'x');
    provider = createSecretsManagerProvider({ maxAttempts: 1, maxClients: 1 });
  });
  afterAll(async () => {
    provider.close();
    await s.stop();
  });

  const resolve = (reference: string, k: { accessKeyId: string; secretAccessKey: string } = key, signal?: AbortSignal, p = provider) =>
    p.resolve(
      parseSecretReference(reference)!,
      providerContext(awsDataSource(inlineKeys(k.accessKeyId, k.secretAccessKey), { aws_sm_endpoint: s.endpoint }), signal),
    );
  const reasonOf = async (promise: Promise<unknown>) => {
    const error = (await promise.then(
      () => undefined,
      (e: unknown) => e,
    )) as SourcedError | undefined;
    return error && [error.constructor.name, error.reason];
  };

  /** SecretString comes back as text, SecretBinary as the exact bytes. */
  it('returns text and bytes', async () => {
    expect(await resolve('aws-sm://eu-west-1/app/text')).toBe('plain text');
    const bytes = await resolve('aws-sm://eu-west-1/app/bytes');
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect([...(bytes as Uint8Array)]).toEqual([0, 1, 0xfe, 0xff]);
  });

  /** Real service errors from the SDK arrive as the stable reasons, in the core error classes. */
  it('raises the stable reasons', async () => {
    expect(await reasonOf(resolve('aws-sm://eu-west-1/app/none'))).toEqual([NotFoundError.name, SecretErrorReason.NOT_FOUND]);
    expect(await reasonOf(resolve('aws-sm://eu-west-1/finance/db'))).toEqual([NotAllowedError.name, SecretErrorReason.ACCESS_DENIED]);
    expect(await reasonOf(resolve('aws-sm://eu-west-1/app/text', { ...key, secretAccessKey: 'wrong' }))).toEqual([
      NotAllowedError.name,
      SecretErrorReason.INVALID_CREDENTIALS,
    ]);
    s.throttleNext(1);
    expect(await reasonOf(resolve('aws-sm://eu-west-1/app/text'))).toEqual([UnavailableError.name, SecretErrorReason.THROTTLED]);
    s.failNext(1);
    expect(await reasonOf(resolve('aws-sm://eu-west-1/app/text'))).toEqual([UnavailableError.name, SecretErrorReason.UNREACHABLE]);
    s.scheduleDeletion('finance/db');
    expect(await reasonOf(resolve('aws-sm://eu-west-1/finance/db', other))).toEqual([NotFoundError.name, SecretErrorReason.NOT_FOUND]);
  });

  /** With one client allowed, alternating credentials evicts and rebuilds clients; each call is signed by its own key, and eviction never cuts a call short. */
  it('bounds its clients', async () => {
    s.reset();
    for (const k of [key, other, key, other]) expect(await resolve('aws-sm://eu-west-1/app/text', k)).toBe('plain text');
    expect(s.calls.map((c) => c.accessKeyId)).toEqual([key.accessKeyId, other.accessKeyId, key.accessKeyId, other.accessKeyId]);
    s.setDelay(200);
    try {
      const first = resolve('aws-sm://eu-west-1/app/text', key);
      await new Promise((r) => setTimeout(r, 50));
      // evicts the first call's client while its request is under way
      expect(await Promise.all([first, resolve('aws-sm://eu-west-1/app/text', other)])).toEqual(['plain text', 'plain text']);
    } finally {
      s.setDelay(0);
    }
  });

  /** The caller's signal reaches the SDK: an aborted look-up ends at once and the request is dropped. */
  it('honours the abort signal', async () => {
    s.setDelay(5000);
    try {
      const controller = new AbortController();
      const started = Date.now();
      setTimeout(() => controller.abort(new Error('caller gave up')), 100);
      const error = await resolve('aws-sm://eu-west-1/app/text', key, controller.signal).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AbortedError);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      s.setDelay(0);
    }
  });

  /** By default the SDK retries once (a dropped connection or a 5xx); throttling is left to the chain. */
  it('retries a 5xx once by default', async () => {
    const saved = process.env.AWS_MAX_ATTEMPTS;
    delete process.env.AWS_MAX_ATTEMPTS;
    const retrying = createSecretsManagerProvider();
    if (saved !== undefined) process.env.AWS_MAX_ATTEMPTS = saved;
    try {
      s.reset();
      s.failNext(1);
      expect(await resolve('aws-sm://eu-west-1/app/text', key, undefined, retrying)).toBe('plain text');
      expect(s.calls.map((c) => c.status)).toEqual([500, 200]);
    } finally {
      retrying.close();
    }
  });
});
