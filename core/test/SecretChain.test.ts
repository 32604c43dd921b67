import { inspect } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  envSecretProvider,
  fileSecretProvider,
  NotAllowedError,
  normalizeDataSource,
  Secret,
  SecretChain,
  SecretErrorReason,
  SecretResolutionError,
  UnavailableError,
  type DataSourceInput,
  parseSecretReference,
  type SecretProvider,
} from '../src';

const resolver = { resolve: (t: string) => (t === 'postgres' ? t : undefined), known: () => ['postgres'] };
const source = (input: Partial<DataSourceInput>) => normalizeDataSource({ type: 'postgres', primary: { host: 'h' }, ...input }, resolver);
const signal = new AbortController().signal;

function request(input: Partial<DataSourceInput>) {
  const s = source(input);
  return { input: s.password, propertyKeys: ['password'], label: 'password', field: 'data_source.credentials.password', source: s };
}

describe('Secret', () => {
  /** A secret prints [REDACTED] however it is turned into text. */
  it('never prints its value', () => {
    const s = new Secret('hunter2', 'inline');
    const renderings = [String(s), `${s}`, JSON.stringify({ s }), inspect(s), inspect({ deep: { s } }), s.toString()];
    for (const r of renderings) expect(r).not.toContain('hunter2');
    expect(s.reveal()).toBe('hunter2');
  });
});

describe('SecretChain', () => {
  it('resolves env:// references allowed by the policy', async () => {
    process.env.SOURCED_SECRET_UNIT = 'from-env';
    const chain = new SecretChain({ providers: [envSecretProvider] });
    const r = await chain.resolve(request({ credentials: { password: { reference: 'env://SOURCED_SECRET_UNIT' } } }), signal);
    expect(r.secret.reveal()).toBe('from-env');
    expect(r.link).toBe('env://SOURCED_SECRET_UNIT');
  });

  /** A caller can never make the daemon read its own credentials. */
  it('refuses references outside the policy before calling any provider', async () => {
    const chain = new SecretChain({ providers: [envSecretProvider, fileSecretProvider] });
    await expect(chain.resolve(request({ credentials: { password: { reference: 'env://AWS_SECRET_ACCESS_KEY' } } }), signal)).rejects.toBeInstanceOf(
      NotAllowedError,
    );
    await expect(chain.resolve(request({ credentials: { password: { reference: 'file:///etc/shadow' } } }), signal)).rejects.toThrow(
      /does not allow file:\/\/\/etc\/shadow/,
    );
  });

  it('reads file:// references with a JSON path when the policy allows the folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sourced-secret-'));
    writeFileSync(join(dir, 'db.json'), JSON.stringify({ db: { password: 'from-file' } }));
    const chain = new SecretChain({ providers: [fileSecretProvider], policy: { allowedReferences: [`file://${dir}/*`], dynamicStrategies: false } });
    const r = await chain.resolve(request({ credentials: { password: { reference: `file://${dir}/db.json#db.password` } } }), signal);
    expect(r.secret.reveal()).toBe('from-file');
  });

  /** When the explicit reference fails, the chain falls back to properties and reports every link otherwise. */
  it('falls back to connection_properties, and lists every link it tried when all fail', async () => {
    const chain = new SecretChain({ providers: [envSecretProvider] });
    const ok = await chain.resolve(
      request({ credentials: { password: { reference: 'env://SOURCED_SECRET_MISSING' } }, connectionProperties: { password: 'loose-value' } }),
      signal,
    );
    expect(ok.link).toBe('connection_properties.password');
    expect(ok.secret.reveal()).toBe('loose-value');

    const failure = await chain
      .resolve(request({ id: 'orders', credentials: { password: { reference: 'env://SOURCED_SECRET_MISSING' } } }), signal)
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SecretResolutionError);
    expect((failure as SecretResolutionError).attempts.map((a) => a.link)).toEqual(['env://SOURCED_SECRET_MISSING', 'env:SOURCED_SECRET_ORDERS_PASSWORD']);
  });

  /** Concurrent look-ups of one reference make one provider call; later ones hit the cache. */
  it('collapses concurrent look-ups and caches', async () => {
    let calls = 0;
    const slow: SecretProvider = {
      id: 'slow',
      schemes: ['slow'],
      resolve: async () => {
        calls += 1;
        await new Promise((r) => setTimeout(r, 20));
        return 'v';
      },
    };
    const chain = new SecretChain({ providers: [slow], policy: { allowedReferences: ['slow://*'], dynamicStrategies: false } });
    const req = request({ credentials: { password: { reference: 'slow://x' } } });
    const results = await Promise.all(Array.from({ length: 10 }, () => chain.resolve(req, signal)));
    expect(results.every((r) => r.secret.reveal() === 'v')).toBe(true);
    expect(calls).toBe(1);
    const again = await chain.resolve(req, signal);
    expect(again.cached).toBe(true);
    expect(calls).toBe(1);
  });

  it('times out a provider that does not answer and says which', async () => {
    const hang: SecretProvider = { id: 'hang', schemes: ['hang'], resolve: () => new Promise(() => undefined) };
    const chain = new SecretChain({ providers: [hang], providerTimeoutMs: 50, policy: { allowedReferences: ['hang://*'], dynamicStrategies: false } });
    await expect(chain.resolve(request({ credentials: { password: { reference: 'hang://x' } } }), signal)).rejects.toThrow(
      /hang:\/\/x: hang did not answer within 50 ms/,
    );
  });

  it('refuses two providers for one scheme', () => {
    expect(() => new SecretChain({ providers: [envSecretProvider, { ...envSecretProvider, id: 'other' }] })).toThrow(
      'secret scheme "env" is registered by both "env" and "other"',
    );
  });
});

