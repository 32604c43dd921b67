/**
 * The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as MongoDB runs it in
 * saslStart/saslContinue. The server keeps only what a real server keeps in
 * admin.system.users: salt, iteration count, StoredKey and ServerKey, never the password.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { saslprep } from '@mongodb-js/saslprep';

/** What the server stores for a user (the `SCRAM-SHA-256` credentials of system.users). */
export interface ScramCredentials {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** MongoDB's default iteration count for SCRAM-SHA-256 (scramSHA256IterationCount). */
export const DEFAULT_ITERATIONS = 15_000;

const hmac = (key: Buffer, text: string | Buffer) => createHmac('sha256', key).update(text).digest();
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();

/** Derives the stored credentials from a password, as createUser does. */
export function makeScramCredentials(password: string, iterations = DEFAULT_ITERATIONS, salt: Buffer = randomBytes(28)): ScramCredentials {
  const salted = pbkdf2Sync(saslprep(password), salt, iterations, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return { salt, iterations, storedKey: sha256(clientKey), serverKey: hmac(salted, 'Server Key') };
}

/** A failed exchange; the server answers every one the same way (no user enumeration). */
export class AuthenticationFailed extends Error {
  constructor(readonly why: string) {
    super('Authentication failed.');
  }
}

/** Parses `a=1,b=2` SCRAM attributes (values may contain `=`). */
function attributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

/** One SCRAM conversation: client-first → server-first, client-final → server-final. */
export class ScramConversation {
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private credentials?: ScramCredentials;
  /** The SASL user name from the client-first message, unescaped. */
  user = '';
  done = false;

  constructor(private readonly lookup: (user: string) => ScramCredentials | undefined) {}

  /** Handles the client-first message; returns the server-first message. */
  start(payload: Buffer): Buffer {
    const text = payload.toString('utf8');
    // gs2 header: "n,," (no channel binding) or "y,,"; an authzid is not supported.
    const match = /^([ny]),([^,]*),(.*)$/.exec(text);
    if (!match || match[2] !== '') throw new AuthenticationFailed(`malformed client-first message`);
    this.clientFirstBare = match[3];
    const attrs = attributes(this.clientFirstBare);
    const name = attrs.get('n');
    const clientNonce = attrs.get('r');
    if (name === undefined || !clientNonce) throw new AuthenticationFailed('client-first message without user or nonce');
    this.user = name.replace(/=2C/g, ',').replace(/=3D/g, '=');
    this.credentials = this.lookup(this.user);
    if (!this.credentials) throw new AuthenticationFailed(`no such user ${this.user}`);
    this.nonce = clientNonce + randomBytes(24).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${this.credentials.salt.toString('base64')},i=${this.credentials.iterations}`;
    return Buffer.from(this.serverFirst, 'utf8');
  }

  /** Handles the client-final message; verifies the proof and returns the server-final message. */
  finish(payload: Buffer): Buffer {
    if (!this.credentials) throw new AuthenticationFailed('saslContinue before saslStart');
    const text = payload.toString('utf8');
    const proofAt = text.lastIndexOf(',p=');
    if (proofAt < 0) throw new AuthenticationFailed('client-final message without proof');
    const withoutProof = text.slice(0, proofAt);
    const attrs = attributes(withoutProof);
    if (attrs.get('c') !== 'biws') throw new AuthenticationFailed('unexpected channel binding');
    if (attrs.get('r') !== this.nonce) throw new AuthenticationFailed('nonce mismatch');
    const proof = Buffer.from(text.slice(proofAt + 3), 'base64');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientSignature = hmac(this.credentials.storedKey, authMessage);
    if (proof.length !== clientSignature.length) throw new AuthenticationFailed('proof of the wrong length');
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i] ^ clientSignature[i];
    if (!timingSafeEqual(sha256(clientKey), this.credentials.storedKey)) throw new AuthenticationFailed('wrong password');
    this.done = true;
    return Buffer.from(`v=${hmac(this.credentials.serverKey, authMessage).toString('base64')}`, 'utf8');
  }
}
