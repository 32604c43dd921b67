import { createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  createLocalKeyProvider,
  DataKeyInvalidError,
  ENVELOPE_PREFIX,
  EnvelopeContextError,
  EnvelopeFormatError,
  EnvelopeTamperedError,
  InputError,
  KeyDisabledError,
  KeyNotFoundError,
  KeyProviderMissingError,
  KeyProviderUnavailableError,
  NotAllowedError,
  noopLogger,
  openEnvelope,
  parseEnvelope,
  parseKeyring,
  reencryptEnvelope,
  sealEnvelope,
  Secret,
  SourcedError,
  UnavailableError,
  type EncryptionContext,
  type KeyProvider,
  type KeyProviders,
} from '@sourced/core';

const FIELD = 'data_source.credentials.password.encrypted';
const ctx = { signal: new AbortController().signal, logger: noopLogger, field: FIELD };
const context: EncryptionContext = { dataSourceId: 'orders-db', field: 'credentials.password' };
const k1 = randomBytes(32).toString('base64');
const k2 = randomBytes(32).toString('base64');
const ring = (current: string, keys: Record<string, string>, disabled?: string[]) => JSON.stringify({ current, keys, ...(disabled ? { disabled } : {}) });
const providersOf = (...list: KeyProvider[]): KeyProviders => ({ get: (n) => list.find((p) => p.id === n), names: () => list.map((p) => p.id) });
const PLAIN = 'pa55-wörd:with \u0000 odd bytes';

async function seal(provider: KeyProvider, value = PLAIN, c = context): Promise<string> {
  return (await sealEnvelope(new Secret(value, 'test'), c, provider, ctx)).envelope;
}
const bytesOf = (env: string) => Buffer.from(env.slice(ENVELOPE_PREFIX.length), 'base64url');
const textOf = (bytes: Buffer) => ENVELOPE_PREFIX + bytes.toString('base64url');

/** The error a promise rejects with; fails the test when it resolves. */
async function errorOf(p: Promise<unknown>): Promise<SourcedError> {
  const outcome = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(outcome, 'expected a rejection').toBeInstanceOf(SourcedError);
  return outcome as SourcedError;
}

