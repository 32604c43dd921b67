/**
 * Caller authentication through real grpc-js clients: static bearer tokens kept hashed, JWTs
 * verified against a JWKS with issuer and audience, and the client certificate of a
 * mutual-TLS connection. Keys, tokens and certificates are made here.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, credentials, Metadata, status, type ChannelCredentials } from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../daemon/src';
import { ListPluginsRequest, PluginServiceClient, type ListPluginsResponse } from '@sourced/api';
import { hashToken } from '../daemon/src/security/authenticate';
import { makeCertificates, type Certificates } from './harness/certs';
import { registerSecret } from './support/secretScan';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

/** ListPlugins with these headers over this channel. */
function listPlugins(
  address: string,
  headers: Record<string, string> = {},
  channel: ChannelCredentials = credentials.createInsecure(),
  serverName?: string,
): Promise<ListPluginsResponse> {
  const options = serverName ? { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName } : {};
  const client = new PluginServiceClient(address, channel, options);
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  return new Promise((resolve, reject) =>
    client.listPlugins(ListPluginsRequest.fromPartial({}), metadata, { deadline: Date.now() + 5000 }, (error, response) => {
      client.close();
      if (error) reject(error);
      else resolve(response);
    }),
  );
}

/** The principal the daemon recorded on the SERVER span of the last ListPlugins call. */
function lastPrincipal(t: TestDaemon): unknown {
  const spans = t.spans.getFinishedSpans().filter((s) => s.name === 'sourced.v1.PluginService/ListPlugins');
  return spans.at(-1)?.attributes['enduser.id'];
}

async function reasonOf(call: Promise<unknown>): Promise<{ code: number; reason?: string; message: string }> {
  const error = await expectFailure(call);
  const rich = richStatusOf(error);
  return { code: rich.grpcCode, reason: rich.errorInfo?.reason, message: rich.message };
}

describe('authentication with static bearer tokens', () => {
  const token = `tok-${randomBytes(16).toString('hex')}`;
  let t: TestDaemon;
  beforeAll(async () => {
    registerSecret('the bearer token', token);
    t = await startTestDaemon({
      plugins: ['@sourced/plugin-postgres'],
      auth: { tokens: [{ principal: 'platform-ci', sha256: hashToken(token) }] },
      rbac: { roles: { all: { rpcs: ['*'], connectors: ['*'], hosts: ['*'], secrets: ['*'] } }, bindings: { '*': ['all'] } },
    });
  });
  afterAll(() => t?.stop());

  it('lets a known token in, under its principal', async () => {
    const r = await listPlugins(t.address, { authorization: `Bearer ${token}` });
    expect(r.plugins.map((p) => p.id)).toContain('postgres');
    expect(lastPrincipal(t)).toBe('platform-ci');
  });

  it('refuses a call without credentials, an unknown token and a malformed header, saying why', async () => {
    expect(await reasonOf(listPlugins(t.address))).toMatchObject({ code: status.UNAUTHENTICATED, reason: 'NO_CREDENTIALS' });
    expect(await reasonOf(listPlugins(t.address, { authorization: `Bearer ${token}x` }))).toMatchObject({
      code: status.UNAUTHENTICATED,
      reason: 'UNKNOWN_TOKEN',
    });
    expect(await reasonOf(listPlugins(t.address, { authorization: token }))).toMatchObject({ code: status.UNAUTHENTICATED, reason: 'MALFORMED_AUTHORIZATION' });
  });

  it('leaves health checks open', async () => {
    // grpc.health.v1.Health/Check with an empty request; the answer { status: SERVING } is 08 01.
    const client = new Client(t.address, credentials.createInsecure());
    const bytes = await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        (error, r) => {
          client.close();
          if (error || !r) reject(error);
          else resolve(r);
        },
      ),
    );
    expect([...bytes]).toEqual([0x08, 0x01]);
  });
});

