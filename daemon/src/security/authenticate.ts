import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import type { Metadata } from '@grpc/grpc-js';
import { UnauthenticatedError } from '@sourced/core';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ConfigError, type DaemonConfig } from '../config/DaemonConfig';

/** Who is calling, as authentication established it. */
export interface Principal {
  /** The name roles are granted to: a token's principal, a certificate's subject CN or SAN, a JWT claim. */
  id: string;
  /** How it was established; `none` when authentication is off. */
  method: 'mtls' | 'token' | 'jwt' | 'none';
}

/**
 * The name a principal goes by in bindings, logs, the audit log and the call limits: a JWT
 * subject is `jwt:<sub>`, so an identity provider cannot issue a subject that names a static
 * token's or a certificate's principal (`ops-admin` and `jwt:ops-admin` are two callers).
 * Static tokens and client certificates keep their names (the operator chose them).
 */
export function principalName(principal: Principal): string {
  return principal.method === 'jwt' ? `jwt:${principal.id}` : principal.id;
}

/** The prefixes that name how a principal authenticated, in bindings (`jwt:alice`, `token:ci`, `mtls:worker-1`). */
export const PRINCIPAL_PREFIXES = ['jwt:', 'token:', 'mtls:'] as const;

/** What of a call authentication looks at. */
export interface CallCredentials {
  metadata: Metadata;
  getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: PeerCertificate } | null;
}

type AuthConfig = DaemonConfig['auth'];

const ANONYMOUS: Principal = { id: 'anonymous', method: 'none' };
/** A JWT: three base64url parts. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** SHA-256 of a bearer token, hex: what the configuration keeps instead of the token. */
export function hashToken(token: string): string {
  return tokenDigest(token).toString('hex');
}

function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Establishes the principal of each call from, in this order: an `authorization: Bearer`
 * header (a JWT verified against the JWKS with issuer and audience, or a static token
 * compared by its SHA-256 in constant time), else the client certificate of a mutual-TLS
 * connection (already verified by the TLS layer against `server.tls.clientCa`). With no
 * method configured, authentication is off and every call is `anonymous`. Failures are
 * UNAUTHENTICATED with the reason, never with the credential.
 */
export class Authenticator {
  private readonly tokens: { principal: string; hash: Buffer }[];
  private readonly jwks?: JWTVerifyGetKey;

