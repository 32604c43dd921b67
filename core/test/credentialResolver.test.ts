import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CredentialResolver,
  envSecretProvider,
  fileSecretProvider,
  NotAllowedError,
  Secret,
  SecretChain,
  endpointOf,
  type DataSource,
  type DataSourceInput,
} from '../src';
import { fakeContext, fakeSource } from './fakeConnector';

const signal = () => new AbortController().signal;
const CA = '-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIBkey\n-----END PRIVATE KEY-----\n';

/** A folder the policy allows files from, with a CA and a key in it; and one it does not. */
const allowed = mkdtempSync(join(tmpdir(), 'sourced-cred-allowed-'));
const elsewhere = mkdtempSync(join(tmpdir(), 'sourced-cred-other-'));
writeFileSync(join(allowed, 'ca.pem'), CA);
writeFileSync(join(allowed, 'key.pem'), KEY);
writeFileSync(join(elsewhere, 'ca.pem'), CA);
process.env.SOURCED_SECRET_CRED_TEST = 's3cret-from-env';
process.env.NOT_ALLOWED_CRED_TEST = 'never-read';

const chain = new SecretChain({
  providers: [envSecretProvider, fileSecretProvider],
  policy: { allowedReferences: ['env://SOURCED_SECRET_*', `file://${allowed}/*`], dynamicStrategies: false },
});

function resolve(input: Partial<DataSourceInput>, context = fakeContext({ secrets: chain })) {
  const source: DataSource = fakeSource({ credentials: { username: 'app' }, ...input });
  return new CredentialResolver(source, 'fake', context).connectionArgs('PRIMARY', endpointOf(source, 'PRIMARY', 7000), signal(), { statementTimeoutMs: 5000 });
}

describe('CredentialResolver', () => {
  /** A password reference the policy allows is resolved through the chain, reported by its link, never by its value. */
  it('resolves the password through the secret chain', async () => {
    const args = await resolve({ credentials: { username: 'app', password: { reference: 'env://SOURCED_SECRET_CRED_TEST' } } });
    expect(String(args.password)).toBe('[REDACTED]');
    expect(typeof args.password === 'object' && args.password.reveal()).toBe('s3cret-from-env');
    expect(args.credentialSources).toEqual({ password: 'env://SOURCED_SECRET_CRED_TEST' });
    expect(JSON.stringify(args.credentialSources)).not.toContain('s3cret');
    expect(args).toMatchObject({ host: 'primary', port: 7000, user: 'app', statementTimeoutMs: 5000, keepAlive: false });
  });

  /** A reference outside the policy's allowed references is refused (PERMISSION_DENIED) without being read. */
  it('applies the secret policy to the password', async () => {
    const run = resolve({ credentials: { username: 'app', password: { reference: 'env://NOT_ALLOWED_CRED_TEST' } } });
    await expect(run).rejects.toBeInstanceOf(NotAllowedError);
    await expect(run).rejects.not.toThrow('never-read');
  });

  /** ssl_ca and ssl_key given as paths are read as file:// look-ups: inside the allowed folder they load; elsewhere the field is named and nothing is read. */
  it('applies the file policy to every PEM path', async () => {
    const args = await resolve({ sslConfig: { mode: 'verify-full', ca: join(allowed, 'ca.pem'), cert: CA, key: { inlineValue: join(allowed, 'key.pem') } } });
    expect(args.tls).toMatchObject({ mode: 'verify-full', ca: CA.trim(), cert: CA }); // a file's value is trimmed
    expect(typeof args.tls?.key === 'object' && args.tls.key.reveal().trim()).toBe(KEY.trim());
    for (const path of [join(elsewhere, 'ca.pem'), '/proc/self/environ', join(allowed, 'missing.pem')]) {
      await expect(resolve({ sslConfig: { mode: 'require', ca: path } })).rejects.toMatchObject({
        reason: 'SSL_PATH_NOT_ALLOWED',
        metadata: { field: 'data_source.ssl_config.ca' },
      });
    }
    await expect(resolve({ sslConfig: { mode: 'require', ca: CA, cert: CA, key: { inlineValue: join(elsewhere, 'ca.pem') } } })).rejects.toMatchObject({
      reason: 'SSL_PATH_NOT_ALLOWED',
    });
  });

  /** use_iam_auth: a fresh token from the host's minter for the endpoint, reported by provider and expiry; without a minter or a user, a clear error naming what is missing. */
  it('mints a database token per connection with use_iam_auth', async () => {
    const minted: string[] = [];
    const tokens = {
      mint: async (request: { host: string; port: number; user: string; connector: string }) => {
        minted.push(`${request.connector} ${request.user}@${request.host}:${request.port}`);
        return { token: new Secret(`tok${minted.length}`, 'token'), expiresAt: Date.UTC(2030, 0, 1), provider: 'aws-rds-iam' };
      },
    };
    const iam = { cloudProvider: 'AWS', sslConfig: { mode: 'require' }, cloudConfig: { useIamAuth: true, awsRegion: 'eu-west-1' } } as Partial<DataSourceInput>;
    const args = await resolve(iam, fakeContext({ secrets: chain, tokens }));
    expect(typeof args.password === 'object' && args.password.reveal()).toBe('tok1');
    expect(args.credentialSources.password).toBe('aws-rds-iam token (expires 2030-01-01T00:00:00.000Z)');
    await resolve(iam, fakeContext({ secrets: chain, tokens }));
    expect(minted).toEqual(['fake app@primary:7000', 'fake app@primary:7000']);
    await expect(resolve(iam)).rejects.toMatchObject({ reason: 'TOKEN_PROVIDER_MISSING', message: expect.stringContaining('@sourced/plugin-aws') });
    await expect(resolve({ ...iam, credentials: {} }, fakeContext({ secrets: chain, tokens }))).rejects.toMatchObject({
      violations: [{ field: 'data_source.credentials.username', description: expect.stringContaining('use_iam_auth') }],
    });
  });
});