describe('SecretChain, provider behaviour', () => {
  const counting = (answers: (() => Promise<string>)[], identity?: SecretProvider['identity']) => {
    let calls = 0;
    const provider: SecretProvider = {
      id: 'fake',
      schemes: ['fake'],
      identity,
      resolve: () => {
        const answer = answers[Math.min(calls, answers.length - 1)];
        calls += 1;
        return answer();
      },
    };
    return { provider, calls: () => calls };
  };
  const policy = { allowedReferences: ['fake://*', 'env://SOURCED_SECRET_*'], dynamicStrategies: false };
  const ref = (reference: string, extra: Partial<DataSourceInput> = {}) => request({ credentials: { password: { reference } }, ...extra });

  /** A throttled provider is retried with back-off and its value used. */
  it('retries a throttled provider', async () => {
    const throttled = () => Promise.reject(new UnavailableError(SecretErrorReason.THROTTLED, 'slow down'));
    const fake = counting([throttled, throttled, () => Promise.resolve('v')]);
    const chain = new SecretChain({ providers: [fake.provider], policy });
    const r = await chain.resolve(ref('fake://x'), signal);
    expect(r.secret.reveal()).toBe('v');
    expect(fake.calls()).toBe(3);
  });

  /** Throttling that does not stop becomes one clear failure after the attempts. */
  it('gives up on throttling after its attempts', async () => {
    const fake = counting([() => Promise.reject(new UnavailableError(SecretErrorReason.THROTTLED, 'slow down'))]);
    const chain = new SecretChain({ providers: [fake.provider], policy, throttleAttempts: 2 });
    const error = (await chain.resolve(ref('fake://x'), signal).catch((e: unknown) => e)) as SecretResolutionError;
    expect(error.attempts).toEqual([{ link: 'fake://x', outcome: 'fake throttled fake://x 2 times; try again later', reason: 'SECRET_PROVIDER_THROTTLED' }]);
    expect(fake.calls()).toBe(2);
  });

  /** Two identities never share a cached value; one identity does. */
  it('keys the cache by the identity the provider fetches with', async () => {
    let n = 0;
    const provider: SecretProvider = {
      id: 'fake',
      schemes: ['fake'],
      identity: (_r, ctx) => String(ctx.source?.connectionProperties.who),
      resolve: async () => `value-${++n}`,
    };
    const chain = new SecretChain({ providers: [provider], policy });
    const a1 = await chain.resolve(ref('fake://x', { connectionProperties: { who: 'a' } }), signal);
    const b1 = await chain.resolve(ref('fake://x', { connectionProperties: { who: 'b' } }), signal);
    const a2 = await chain.resolve(ref('fake://x', { connectionProperties: { who: 'a' } }), signal);
    expect([a1.secret.reveal(), b1.secret.reveal(), a2.secret.reveal()]).toEqual(['value-1', 'value-2', 'value-1']);
    expect(a2.cached).toBe(true);
  });

  /** A rotated secret is picked up once the TTL has passed, not before. */
  it('refetches after the TTL', async () => {
    let value = 'old';
    const provider: SecretProvider = { id: 'fake', schemes: ['fake'], resolve: async () => value };
    const chain = new SecretChain({ providers: [provider], policy, cacheTtlMs: 40 });
    expect((await chain.resolve(ref('fake://x'), signal)).secret.reveal()).toBe('old');
    value = 'new';
    expect((await chain.resolve(ref('fake://x'), signal)).secret.reveal()).toBe('old');
    await new Promise((r) => setTimeout(r, 60));
    expect((await chain.resolve(ref('fake://x'), signal)).secret.reveal()).toBe('new');
  });

  /** With staleIfErrorMs, a provider outage serves the last value, marked stale; without it, it fails. */
  it('serves a stale value while the provider is down only when configured', async () => {
    const down = () => Promise.reject(new UnavailableError(SecretErrorReason.UNREACHABLE, 'down'));
    const lenient = new SecretChain({ providers: [counting([() => Promise.resolve('v'), down]).provider], policy, cacheTtlMs: 1, staleIfErrorMs: 60_000 });
    await lenient.resolve(ref('fake://x'), signal);
    await new Promise((r) => setTimeout(r, 5));
    const stale = await lenient.resolve(ref('fake://x'), signal);
    expect(stale).toMatchObject({ stale: true, link: 'fake://x (stale)' });
    expect(stale.secret.reveal()).toBe('v');

    const strict = new SecretChain({ providers: [counting([() => Promise.resolve('v'), down]).provider], policy, cacheTtlMs: 1 });
    await strict.resolve(ref('fake://x'), signal);
    await new Promise((r) => setTimeout(r, 5));
    await expect(strict.resolve(ref('fake://x'), signal)).rejects.toBeInstanceOf(SecretResolutionError);
  });

  /** The configured order decides which link wins. */
  it('follows the configured order', async () => {
    process.env.SOURCED_SECRET_ORDERED_PASSWORD = 'from-dynamic';
    const input = request({ id: 'ordered', connectionProperties: { password: 'from-properties' } });
    const byDefault = new SecretChain({ providers: [] });
    expect((await byDefault.resolve(input, signal)).link).toBe('connection_properties.password');
    const dynamicFirst = new SecretChain({ providers: [], order: ['dynamic', 'connection_properties'] });
    expect((await dynamicFirst.resolve(input, signal)).link).toBe('env:SOURCED_SECRET_ORDERED_PASSWORD');
  });

  /** Providers resolve their own credentials through the chain, never from themselves. */
  it('lets a provider resolve its credentials through the chain, refusing cycles', async () => {
    process.env.SOURCED_SECRET_PROVIDER_KEY = 'provider-key';
    const seen: string[] = [];
    const provider: SecretProvider = {
      id: 'fake',
      schemes: ['fake'],
      resolve: async (_r, ctx) => {
        const key = ctx.source?.connectionProperties.key as string;
        const secret = await ctx.resolveSecret({ kind: 'reference', reference: key, field: 'data_source.connection_properties.key' }, 'provider key');
        seen.push(secret.reveal());
        return 'v';
      },
    };
    const chain = new SecretChain({ providers: [provider, envSecretProvider], policy });
    await chain.resolve(ref('fake://x', { connectionProperties: { key: 'env://SOURCED_SECRET_PROVIDER_KEY' } }), signal);
    expect(seen).toEqual(['provider-key']);
    const cycle = (await chain
      .resolve(ref('fake://y', { connectionProperties: { key: 'fake://z' } }), signal)
      .catch((e: unknown) => e)) as SecretResolutionError;
    expect(cycle.attempts[0].outcome).toContain('the credentials of fake cannot come from fake itself');
  });

  /** Every reference of a data source is checked against the policy before anything runs. */
  it('checks every reference of a data source against the policy', () => {
    const chain = new SecretChain({ providers: [envSecretProvider, fileSecretProvider] });
    expect(() =>
      chain.checkPolicy(source({ connectionProperties: { aws_sm_endpoint: 'https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com' } })),
    ).not.toThrow();
    expect(() => chain.checkPolicy(source({ credentials: { password: { reference: 'env://SOURCED_SECRET_OK' } } }))).not.toThrow();
    expect(() => chain.checkPolicy(source({ connectionProperties: { password: 'file:///etc/shadow' } }))).toThrow(
      "data_source.connection_properties.password: the daemon's secret policy does not allow file:///etc/shadow",
    );
    expect(() =>
      chain.checkPolicy(source({ cloudConfig: { awsAccessKeyId: { reference: 'env://AWS_ACCESS_KEY_ID' }, awsSecretAccessKey: { inlineValue: 'x' } } })),
    ).toThrow(/cloud_config\.aws_access_key_id\.reference: .* does not allow env:\/\/AWS_ACCESS_KEY_ID/);
  });
});

describe('parseSecretReference', () => {
  /** The query may follow the fragment, as the providers' documentation writes it; both orders mean the same. */
  it('reads a query before or after the JSON path', () => {
    const a = parseSecretReference('aws-sm://eu-west-1/prod/db#password?versionStage=AWSPREVIOUS');
    const b = parseSecretReference('aws-sm://eu-west-1/prod/db?versionStage=AWSPREVIOUS#password');
    expect(a).toEqual({
      uri: 'aws-sm://eu-west-1/prod/db?versionStage=AWSPREVIOUS',
      scheme: 'aws-sm',
      target: 'eu-west-1/prod/db?versionStage=AWSPREVIOUS',
      fragment: 'password',
    });
    expect(b).toEqual(a);
    expect(parseSecretReference('env://NAME')).toEqual({ uri: 'env://NAME', scheme: 'env', target: 'NAME', fragment: undefined });
    expect(parseSecretReference('not a reference')).toBeUndefined();
  });
});