describe('envelope v1 with the local key provider', () => {
  const local = createLocalKeyProvider({ json: ring('k1', { k1 }) });
  const providers = providersOf(local);

  it('round-trips a value, with a fresh data key and nonce per value', async () => {
    const a = await seal(local);
    const b = await seal(local);
    expect(a.startsWith(ENVELOPE_PREFIX)).toBe(true);
    expect(a).not.toBe(b);
    const pa = parseEnvelope(a, FIELD);
    const pb = parseEnvelope(b, FIELD);
    expect(Buffer.from(pa.wrappedKey).equals(Buffer.from(pb.wrappedKey))).toBe(false);
    expect(Buffer.from(pa.nonce).equals(Buffer.from(pb.nonce))).toBe(false);
    expect(pa).toMatchObject({ keyProvider: 'local', keyId: 'k1' });
    const opened = await openEnvelope(a, context, providers, ctx);
    expect(opened.secret.reveal()).toBe(PLAIN);
    expect(opened).toMatchObject({ keyProvider: 'local', keyId: 'k1' });
    expect(inspect(opened)).not.toContain('pa55');
    expect(JSON.stringify(opened)).not.toContain('pa55');
    // The envelope never holds the value in the clear.
    expect(Buffer.from(bytesOf(a)).includes(Buffer.from('pa55'))).toBe(false);
  });

  it('round-trips the empty value', async () => {
    expect((await openEnvelope(await seal(local, ''), context, providers, ctx)).secret.reveal()).toBe('');
  });

  it('decrypts by the documented format alone (what another implementation would do)', async () => {
    const env = await seal(local);
    const b = bytesOf(env);
    let at = 2;
    const n = b[at++];
    const provider = b.subarray(at, (at += n)).toString();
    const m = b.readUInt16BE(at);
    const keyId = b.subarray((at += 2), (at += m)).toString();
    const w = b.readUInt16BE(at);
    const wrapped = b.subarray((at += 2), (at += w));
    at += 16; // context digest
    const nonce = b.subarray(at, (at += 12));
    const c = b.readUInt32BE(at);
    at += 4;
    const header = b.subarray(0, at);
    const ciphertext = b.subarray(at, (at += c));
    const tag = b.subarray(at, (at += 16));
    expect([b[0], b[1], provider, keyId, at]).toEqual([1, 1, 'local', 'k1', b.length]);
    const ctxBytes = Buffer.from('{"data_source_id":"orders-db","field":"credentials.password"}');
    expect(b.subarray(header.length - 16 - 12 - 4, header.length - 12 - 4).equals(createHash('sha256').update(ctxBytes).digest().subarray(0, 16))).toBe(true);
    // local wrap: nonce ‖ ct ‖ tag under the KEK, AAD "sourced:local:v1\0<key id>\0<context>".
    const unwrap = createDecipheriv('aes-256-gcm', Buffer.from(k1, 'base64'), wrapped.subarray(0, 12));
    unwrap.setAAD(Buffer.concat([Buffer.from('sourced:local:v1\u0000k1\u0000'), ctxBytes]));
    unwrap.setAuthTag(wrapped.subarray(44));
    const dataKey = Buffer.concat([unwrap.update(wrapped.subarray(12, 44)), unwrap.final()]);
    const d = createDecipheriv('aes-256-gcm', dataKey, nonce);
    d.setAAD(Buffer.concat([header, ctxBytes]));
    d.setAuthTag(tag);
    expect(Buffer.concat([d.update(ciphertext), d.final()]).toString()).toBe(PLAIN);
  });

  it('refuses a wrong context: another data source or another field (PERMISSION_DENIED class)', async () => {
    const env = await seal(local);
    for (const other of [
      { ...context, dataSourceId: 'billing-db' },
      { ...context, field: 'ssl_config.key' },
    ]) {
      const e = await errorOf(openEnvelope(env, other, providers, ctx));
      expect(e).toBeInstanceOf(EnvelopeContextError);
      expect(e).toBeInstanceOf(NotAllowedError);
      expect(e.reason).toBe('ENVELOPE_CONTEXT_MISMATCH');
      expect(e.metadata.hint).toMatch(/EncryptSecret/);
    }
  });

  it('refuses a tampered envelope: every byte of ciphertext, nonce, tag and header flipped in turn', async () => {
    const env = await seal(local, 'Zq9xsecret');
    const bytes = bytesOf(env);
    const seen = new Set<string>();
    for (let i = 0; i < bytes.length; i++) {
      const t = Buffer.from(bytes);
      t[i] ^= 0x01;
      const e = await errorOf(openEnvelope(textOf(t), context, providers, ctx));
      // Whatever part was hit, it is a typed refusal, never a value.
      expect(e).toBeInstanceOf(SourcedError);
      expect(e.message).not.toContain('Zq9xsecret');
      seen.add(e.constructor.name);
    }
    // The payload (nonce, ciphertext, tag) fails authentication; the wrapped key fails to unwrap;
    // the digest is a context mismatch; lengths and names are malformed or name an unknown key/provider.
    expect([...seen].sort()).toEqual([
      'DataKeyInvalidError',
      'EnvelopeContextError',
      'EnvelopeFormatError',
      'EnvelopeTamperedError',
      'KeyNotFoundError',
      'KeyProviderMissingError',
    ]);
    const last = Buffer.from(bytes);
    last[last.length - 1] ^= 0x80;
    const e = await errorOf(openEnvelope(textOf(last), context, providers, ctx));
    expect(e).toBeInstanceOf(EnvelopeTamperedError);
    expect(e).toBeInstanceOf(InputError);
    expect(e.reason).toBe('ENVELOPE_TAMPERED');
    expect((e as InputError).violations[0].field).toBe(FIELD);
  });

  it('refuses a truncated envelope at every length, and trailing bytes', async () => {
    const env = await seal(local);
    const bytes = bytesOf(env);
    for (let n = 0; n < bytes.length; n++) {
      const e = await errorOf(openEnvelope(textOf(bytes.subarray(0, n)), context, providers, ctx));
      expect(e, `cut at ${n}`).toBeInstanceOf(EnvelopeFormatError);
      expect(e.reason).toBe('ENVELOPE_MALFORMED');
    }
    const e = await errorOf(openEnvelope(textOf(Buffer.concat([bytes, Buffer.from([0])])), context, providers, ctx));
    expect(e.message).toMatch(/after its tag/);
    expect(e.metadata.hint).toMatch(/exactly as EncryptSecret returned it/);
  });

  it('refuses a re-ordered envelope (two parts swapped) and spliced halves of two envelopes', async () => {
    const a = bytesOf(await seal(local));
    const b = bytesOf(await seal(local));
    const n = 3 + a[2] + 2 + a.readUInt16BE(3 + a[2]) + 2;
    const w = a.readUInt16BE(n - 2);
    // Wrapped key of one, payload of the other: the data key does not authenticate the payload.
    const spliced = Buffer.concat([a.subarray(0, n + w), b.subarray(n + w)]);
    expect(await errorOf(openEnvelope(textOf(spliced), context, providers, ctx))).toBeInstanceOf(EnvelopeTamperedError);
    // Nonce and tag swapped with each other's position (same total length): fails authentication.
    const tail = a.length - 16;
    const nonceAt = n + w + 16;
    const reordered = Buffer.from(a);
    a.subarray(tail).copy(reordered, nonceAt, 0, 12);
    a.subarray(nonceAt, nonceAt + 12).copy(reordered, tail);
    expect(await errorOf(openEnvelope(textOf(reordered), context, providers, ctx))).toBeInstanceOf(EnvelopeTamperedError);
  });

  it('refuses what is not an envelope, another version, another algorithm, bad base64url', async () => {
    const env = await seal(local);
    const cases: [string, string][] = [
      ['hunter2', 'ENVELOPE_MALFORMED'],
      ['sourced:enc:v2:AAAA', 'ENVELOPE_UNSUPPORTED'],
      [`${env} `, 'ENVELOPE_MALFORMED'],
      [env.replace(ENVELOPE_PREFIX, `${ENVELOPE_PREFIX}+`), 'ENVELOPE_MALFORMED'],
      [`${env}=`, 'ENVELOPE_MALFORMED'],
    ];
    const alg = bytesOf(env);
    alg[1] = 2;
    cases.push([textOf(alg), 'ENVELOPE_UNSUPPORTED']);
    const ver = bytesOf(env);
    ver[0] = 9;
    cases.push([textOf(ver), 'ENVELOPE_MALFORMED']);
    for (const [text, reason] of cases) {
      const e = await errorOf(openEnvelope(text, context, providers, ctx));
      expect(e, text.slice(0, 20)).toBeInstanceOf(EnvelopeFormatError);
      expect(e.reason).toBe(reason);
      expect(e.message).not.toContain('hunter2');
    }
  });

  it('refuses a foreign envelope: another keyring with the same key id, another key provider', async () => {
    const foreign = createLocalKeyProvider({ json: ring('k1', { k1: k2 }) });
    const e = await errorOf(openEnvelope(await seal(foreign), context, providers, ctx));
    expect(e).toBeInstanceOf(DataKeyInvalidError);
    expect(e.reason).toBe('ENVELOPE_DATA_KEY_INVALID');
    const kms: KeyProvider = { ...local, id: 'aws-kms' };
    const e2 = await errorOf(openEnvelope(await seal(kms), context, providers, ctx));
    expect(e2).toBeInstanceOf(KeyProviderMissingError);
    expect(e2.reason).toBe('ENCRYPTION_KEY_PROVIDER_NOT_LOADED');
    expect(e2).not.toBeInstanceOf(InputError);
    expect(e2).not.toBeInstanceOf(NotAllowedError);
  });

  it('rotation: old envelopes open, reencrypt moves them to the current key, then the old key can be retired', async () => {
    const before = createLocalKeyProvider({ json: ring('k1', { k1 }) });
    const old = await seal(before);
    const rotated = createLocalKeyProvider({ json: ring('k2', { k1, k2 }) });
    expect((await openEnvelope(old, context, providersOf(rotated), ctx)).keyId).toBe('k1');
    const moved = await reencryptEnvelope(old, context, providersOf(rotated), ctx);
    expect(moved.from).toEqual({ keyProvider: 'local', keyId: 'k1' });
    expect(moved.to).toEqual({ keyProvider: 'local', keyId: 'k2' });
    const retired = createLocalKeyProvider({ json: ring('k2', { k2 }) });
    expect((await openEnvelope(moved.envelope, context, providersOf(retired), ctx)).secret.reveal()).toBe(PLAIN);
    const e = await errorOf(openEnvelope(old, context, providersOf(retired), ctx));
    expect(e).toBeInstanceOf(KeyNotFoundError);
    expect(e.reason).toBe('ENCRYPTION_KEY_NOT_FOUND');
    expect(e.metadata).toMatchObject({ key_provider: 'local', key_id: 'k1' });
    expect(e.metadata.hint).toMatch(/ReencryptSecret/);
    // A disabled key is a distinct refusal.
    const disabled = createLocalKeyProvider({ json: ring('k2', { k1, k2 }, ['k1']) });
    const d = await errorOf(openEnvelope(old, context, providersOf(disabled), ctx));
    expect(d).toBeInstanceOf(KeyDisabledError);
    expect(d.reason).toBe('ENCRYPTION_KEY_DISABLED');
  });

  it('reads the keyring from a file and follows its changes', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sourced-keyring-')), 'keyring.json');
    writeFileSync(file, ring('k1', { k1 }));
    const p = createLocalKeyProvider({ file });
    const env = await seal(p);
    writeFileSync(file, ring('k2', { k1, k2 }) + '\n');
    expect(p.currentKeyId?.()).toBe('k2');
    expect(parseEnvelope(await seal(p), FIELD).keyId).toBe('k2');
    expect((await openEnvelope(env, context, providersOf(p), ctx)).secret.reveal()).toBe(PLAIN);
  });

  it('without a keyring, encrypting is a precondition failure with a hint', async () => {
    const none = createLocalKeyProvider({});
    const e = await errorOf(sealEnvelope(new Secret('x', 't'), context, none, ctx));
    expect(e).toBeInstanceOf(KeyProviderMissingError);
    expect(e.reason).toBe('ENCRYPTION_KEY_PROVIDER_NOT_CONFIGURED');
    expect(e.metadata.hint).toMatch(/SOURCED_ENCRYPTION_KEYRING/);
  });

  it('a provider that fails unexpectedly is UNAVAILABLE, its text not passed on', async () => {
    const down: KeyProvider = {
      id: 'local',
      generateDataKey: () => Promise.reject(new Error('ECONNREFUSED 10.0.0.1 token=abc')),
      decryptDataKey: () => Promise.reject(new Error('ECONNREFUSED')),
    };
    const e = await errorOf(sealEnvelope(new Secret('x', 't'), context, down, ctx));
    expect(e).toBeInstanceOf(KeyProviderUnavailableError);
    expect(e).toBeInstanceOf(UnavailableError);
    expect(e.message).not.toContain('token=abc');
    const env = await seal(local);
    expect(await errorOf(openEnvelope(env, context, providersOf(down), ctx))).toBeInstanceOf(KeyProviderUnavailableError);
  });

  it('refuses bad keyrings with the reason, never the key', () => {
    expect(() => parseKeyring('{', 'k')).toThrow(/not JSON/);
    expect(() => parseKeyring(ring('k9', { k1 }), 'k')).toThrow(/current must name one of the keys \(k1\)/);
    expect(() => parseKeyring(ring('k1', { k1: 'c2hvcnQ=' }), 'k')).toThrow(/32 random bytes/);
    expect(() => parseKeyring(ring('k1', { k1 }, ['k1']), 'k')).toThrow(/cannot be disabled/);
    expect(() => parseKeyring(ring('k1', { 'bad id!': k1 }), 'k')).toThrow(/key id/);
    try {
      parseKeyring(ring('k9', { k1 }), 'k');
    } catch (e) {
      expect(String(e)).not.toContain(k1);
    }
  });
});