describe('authentication with JWTs', () => {
  let dir: string;
  let t: TestDaemon;
  let key: KeyLike;
  let stranger: KeyLike;
  const issuer = 'https://idp.test';
  const sign = (claims: Record<string, unknown>, opts: { key?: KeyLike; audience?: string; issuer?: string; expires?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(opts.issuer ?? issuer)
      .setAudience(opts.audience ?? 'sourced')
      .setIssuedAt()
      .setExpirationTime(opts.expires ?? '5m')
      .sign(opts.key ?? key);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sourced-jwt-'));
    ({ privateKey: key } = await generateKeyPair('ES256'));
    const pair = await generateKeyPair('ES256');
    ({ privateKey: stranger } = await generateKeyPair('ES256'));
    key = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    t = await startTestDaemon({
      plugins: ['@sourced/plugin-postgres'],
      auth: { tokens: [], jwt: { jwks: join(dir, 'jwks.json'), issuer, audience: 'sourced', principalClaim: 'sub' } },
      rbac: { roles: { all: { rpcs: ['*'], connectors: ['*'], hosts: ['*'], secrets: ['*'] } }, bindings: { '*': ['all'] } },
    });
  });
  afterAll(async () => {
    await t?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('lets a valid JWT in, named by its subject in the jwt: namespace', async () => {
    const jwt = await sign({ sub: 'svc-catalog' });
    registerSecret('a JWT', jwt);
    await listPlugins(t.address, { authorization: `Bearer ${jwt}` });
    expect(lastPrincipal(t)).toBe('jwt:svc-catalog');
  });

  it("refuses an expired JWT, the wrong audience or issuer, and a stranger's signature, saying which", async () => {
    const cases: [string, Promise<string>][] = [
      ['it has expired', sign({ sub: 'a' }, { expires: '-10m' })],
      ['"aud" claim', sign({ sub: 'a' }, { audience: 'someone-else' })],
      ['"iss" claim', sign({ sub: 'a' }, { issuer: 'https://evil.test' })],
      ['signature does not verify', sign({ sub: 'a' }, { key: stranger })],
      ['no "sub" claim', sign({})],
    ];
    for (const [why, pending] of cases) {
      const jwt = await pending;
      registerSecret('a refused JWT', jwt);
      const r = await reasonOf(listPlugins(t.address, { authorization: `Bearer ${jwt}` }));
      expect(r).toMatchObject({ code: status.UNAUTHENTICATED, reason: 'INVALID_JWT' });
      expect(r.message).toContain(why);
    }
  });

  it('does not start with a JWKS it cannot read, and names the setting', async () => {
    await expect(
      startTestDaemon({ auth: { tokens: [], jwt: { jwks: join(dir, 'missing.json'), issuer, audience: 'sourced', principalClaim: 'sub' } } }),
    ).rejects.toThrow(/auth\.jwt\.jwks: cannot read a JWKS from .*missing\.json/);
  });
});

describe('authentication by client certificate', () => {
  let dir: string;
  let pki: Certificates;
  let t: TestDaemon;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sourced-mtls-auth-'));
    pki = await makeCertificates(join(dir, 'pki'));
    t = await startTestDaemon({
      plugins: ['@sourced/plugin-postgres'],
      server: { ...DEFAULT_CONFIG.server, allowPlaintext: false, tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.caCert } },
      auth: { tokens: [], mtls: { principalFrom: 'subject' } },
      rbac: { roles: { all: { rpcs: ['*'], connectors: ['*'], hosts: ['*'], secrets: ['*'] } }, bindings: { '*': ['all'] } },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('names the caller by the subject of its certificate', async () => {
    const channel = credentials.createSsl(readFileSync(pki.caCert), readFileSync(pki.clientKey), readFileSync(pki.clientCert));
    await listPlugins(t.address, {}, channel, 'localhost');
    expect(lastPrincipal(t)).toBe('sourced_test');
  });
});
