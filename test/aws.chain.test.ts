import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { AbortedError, SecretChain, type SecretRequest } from '@sourced/core';
import { createSecretsManagerProvider, type SecretsManagerProvider } from '../plugins/aws/src';
import { awsDataSource, inlineKeys } from './harness/aws/providerContext';
import { SecretsManagerStandIn } from './harness/aws/SecretsManagerStandIn';
import { registerSecret } from './support/secretScan';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/**
 * The secret chain's shared look-ups with the real AWS provider and SDK against the Secrets
 * Manager stand-in: a caller that cancels leaves alone; the HTTP request the SDK sends for the
 * others goes on and answers them (issue 17's bug: it failed them with the first caller's
 * "the client cancelled the call").
 */
describe('secret chain + aws-secrets-manager: cancelling one of several callers', () => {
  const key = { accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64'), allow: ['app/*'] };
  const password = `pw-${randomBytes(12).toString('hex')}`;
  let s: SecretsManagerStandIn;
  let provider: SecretsManagerProvider;
  let chain: SecretChain;
  beforeAll(async () => {
    registerSecret('the chain test password', password);
    registerSecret('the chain test access key', key.secretAccessKey);
    s = await SecretsManagerStandIn.start({ keys: [key] });
    s.putSecret('app/db', JSON.stringify({ password }));
    provider = createSecretsManagerProvider({ maxAttempts: 1 });
  });
  afterAll(async () => {
    provider.close();
    await s.stop();
  });
  beforeEach(() => {
    s.reset();
    // A fresh chain per test: nothing cached from the one before.
    chain = new SecretChain({ providers: [provider], policy: { allowedReferences: ['aws-sm://*'], dynamicStrategies: false } });
  });

  const request = (): SecretRequest => {
    const source = awsDataSource(inlineKeys(key.accessKeyId, key.secretAccessKey), { aws_sm_endpoint: s.endpoint });
    const field = 'data_source.credentials.password';
    return {
      input: { kind: 'reference', reference: 'aws-sm://eu-west-1/app/db#password', field },
      propertyKeys: [],
      label: 'password',
      field,
      source,
      fallbacks: false,
    };
  };
  const errorOf = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e,
    );
  /** Resolves once the stand-in holds the one GetSecretValue request (it answers after its delay). */
  const requestArrived = () =>
    vi.waitFor(() => expect(s.calls.filter((c) => c.operation === 'GetSecretValue')).toHaveLength(1), { timeout: 10_000, interval: 5 });

  it('answers the other callers when one cancels, with the one request the SDK sent', async () => {
    s.setDelay(400);
    const a = new AbortController();
    const first = errorOf(chain.resolve(request(), a.signal));
    const second = chain.resolve(request(), new AbortController().signal);
    const third = chain.resolve(request(), new AbortController().signal);
    await requestArrived();
    a.abort(new AbortedError('the client cancelled the call'));
    const aError = (await first) as AbortedError;
    expect(aError).toBeInstanceOf(AbortedError);
    expect(aError.reason).toBe('CANCELLED');
    const [b, c] = await Promise.all([second, third]);
    expect([b.secret.reveal(), c.secret.reveal()]).toEqual([password, password]);
    expect(b.link).toBe('aws-sm://eu-west-1/app/db');
    // One request, answered by the service (not dropped by a cancelled SDK call).
    expect(s.calls.map((call) => [call.operation, call.status])).toEqual([['GetSecretValue', 200]]);
  });

  it('drops the request when every caller cancels, and the next caller sends a new one', async () => {
    s.setDelay(60_000);
    const a = new AbortController();
    const b = new AbortController();
    const first = errorOf(chain.resolve(request(), a.signal));
    const second = errorOf(chain.resolve(request(), b.signal));
    await requestArrived();
    a.abort(new AbortedError('the client cancelled the call'));
    b.abort(new AbortedError('the client cancelled the call'));
    expect(await first).toBeInstanceOf(AbortedError);
    expect(await second).toBeInstanceOf(AbortedError);
    s.setDelay(0);
    const next = await chain.resolve(request(), new AbortController().signal);
    expect(next).toMatchObject({ cached: false });
    expect(next.secret.reveal()).toBe(password);
    expect(s.callsFor('app/db')).toBe(2);
  });
});
