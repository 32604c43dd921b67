/**
 * MariaDB's `client_ed25519` authentication, which mysql2 does not ship.
 *
 * The server (auth_ed25519 plugin, `IDENTIFIED VIA ed25519`) stores the Ed25519 public key
 * of the password and sends a 32-byte nonce; the client answers with an Ed25519 signature
 * of the nonce. MariaDB's variant uses the password itself (any length) where standard
 * Ed25519 (RFC 8032) uses a 32-byte seed: the expanded secret is SHA-512(password), clamped
 * the RFC 8032 way. Everything after that expansion is RFC 8032 signing. Node's crypto and
 * `ed25519.sign` of `@noble/curves` only accept a 32-byte seed, so the expansion is done here
 * and the curve and scalar arithmetic come from `@noble/curves` (base-point multiplication,
 * point encoding, arithmetic modulo the group order). For a 32-byte password the result is
 * exactly RFC 8032's signature with the password as seed (the unit test checks that).
 */
import { createHash } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE } from '@noble/curves/utils.js';

const { Point } = ed25519;
/** Arithmetic modulo the order of the base point (L = 2^252 + 27742317777372353535851937790883648493). */
const Fn = Point.Fn;

function sha512(...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha512');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/** The secret scalar and nonce prefix MariaDB derives from a password (RFC 8032 5.1.5 with the password as the "seed"). */
function expand(password: Uint8Array): { scalar: bigint; prefix: Buffer; publicKey: Uint8Array } {
  const az = sha512(password);
  az[0] &= 248;
  az[31] &= 63;
  az[31] |= 64;
  // The base point has order L, so reducing the clamped scalar modulo L gives the same point and signature.
  const scalar = Fn.create(bytesToNumberLE(az.subarray(0, 32)));
  return { scalar, prefix: az.subarray(32, 64), publicKey: Point.BASE.multiply(scalar).toBytes() };
}

/** The public key MariaDB stores for a password (`mysql.user.authentication_string`, base64 without padding). */
export function ed25519PublicKey(password: string): Buffer {
  return Buffer.from(expand(Buffer.from(password, 'utf8')).publicKey);
}

/** Signs `message` the way MariaDB's client_ed25519 does: a 64-byte Ed25519 signature keyed by the password. */
export function ed25519Sign(password: string, message: Uint8Array): Buffer {
  const { scalar, prefix, publicKey } = expand(Buffer.from(password, 'utf8'));
  const r = Fn.create(bytesToNumberLE(sha512(prefix, message)));
  const R = Point.BASE.multiply(r).toBytes();
  const k = Fn.create(bytesToNumberLE(sha512(R, publicKey, message)));
  const s = Fn.add(r, Fn.mul(k, scalar));
  return Buffer.concat([R, Fn.toBytes(s)]);
}
