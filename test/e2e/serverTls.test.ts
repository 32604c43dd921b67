/**
 * `sourced serve` with mutual TLS from the environment, the CLI's --ca/--cert/--key, and a
 * certificate rotation picked up on SIGHUP, as an operator would do it.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates, type Certificates } from '../harness/certs';
import { runCli, startDaemonProcess, type DaemonProcess } from './support/processes';

describe('sourced serve with mutual TLS', () => {
  let dir: string;
  let first: Certificates;
  let second: Certificates;
  let live: { cert: string; key: string; ca: string };
  let daemon: DaemonProcess | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sourced-e2e-tls-'));
    first = await makeCertificates(join(dir, 'first'));
    second = await makeCertificates(join(dir, 'second'));
    await mkdir(join(dir, 'live'));
    live = { cert: join(dir, 'live', 'server.crt'), key: join(dir, 'live', 'server.key'), ca: join(dir, 'live', 'clients.crt') };
    await copyFile(first.serverCert, live.cert);
    await copyFile(first.serverKey, live.key);
    await copyFile(first.caCert, live.ca);
  }, 60_000);
  afterAll(async () => {
    daemon?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the CLI with client certificates, refuses it without, and rotates on SIGHUP', async () => {
    daemon = await startDaemonProcess({ env: { SOURCED_TLS_CERT: live.cert, SOURCED_TLS_KEY: live.key, SOURCED_TLS_CLIENT_CA: live.ca } });
    expect(daemon.logs().find((r) => r.msg === 'sourced listening')).toMatchObject({ transport: 'mtls', subject: 'CN=localhost' });
    const plugins = (certs: Certificates, withClientCert = true) =>
      runCli([
        'plugins',
        '--address',
        daemon!.address,
        '--ca',
        certs.caCert,
        ...(withClientCert ? ['--cert', certs.clientCert, '--key', certs.clientKey] : []),
      ]);

    const ok = await plugins(first);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('postgres');
    // buf curl, as the README shows it: reflection and a call over mutual TLS
    const buf = resolve(__dirname, '../../node_modules/.bin/buf');
    const { stdout } = await promisify(execFile)(
      buf,
      [
        'curl',
        '--protocol',
        'grpc',
        '--cacert',
        first.caCert,
        '--cert',
        first.clientCert,
        '--key',
        first.clientKey,
        `https://${daemon.address}/grpc.health.v1.Health/Check`,
      ],
      { timeout: 30_000 },
    );
    expect(JSON.parse(stdout)).toEqual({ status: 'SERVING' });
    // without a client certificate the handshake fails: the daemon is unreachable for this client
    expect((await plugins(first, false)).code).toBe(3);
    // plaintext against a TLS daemon
    expect((await runCli(['plugins', '--address', daemon.address])).code).toBe(3);
    // --cert without --key is a usage error
    expect((await runCli(['plugins', '--address', daemon.address, '--cert', first.clientCert])).code).toBe(2);

    // the operator rotates the server certificate and the client CA, then sends SIGHUP
    await copyFile(second.serverCert, live.cert);
    await copyFile(second.serverKey, live.key);
    await copyFile(second.caCert, live.ca);
    daemon.child.kill('SIGHUP');
    await daemon.waitForLog('server certificates reloaded');
    expect((await plugins(second)).code).toBe(0);
    expect((await plugins(first)).code).toBe(3);
    // SIGHUP did not stop it; SIGTERM does, cleanly
    expect(await daemon.terminate()).toEqual({ code: 0, signal: null });
  }, 60_000);
});
