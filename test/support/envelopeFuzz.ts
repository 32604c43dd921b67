import { randomBytes } from 'node:crypto';
import { createHash } from 'node:crypto';
import { ENVELOPE_PREFIX } from '@sourced/core';

/**
 * Mutations of an envelope's bytes for fuzz passes (issue 20): random byte changes, cuts,
 * trailing bytes and spliced runs, from a fixed seed so a failure names a reproducible case.
 * Yields each mutated envelope (never the original) with its index.
 */
export function* mutatedEnvelopes(envelope: string, count: number, seed = 20261207): Generator<{ index: number; envelope: string }> {
  const bytes = Buffer.from(envelope.slice(ENVELOPE_PREFIX.length), 'base64url');
  let state = seed;
  const rand = (n: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  for (let i = 0; i < count; i++) {
    const b = Buffer.from(bytes);
    const kind = rand(4);
    let mutated: Buffer;
    if (kind === 0) {
      for (let j = 0; j <= rand(4); j++) b[rand(b.length)] = rand(256);
      mutated = b;
    } else if (kind === 1) mutated = b.subarray(0, rand(b.length));
    else if (kind === 2) mutated = Buffer.concat([b, randomBytes(1 + rand(64))]);
    else {
      const at = rand(b.length);
      mutated = Buffer.concat([b.subarray(0, at), randomBytes(rand(8)), b.subarray(at + rand(8))]);
    }
    if (!mutated.equals(bytes)) yield { index: i, envelope: ENVELOPE_PREFIX + mutated.toString('base64url') };
  }
}

/** An envelope's fields (format v1, docs/encryption.md), to rebuild one with a field changed. */
export interface EnvelopeFields {
  version: number;
  algorithm: number;
  keyProvider: string;
  keyId: string;
  wrappedKey: Buffer;
  contextDigest: Buffer;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

/** Reads an envelope's fields (no checks: the test made it). */
export function envelopeFields(envelope: string): EnvelopeFields {
  const b = Buffer.from(envelope.slice(ENVELOPE_PREFIX.length), 'base64url');
  let at = 0;
  const take = (n: number) => b.subarray(at, (at += n));
  const version = take(1)[0] ?? 0;
  const algorithm = take(1)[0] ?? 0;
  const keyProvider = take(take(1)[0] ?? 0).toString('utf8');
  const keyId = take(take(2).readUInt16BE()).toString('utf8');
  const wrappedKey = Buffer.from(take(take(2).readUInt16BE()));
  const contextDigest = Buffer.from(take(16));
  const nonce = Buffer.from(take(12));
  const ciphertext = Buffer.from(take(take(4).readUInt32BE()));
  const tag = Buffer.from(take(16));
  return { version, algorithm, keyProvider, keyId, wrappedKey, contextDigest, nonce, ciphertext, tag };
}

/** Writes fields back into an envelope (the tag is kept as given: a changed header no longer authenticates). */
export function buildEnvelope(f: EnvelopeFields): string {
  const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
  const u32 = Buffer.alloc(4);
  u32.writeUInt32BE(f.ciphertext.length);
  const provider = Buffer.from(f.keyProvider, 'utf8');
  const keyId = Buffer.from(f.keyId, 'utf8');
  const bytes = Buffer.concat([
    Buffer.from([f.version, f.algorithm, provider.length]),
    provider,
    u16(keyId.length),
    keyId,
    u16(f.wrappedKey.length),
    f.wrappedKey,
    f.contextDigest,
    f.nonce,
    u32,
    f.ciphertext,
    f.tag,
  ]);
  return ENVELOPE_PREFIX + bytes.toString('base64url');
}

/** The context digest of the format: SHA-256 of the context JSON, first 16 bytes. */
export function contextDigest(context: { dataSourceId: string; field: string }): Buffer {
  const json = JSON.stringify({ data_source_id: context.dataSourceId, field: context.field });
  return createHash('sha256').update(json).digest().subarray(0, 16);
}