  constructor(private readonly config: AuthConfig) {
    this.tokens = config.tokens.map((t) => ({ principal: t.principal, hash: Buffer.from(t.sha256, 'hex') }));
    const jwt = config.jwt;
    if (jwt) {
      if (/^https?:\/\//i.test(jwt.jwks)) {
        this.jwks = createRemoteJWKSet(new URL(jwt.jwks), { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
      } else {
        let keys: unknown;
        try {
          keys = JSON.parse(readFileSync(jwt.jwks, 'utf8'));
        } catch (error) {
          throw new ConfigError(`auth.jwt.jwks: cannot read a JWKS from ${jwt.jwks} (${(error as Error).message})`);
        }
        try {
          this.jwks = createLocalJWKSet(keys as Parameters<typeof createLocalJWKSet>[0]);
        } catch (error) {
          throw new ConfigError(`auth.jwt.jwks: ${jwt.jwks} is not a JWKS (${(error as Error).message})`);
        }
      }
    }
  }

  /** Whether any method is configured (then every call must authenticate). */
  get enabled(): boolean {
    return this.tokens.length > 0 || this.config.mtls !== undefined || this.jwks !== undefined;
  }

  /** The methods configured, for the start-up log. */
  methods(): string[] {
    return [...(this.tokens.length ? ['token'] : []), ...(this.config.mtls ? ['mtls'] : []), ...(this.jwks ? ['jwt'] : [])];
  }

  async authenticate(call: CallCredentials): Promise<Principal> {
    if (!this.enabled) return ANONYMOUS;
    // The header's first value, absent when the call sent none.
    const header = call.metadata.get('authorization')[0] as string | Buffer | undefined;
    if (header !== undefined) return this.bearer(String(header));
    const certificate = call.getAuthContext()?.sslPeerCertificate;
    if (this.config.mtls && certificate && Object.keys(certificate).length > 0) return this.fromCertificate(certificate);
    const ways = [...(this.tokens.length || this.jwks ? ['an "authorization: Bearer ..." header'] : []), ...(this.config.mtls ? ['a client certificate'] : [])];
    throw new UnauthenticatedError('NO_CREDENTIALS', `the call carries no credentials; send ${ways.join(' or ')}`);
  }

  private async bearer(header: string): Promise<Principal> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new UnauthenticatedError('MALFORMED_AUTHORIZATION', 'the authorization header is not "Bearer <token>"');
    const token = m[1];
    if (this.jwks && JWT_SHAPE.test(token)) return this.jwt(token);
    if (this.tokens.length > 0) {
      const hash = tokenDigest(token);
      // Compare with every configured hash, so the time taken does not say which one matched.
      let found: string | undefined;
      for (const t of this.tokens) if (t.hash.length === hash.length && timingSafeEqual(t.hash, hash)) found ??= t.principal;
      if (found !== undefined) return { id: found, method: 'token' };
      throw new UnauthenticatedError('UNKNOWN_TOKEN', 'the bearer token is not one the daemon knows');
    }
    throw new UnauthenticatedError('MALFORMED_TOKEN', 'the bearer token is not a JWT, and the daemon accepts only JWTs');
  }

  private async jwt(token: string): Promise<Principal> {
    const { jwks } = this;
    const jwt = this.config.jwt;
    // Only called with a JWKS, which exists only with auth.jwt.
    if (!jwt || !jwks) throw new Error('internal error: a JWT to verify, but no auth.jwt settings');
    let payload: Record<string, unknown>;
    try {
      // A token without `exp` would be good forever once leaked: required unless configured otherwise.
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: jwt.issuer,
        audience: jwt.audience,
        clockTolerance: 30,
        requiredClaims: jwt.requireExpiry === false ? [] : ['exp'],
      }));
    } catch (error) {
      throw new UnauthenticatedError('INVALID_JWT', `the JWT was refused: ${jwtProblem(error)}`);
    }
    const id = payload[jwt.principalClaim];
    if (typeof id !== 'string' || id === '') throw new UnauthenticatedError('INVALID_JWT', `the JWT has no "${jwt.principalClaim}" claim to name the caller`);
    return { id, method: 'jwt' };
  }

  private fromCertificate(cert: PeerCertificate): Principal {
    if (this.config.mtls?.principalFrom === 'san') {
      // URI SANs first (SPIFFE IDs), then DNS names, then e-mail addresses.
      const sans = (cert.subjectaltname ?? '').split(/,\s*/).filter(Boolean);
      const pick = (prefix: string) => sans.find((s) => s.startsWith(prefix))?.slice(prefix.length);
      const id = pick('URI:') ?? pick('DNS:') ?? pick('email:');
      if (!id) throw new UnauthenticatedError('NO_CERTIFICATE_NAME', 'the client certificate has no subject alternative name to name the caller');
      return { id, method: 'mtls' };
    }
    // From the peer's certificate: a certificate without a subject has none.
    const subject = cert.subject as PeerCertificate['subject'] | undefined;
    const cn = subject?.CN;
    const id = Array.isArray(cn) ? cn[0] : cn;
    if (!id) throw new UnauthenticatedError('NO_CERTIFICATE_NAME', 'the client certificate has no subject CN to name the caller');
    return { id, method: 'mtls' };
  }
}

/** Why jose refused a token, in a sentence that names no part of the token. */
function jwtProblem(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'it has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed && error.reason === 'missing') return `it has no "${error.claim}" claim, which the daemon requires`;
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `its "${error.claim}" claim is not accepted (${error.reason})`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'its signature does not verify';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the JWKS matches it';
  if (error instanceof joseErrors.JOSEAlgNotAllowed || error instanceof joseErrors.JOSENotSupported) return 'its algorithm is not accepted';
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) return `the JWKS could not be used (${(error as Error).message})`;
  if (error instanceof joseErrors.JWTInvalid || error instanceof joseErrors.JWSInvalid) return 'it is not a well-formed JWT';
  return error instanceof Error ? error.message : String(error);
}
