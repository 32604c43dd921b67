/**
 * MariaDB's `client_ed25519` authentication, which mysql2 does not ship.
 *
 * The server (auth_ed25519 plugin, `IDENTIFIED VIA ed25519`) stores the Ed25519 public key
 * of the password and sends a 32-byte nonce; the client answers with an Ed25519 signature
 * of the nonce. MariaDB's variant uses the password itself (any length) where standard
 * Ed25519 uses a 32-byte seed: the expanded secret is SHA-512(password). Node's crypto only
 * signs from a 32-byte seed, so the curve arithmetic is done here with BigInt (a signature
 * takes a few milliseconds; it runs once per login).
 */
import { createHash } from 'node:crypto';

const P = 2n ** 255n - 19n;
/** Order of the base point. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const D = mod(-121665n * invert(121666n));
const D2 = mod(2n * D);

/** A point in extended coordinates (x = X/Z, y = Y/Z, xy = T/Z). */
interface Point {
  X: bigint;
  Y: bigint;
  Z: bigint;
  T: bigint;
}

const BASE_X = 15112221349535400772501151409588531511454012693041857206046113283949847762202n;
const BASE_Y = 46316835694926478169428394003475163141307993866256225615783033603165251855960n;
const BASE: Point = { X: BASE_X, Y: BASE_Y, Z: 1n, T: mod(BASE_X * BASE_Y) };
const IDENTITY: Point = { X: 0n, Y: 1n, Z: 1n, T: 0n };

function mod(a: bigint, m: bigint = P): bigint {
  const r = a % m;
  return r >= 0n ? r : r + m;
}

function pow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = mod(result * b);
    b = mod(b * b);
  }
  return result;
}

function invert(a: bigint): bigint {
  return pow(a, P - 2n);
}

/** Unified addition on the twisted Edwards curve with a = -1 (add-2008-hwcd-3); also doubles. */
function add(p: Point, q: Point): Point {
  const a = mod((p.Y - p.X) * (q.Y - q.X));
  const b = mod((p.Y + p.X) * (q.Y + q.X));
  const c = mod(p.T * D2 * q.T);
  const d = mod(2n * p.Z * q.Z);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return { X: mod(e * f), Y: mod(g * h), Z: mod(f * g), T: mod(e * h) };
}

function multiplyBase(scalar: bigint): Point {
  let result = IDENTITY;
  let addend = BASE;
  for (let k = scalar; k > 0n; k >>= 1n) {
    if (k & 1n) result = add(result, addend);
    addend = add(addend, addend);
  }
  return result;
}

/** RFC 8032 encoding: y little-endian, the sign of x in the top bit. */
function encode(point: Point): Buffer {
  const zInv = invert(point.Z);
  const x = mod(point.X * zInv);
  const y = mod(point.Y * zInv);
  const out = toLittleEndian(y, 32);
  if (x & 1n) out[31] |= 0x80;
  return out;
}

function toLittleEndian(value: bigint, length: number): Buffer {
  const out = Buffer.alloc(length);
  let v = value;
  for (let i = 0; i < length; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function fromLittleEndian(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

function sha512(...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha512');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/** The secret scalar and nonce prefix MariaDB derives from a password. */
function expand(password: Uint8Array): { scalar: bigint; prefix: Buffer; publicKey: Buffer } {
  const az = sha512(password);
  az[0] &= 248;
  az[31] &= 63;
  az[31] |= 64;
  const scalar = fromLittleEndian(az.subarray(0, 32));
  return { scalar, prefix: az.subarray(32, 64), publicKey: encode(multiplyBase(scalar)) };
}

/** The public key MariaDB stores for a password (`mysql.user.authentication_string`, base64 without padding). */
export function ed25519PublicKey(password: string): Buffer {
  return expand(Buffer.from(password, 'utf8')).publicKey;
}

/** Signs `message` the way MariaDB's client_ed25519 does: a 64-byte Ed25519 signature keyed by the password. */
export function ed25519Sign(password: string, message: Uint8Array): Buffer {
  const { scalar, prefix, publicKey } = expand(Buffer.from(password, 'utf8'));
  const r = mod(fromLittleEndian(sha512(prefix, message)), L);
  const R = encode(multiplyBase(r));
  const k = mod(fromLittleEndian(sha512(R, publicKey, message)), L);
  const s = mod(r + k * scalar, L);
  return Buffer.concat([R, toLittleEndian(s, 32)]);
}
