/**
 * The daemon's own transport: TLS and mutual TLS from files, reloaded without a restart, and
 * plaintext refused off loopback. Real grpc-js clients, certificates made in the test.
 */
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, startDaemon, type DaemonConfig, type RunningDaemon } from '../daemon/src';
import { ListPluginsRequest, PluginServiceClient, type ListPluginsResponse } from '@sourced/api';
import { makeCertificates, type Certificates } from './harness/certs';

function config(over: Partial<DaemonConfig>): DaemonConfig {
  return { ...structuredClone(DEFAULT_CONFIG), listen: '127.0.0.1:0', logLevel: 'warn', plugins: ['@sourced/plugin-postgres'], ...over };
}

async function start(over: Partial<DaemonConfig>): Promise<{ daemon: RunningDaemon; logs: string[] }> {
  const logs: string[] = [];
  const daemon = await startDaemon({ config: config(over), logSink: (l) => logs.push(l), env: { OTEL_TRACES_EXPORTER: 'none' } });
  return { daemon, logs };
}

/** One ListPlugins call over a fresh channel (a new TLS handshake each time). */
function listPlugins(daemon: RunningDaemon, channel: ChannelCredentials, serverName = 'localhost'): Promise<ListPluginsResponse> {
  // The certificate names localhost; the daemon listens on 127.0.0.1.
  const client = new PluginServiceClient(`127.0.0.1:${daemon.port}`, channel, {
    'grpc.ssl_target_name_override': serverName,
    'grpc.default_authority': serverName,
  });
  return new Promise<ListPluginsResponse>((resolve, reject) =>
    client.listPlugins(ListPluginsRequest.fromPartial({}), new Metadata(), { deadline: Date.now() + 5000 }, (error, response) => {
      client.close();
      if (error) reject(error);
      else resolve(response);
    }),
  );
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => status.OK,
    (e: ServiceError) => e.code,
  );

describe('server TLS', () => {
  let dir: string;
  let pki: Certificates;
  let other: Certificates;
  const pem = (path: string) => readFileSync(path);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sourced-server-tls-'));
    pki = await makeCertificates(join(dir, 'pki'));
    other = await makeCertificates(join(dir, 'other'));
  }, 60_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves TLS: a client that trusts the CA gets in, a plaintext client does not', async () => {
    const { daemon, logs } = await start({
      logLevel: 'info',
      server: { ...DEFAULT_CONFIG.server, allowPlaintext: false, tls: { cert: pki.serverCert, key: pki.serverKey } },
    });
    try {
      const response = await listPlugins(daemon, credentials.createSsl(pem(pki.caCert)));
      expect(response.plugins.map((p) => p.id)).toContain('postgres');
      expect(await codeOf(listPlugins(daemon, credentials.createInsecure()))).toBe(status.UNAVAILABLE);
      // a client that trusts another CA does not accept the daemon's certificate
      expect(await codeOf(listPlugins(daemon, credentials.createSsl(pem(other.caCert))))).toBe(status.UNAVAILABLE);
      expect(logs.join('\n')).toMatch(/"transport":"tls".*"subject":"CN=localhost"/);
    } finally {
      await daemon.stop();
    }
  });

  it('serves mutual TLS: only clients with a certificate from the client CA get in', async () => {
    const { daemon } = await start({
      server: { ...DEFAULT_CONFIG.server, allowPlaintext: false, tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.caCert } },
    });
    try {
      const ca = pem(pki.caCert);
      const ok = await listPlugins(daemon, credentials.createSsl(ca, pem(pki.clientKey), pem(pki.clientCert)));
      expect(ok.plugins.length).toBeGreaterThan(0);
      // no client certificate
      expect(await codeOf(listPlugins(daemon, credentials.createSsl(ca)))).toBe(status.UNAVAILABLE);
      // a certificate from a CA the daemon does not trust
      expect(await codeOf(listPlugins(daemon, credentials.createSsl(ca, pem(other.clientKey), pem(other.clientCert))))).toBe(status.UNAVAILABLE);
    } finally {
      await daemon.stop();
    }
  });

  it('reloads its certificate and client CA without a restart, and keeps the old ones when the new files are bad', async () => {
    const live = join(dir, 'live');
    await mkdir(live, { recursive: true });
    const cert = join(live, 'server.crt');
    const key = join(live, 'server.key');
    const clientCa = join(live, 'client-ca.crt');
    await copyFile(pki.serverCert, cert);
    await copyFile(pki.serverKey, key);
    await copyFile(pki.caCert, clientCa);
    const { daemon } = await start({ server: { ...DEFAULT_CONFIG.server, allowPlaintext: false, tls: { cert, key, clientCa } } });
    try {
      const before = credentials.createSsl(pem(pki.caCert), pem(pki.clientKey), pem(pki.clientCert));
      const after = credentials.createSsl(pem(other.caCert), pem(other.clientKey), pem(other.clientCert));
      expect(await codeOf(listPlugins(daemon, before))).toBe(status.OK);
      expect(await codeOf(listPlugins(daemon, after))).toBe(status.UNAVAILABLE);

      // a half-done rotation (a new certificate with the old key) is refused, and nothing changes
      await copyFile(other.serverCert, cert);
      expect(() => daemon.reloadTls()).toThrow(/server\.tls\.key: .* is not the key of/);
      expect(await codeOf(listPlugins(daemon, before))).toBe(status.OK);

      // the whole rotation: the new server certificate, key and client CA
      await copyFile(other.serverKey, key);
      await copyFile(other.caCert, clientCa);
      daemon.reloadTls();
      expect(await codeOf(listPlugins(daemon, after))).toBe(status.OK);
      expect(await codeOf(listPlugins(daemon, before))).toBe(status.UNAVAILABLE);
    } finally {
      await daemon.stop();
    }
  });

  it('refuses plaintext off loopback unless the configuration says so', async () => {
    await expect(start({ listen: '0.0.0.0:0' })).rejects.toThrow(/refusing to serve plaintext on 0\.0\.0\.0:0.*server\.allowPlaintext/);
    const { daemon } = await start({ listen: '0.0.0.0:0', server: { ...DEFAULT_CONFIG.server, allowPlaintext: true } });
    await daemon.stop();
    // loopback is fine without TLS
    const local = await start({ listen: '[::1]:0' }).catch((e: Error) => e);
    if (!(local instanceof Error)) await local.daemon.stop();
    else expect(local.message).not.toMatch(/refusing/); // a machine without IPv6 cannot bind ::1
  });

  it('names the setting when a TLS file is missing or is not what it should be', async () => {
    await expect(
      start({ server: { ...DEFAULT_CONFIG.server, allowPlaintext: false, tls: { cert: join(dir, 'nope.crt'), key: pki.serverKey } } }),
    ).rejects.toThrow(/server\.tls\.cert: cannot read .*nope\.crt \(ENOENT\)/);
    await expect(start({ server: { ...DEFAULT_CONFIG.server, allowPlaintext: false, tls: { cert: pki.serverKey, key: pki.serverKey } } })).rejects.toThrow(
      /server\.tls\.cert: .* is not a PEM certificate/,
    );
    await expect(
      start({ server: { ...DEFAULT_CONFIG.server, allowPlaintext: false, tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.clientKey } } }),
    ).rejects.toThrow(/server\.tls\.clientCa: .* is not a PEM certificate/);
  });
});
