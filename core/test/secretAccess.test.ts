import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  envSecretProvider,
  fileSecretProvider,
  InputError,
  NotAllowedError,
  normalizeDataSource,
  SecretChain,
  SecretResolutionError,
  type DataSourceInput,
  type SecretProvider,
} from '../src';

const resolver = { resolve: (t: string) => (t === 'postgres' ? t : undefined), known: () => ['postgres'] };
const source = (input: Partial<DataSourceInput>) => normalizeDataSource({ type: 'postgres', primary: { host: 'h' }, ...input }, resolver);
const signal = new AbortController().signal;
const passwordOf = (input: Partial<DataSourceInput>) => {
  const s = source(input);
  return { input: s.password, propertyKeys: ['password'], label: 'password', field: 'data_source.credentials.password', source: s };
};
const errorOf = async (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

const dir = mkdtempSync(join(tmpdir(), 'sourced-secret-access-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SecretChain.checkPolicy: every reference a call could try, before any is tried', () => {
  const chain = new SecretChain({
    providers: [envSecretProvider, fileSecretProvider],
    policy: { allowedReferences: ['env://SOURCED_SECRET_TEAM_A_*'], dynamicStrategies: true },
  });

  /** The dynamic variable that is the only way to a password is required: refused by the policy, the call is refused, naming data_source.id. */
  it('requires the dynamic variable when it is the only link, and refuses it outside the policy', () => {
    expect(chain.checkPolicy(source({ id: 'team_a_db' }))).toEqual({
      required: [{ reference: 'env://SOURCED_SECRET_TEAM_A_DB_PASSWORD', field: 'data_source.id' }],
      fallbacks: [],
    });
    for (const input of [
      { id: 'TEAM_B' },
      { id: 'TEAM_B', connectionProperties: { password: 12345 } },
      { id: 'TEAM_B', additionalProperties: { password: true } },
    ]) {
      let error: unknown;
      try {
        chain.checkPolicy(source(input));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(NotAllowedError);
      expect((error as NotAllowedError).metadata.field).toBe('data_source.id');
    }
  });

  /** After a reference or a property, the dynamic variable is a fallback: outside the policy it is left out, not a refusal. */
  it('plans a dynamic variable after another link as a fallback, and leaves it out when the policy refuses it', () => {
    const given = { credentials: { password: { reference: 'env://SOURCED_SECRET_TEAM_A_PW' } } };
    expect(chain.checkPolicy(source({ id: 'TEAM_B', ...given }))).toEqual({
      required: [{ reference: 'env://SOURCED_SECRET_TEAM_A_PW', field: 'data_source.credentials.password.reference' }],
      fallbacks: [],
    });
    expect(chain.checkPolicy(source({ id: 'TEAM_A_X', ...given })).fallbacks).toEqual([
      { reference: 'env://SOURCED_SECRET_TEAM_A_X_PASSWORD', field: 'data_source.id' },
    ]);
  });

  /** The TLS key's dynamic variable is planned too. */
  it('plans the fallbacks of the TLS client key', () => {
    const s = source({
      id: 'TEAM_A_X',
      sslConfig: { mode: 'require', cert: '-----BEGIN CERTIFICATE-----', key: { reference: 'env://SOURCED_SECRET_TEAM_A_KEY' } },
    });
    expect(chain.checkPolicy(s).fallbacks).toContainEqual({ reference: 'env://SOURCED_SECRET_TEAM_A_X_SSL_KEY', field: 'data_source.id' });
  });

  /** TLS files named by path are file:// references: none allowed by default, one identical error. */
  it('checks TLS paths as file:// references with one error for every refusal', () => {
    const messages = new Set<string>();
    for (const ca of ['/etc/ssl/certs/ca.pem', 'relative.pem', '/proc/self/environ', '/srv/../etc/passwd']) {
      try {
        chain.checkPolicy(source({ sslConfig: { mode: 'verify-full', ca } }));
      } catch (e) {
        expect((e as NotAllowedError).reason).toBe('SSL_PATH_NOT_ALLOWED');
        messages.add((e as Error).message);
      }
    }
    expect(messages.size).toBe(1);
    const allowing = new SecretChain({ providers: [fileSecretProvider], policy: { allowedReferences: [`file://${dir}/*`], dynamicStrategies: false } });
    expect(allowing.checkPolicy(source({ sslConfig: { mode: 'verify-full', ca: `${dir}/ca.pem` } })).required).toEqual([
      { reference: `file://${dir}/ca.pem`, field: 'data_source.ssl_config.ca' },
    ]);
  });
});

describe('SecretChain under a call grant', () => {
  const chain = new SecretChain({ providers: [envSecretProvider], policy: { allowedReferences: ['env://SOURCED_SECRET_*'], dynamicStrategies: true } });
  const teamA = chain.forCall((r) => r.startsWith('env://SOURCED_SECRET_TEAM_A_'));

  /** A granted reference that is unset does not fall through to a variable the caller is not granted, even when it is set. */
  it('does not try a fallback the caller is not granted', async () => {
    process.env.SOURCED_SECRET_TEAM_B_PASSWORD = 'team-b-secret';
    try {
      const error = await errorOf(
        teamA.resolve(passwordOf({ id: 'TEAM_B', credentials: { password: { reference: 'env://SOURCED_SECRET_TEAM_A_UNSET' } } }), signal),
      );
      expect(error).toBeInstanceOf(SecretResolutionError);
      expect((error as SecretResolutionError).attempts.map((a) => `${a.link}: ${a.outcome}`)).toEqual([
        'env://SOURCED_SECRET_TEAM_A_UNSET: environment variable SOURCED_SECRET_TEAM_A_UNSET is not set',
        "env:SOURCED_SECRET_TEAM_B_PASSWORD: not tried: the caller's roles do not grant env://SOURCED_SECRET_TEAM_B_PASSWORD",
      ]);
      // Unscoped (authentication off), the default policy still lets the id name its variable.
      expect((await chain.resolve(passwordOf({ id: 'TEAM_B' }), signal)).link).toBe('env:SOURCED_SECRET_TEAM_B_PASSWORD');
    } finally {
      delete process.env.SOURCED_SECRET_TEAM_B_PASSWORD;
    }
  });

  /** Cloud credentials and a provider's nested look-ups pass the grant too. */
  it('refuses an ungranted cloud reference and an ungranted nested look-up', async () => {
    const s = source({});
    const cloud = await errorOf(
      teamA.resolveInput(
        { kind: 'reference', reference: 'env://SOURCED_SECRET_TEAM_B_AWS', field: 'data_source.cloud_config.aws_secret_access_key' },
        s,
        signal,
      ),
    );
    expect(cloud).toMatchObject({ reason: 'MISSING_GRANT' });
    const nesting: SecretProvider = {
      id: 'nest',
      schemes: ['nest'],
      resolve: async (_ref, ctx) =>
        (
          await ctx.resolveSecret({ kind: 'reference', reference: 'env://SOURCED_SECRET_TEAM_B_KEY', field: 'data_source.connection_properties.key' }, 'key')
        ).reveal(),
    };
    const nested = new SecretChain({ providers: [envSecretProvider, nesting], policy: { allowedReferences: ['*'], dynamicStrategies: false } }).forCall((r) =>
      r.startsWith('nest://'),
    );
    const error = await errorOf(nested.resolve(passwordOf({ credentials: { password: { reference: 'nest://x' } } }), signal));
    expect(error).toMatchObject({ reason: 'MISSING_GRANT' });
    expect((error as Error).message).toContain('do not grant the secret env://SOURCED_SECRET_TEAM_B_KEY');
  });
});

describe('file:// references', () => {
  const secrets = join(dir, 'secrets');
  const outside = join(dir, 'outside');
  mkdirSync(join(secrets, 'sub'), { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(secrets, 'pg'), 'pg-password\n');
  writeFileSync(join(outside, 'key'), 'outside-secret');
  symlinkSync(join(outside, 'key'), join(secrets, 'escape'));
  symlinkSync('/proc/self/environ', join(secrets, 'environ'));
  symlinkSync(join(secrets, 'pg'), join(secrets, 'inside'));
  execFileSync('mkfifo', [join(secrets, 'fifo')]);
  const chain = new SecretChain({ providers: [fileSecretProvider], policy: { allowedReferences: [`file://${secrets}/*`], dynamicStrategies: false } });
  const read = (uri: string) => chain.resolve(passwordOf({ credentials: { password: { reference: uri } } }), signal);

  /** `..`, `.`, empty segments, percent escapes and relative paths are refused before the policy is matched. */
  it('refuses references that are not normalised absolute paths', async () => {
    for (const uri of [
      `file://${secrets}/../outside/key`,
      `file://${secrets}/./pg`,
      `file://${secrets}//pg`,
      `file://${secrets}/%2e%2e/outside/key`,
      'file://secrets/pg',
      `file://${secrets}/sub/..`,
    ]) {
      const error = await errorOf(read(uri));
      expect(error, uri).toBeInstanceOf(InputError);
      expect((error as InputError).violations[0].field).toBe('data_source.credentials.password.reference');
    }
  });

  /** /proc, /sys and /dev are never read, even when the policy allows every file. */
  it('never reads /proc, /sys or /dev', async () => {
    const all = new SecretChain({ providers: [fileSecretProvider], policy: { allowedReferences: ['file:///*'], dynamicStrategies: false } });
    for (const uri of ['file:///proc/self/environ', 'file:///dev/zero', 'file:///sys/kernel/notes', `file://${secrets}/environ`]) {
      await expect(all.resolve(passwordOf({ credentials: { password: { reference: uri } } }), signal), uri).rejects.toThrow();
    }
  });

  /** Missing, directory, link out, link into /proc, FIFO: one identical outcome (the FIFO does not hang). A link that stays inside is read. */
  it('gives one identical outcome for every refused file and follows links that stay inside', async () => {
    const outcomes = new Set<string>();
    for (const name of ['nope', 'sub', 'escape', 'environ', 'fifo']) {
      const uri = `file://${secrets}/${name}`;
      const error = (await errorOf(read(uri))) as SecretResolutionError;
      expect(error, name).toBeInstanceOf(SecretResolutionError);
      outcomes.add(`${error.attempts[0].reason} ${error.attempts[0].outcome.replaceAll(uri, 'URI')}`);
    }
    expect([...outcomes]).toHaveLength(1);
    expect((await read(`file://${secrets}/inside`)).secret.reveal()).toBe('pg-password');
  });

  /** The real path is checked on every look-up: a value cached for a caller granted where a link leads is not served to one who is not. */
  it("checks the real path against each caller's grants, cached or not", async () => {
    const both = new SecretChain({
      providers: [fileSecretProvider],
      policy: { allowedReferences: [`file://${secrets}/*`, `file://${outside}/*`], dynamicStrategies: false },
    });
    const uri = `file://${secrets}/escape`;
    const req = passwordOf({ credentials: { password: { reference: uri } } });
    const wide = both.forCall((r) => r.startsWith(`file://${secrets}/`) || r.startsWith(`file://${outside}/`));
    const narrow = both.forCall((r) => r.startsWith(`file://${secrets}/`));
    expect((await wide.resolve(req, signal)).secret.reveal()).toBe('outside-secret');
    expect(await errorOf(narrow.resolve(req, signal))).toBeInstanceOf(SecretResolutionError);
  });
});
