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
  SecretResolutionError,
  type DataSourceInput,
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
