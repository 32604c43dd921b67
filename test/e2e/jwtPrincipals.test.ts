/**
 * Issue 15, item 9, replayed against a `sourced serve` process with a static token and a JWKS:
 * a JWT whose subject is `__proto__` or `constructor` is an ordinary unknown caller
 * (PERMISSION_DENIED, never INTERNAL); a JWT without `exp` is refused (UNAUTHENTICATED); and a
 * JWT whose subject equals a static token's principal does not get that token's roles.
 */
import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../daemon/src/security/authenticate';
import { registerSecret } from '../support/secretScan';
import { richStatusOf } from '../support/testDaemon';
import { bearer, failureOf, healthCheck, listPlugins, startConfiguredDaemon, type ConfiguredDaemon } from './support/hardenedDaemon';

const issuer = 'https://idp.test';

describe('JWT principals (a daemon process)', () => {
  let d: ConfiguredDaemon;
  let key: KeyLike;
  const adminToken = `admin-${randomBytes(12).toString('hex')}`;
  const sign = async (claims: Record<string, unknown>, expires: string | null = '5m') => {
    let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(issuer).setAudience('sourced').setIssuedAt();
    if (expires) jwt = jwt.setExpirationTime(expires);
    const token = await jwt.sign(key);
    registerSecret('a JWT', token);
    return token;
  };
  const outcome = async (token: string) => {
    const error = await failureOf(listPlugins(d.daemon.address, bearer(token)));
    const rich = richStatusOf(error);
    return { code: status[error.code], reason: rich.errorInfo?.reason };
  };

  beforeAll(async () => {
    registerSecret('the admin token', adminToken);
    const pair = await generateKeyPair('ES256');
    key = pair.privateKey;
    const config = {
      auth: {
        tokens: [{ principal: 'ops-admin', sha256: hashToken(adminToken) }],
        jwt: { jwks: 'jwks.json', issuer, audience: 'sourced' },
      },
      rbac: {
        roles: { admin: { rpcs: ['*'], connectors: ['*'], hosts: ['*'], secrets: ['*'] }, viewer: { rpcs: ['sourced.v1.PluginService/*'] } },
        bindings: { 'ops-admin': ['admin'], 'jwt:svc-catalog': ['viewer'] },
      },
    };
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    d = await startConfiguredDaemon(config, {}, { 'jwks.json': JSON.stringify({ keys: [jwk] }) });
  });
  afterAll(() => d?.stop());

  it('a JWT subject of __proto__ or constructor is an unknown caller, never INTERNAL, and the daemon keeps serving', async () => {
    for (const sub of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect({ sub, ...(await outcome(await sign({ sub }))) }).toEqual({ sub, code: 'PERMISSION_DENIED', reason: 'MISSING_GRANT' });
    }
    expect(await healthCheck(d.daemon.address)).toBe('SERVING');
    expect((await listPlugins(d.daemon.address, bearer(adminToken))).plugins.length).toBeGreaterThan(0);
  });

  it('refuses a JWT without exp', async () => {
    expect(await outcome(await sign({ sub: 'svc-catalog' }, null))).toEqual({ code: 'UNAUTHENTICATED', reason: 'INVALID_JWT' });
    // The same subject with an expiry is let in, through its jwt: binding.
    expect((await listPlugins(d.daemon.address, bearer(await sign({ sub: 'svc-catalog' })))).plugins.length).toBeGreaterThan(0);
  });

  it("a JWT whose subject is a static token's principal does not get that token's roles", async () => {
    const error = await failureOf(listPlugins(d.daemon.address, bearer(await sign({ sub: 'ops-admin' }))));
    expect(status[error.code]).toBe('PERMISSION_DENIED');
    expect(error.details).toContain('"jwt:ops-admin"');
    // The token itself still has them.
    expect((await listPlugins(d.daemon.address, bearer(adminToken))).plugins.length).toBeGreaterThan(0);
  });
});
