import { createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import { ed25519PublicKey } from '@sourced/plugin-mysql';
import { describe, expect, it } from 'vitest';
import { ed25519Sign } from '../plugins/mysql/src/ed25519';

/** Node's own RFC 8032 Ed25519 key for a 32-byte seed (PKCS#8 wrapping of the raw seed). */
function nodeKey(seed: Buffer) {
  return createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
}

/** A raw 32-byte Ed25519 public key as a Node key object (SPKI wrapping). */
function nodePublicKey(raw: Buffer) {
  return createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' });
}

describe("MariaDB's client_ed25519 (password-keyed Ed25519 on @noble/curves)", () => {
  /** A 32-byte password is an RFC 8032 seed: the signature and key are exactly Node's (OpenSSL's). */
  it('equals RFC 8032 Ed25519 when the password is 32 bytes', () => {
    for (let i = 0; i < 5; i++) {
      const password = randomBytes(16).toString('hex'); // 32 ASCII bytes
      const nonce = randomBytes(32);
      const key = nodeKey(Buffer.from(password, 'utf8'));
      const raw = createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(-32);
      expect(ed25519PublicKey(password).toString('hex')).toBe(raw.toString('hex'));
      expect(ed25519Sign(password, nonce).toString('hex')).toBe(sign(null, nonce, key).toString('hex'));
    }
  });

  /** Any other length (MariaDB hashes the whole password): Node's verifier accepts the signature under the derived key, and rejects it for another nonce. */
  it('signs verifiably for passwords of any length', () => {
    for (const password of ['', 'a', 'pässwörd-日本', 'x'.repeat(200)]) {
      const nonce = randomBytes(32);
      const signature = ed25519Sign(password, nonce);
      expect(signature).toHaveLength(64);
      const publicKey = nodePublicKey(ed25519PublicKey(password));
      expect(verify(null, nonce, publicKey, signature)).toBe(true);
      expect(verify(null, randomBytes(32), publicKey, signature)).toBe(false);
    }
  });
});
