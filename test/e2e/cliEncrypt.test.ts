/**
 * `sourced encrypt` (issue 20) against a `sourced serve` process with a local keyring: the value
 * comes from stdin, never from the command line; the envelope it prints, written into a data
 * source file as the password, validates against the harness PostgreSQL with `sourced validate`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { captureText, registerSecret } from '../support/secretScan';
import { childEnv, runCli, SOURCED_BIN, startDaemonProcess, type DaemonProcess } from './support/processes';

/** Runs the CLI with `input` on its stdin. */
function runWithStdin(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SOURCED_BIN, ...args], { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      captureText('CLI output', `${stdout}\n${stderr}`);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

describe('sourced encrypt', () => {
  const pg = inject('postgres');
  const dir = mkdtempSync(join(tmpdir(), 'sourced-cli-enc-'));
  let daemon: DaemonProcess;

  beforeAll(async () => {
    const keyring = join(dir, 'keyring.json');
    const key = randomBytes(32).toString('base64');
    registerSecret('keyring key', key);
    writeFileSync(keyring, JSON.stringify({ current: 'k1', keys: { k1: key } }), { mode: 0o600 });
    daemon = await startDaemonProcess({ env: { SOURCED_ENCRYPTION_KEYRING_FILE: keyring } });
  });
  afterAll(async () => {
    await daemon?.terminate();
    captureText('daemon stderr', daemon?.stderr() ?? '');
  });

  it('encrypts the value from stdin; the envelope validates as the password of that data source', async () => {
    const out = await runWithStdin(['encrypt', '--address', daemon.address, '--data-source-id', 'orders-db'], `${pg.password}\n`);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const envelope = out.stdout.trim();
    expect(envelope).toMatch(/^sourced:enc:v1:[A-Za-z0-9_-]+$/);
    const file = join(dir, 'orders.json');
    writeFileSync(
      file,
      JSON.stringify({
        id: 'orders-db',
        type: 'postgres',
        primary: { host: pg.host, port: pg.port, database: pg.database },
        credentials: { username: pg.user, password: envelope },
      }),
    );
    const validated = await runCli(['validate', file, '--address', daemon.address, '--json']);
    expect(validated.code).toBe(0);
    const events = validated.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { checkFinished?: { checkId: string; status: string; details?: Record<string, string> } });
    const creds = events.find((e) => e.checkFinished?.checkId === 'resolve-credentials')?.checkFinished;
    expect(creds?.details?.['password.source']).toBe('encrypted (local:k1)');

    // The same envelope for another data source id: the credentials check fails, exit 1.
    writeFileSync(
      file,
      JSON.stringify({
        id: 'billing-db',
        type: 'postgres',
        primary: { host: pg.host, port: pg.port, database: pg.database },
        credentials: { username: pg.user, password: envelope },
      }),
    );
    const refused = await runCli(['validate', file, '--address', daemon.address]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('another data source or field');
  });

  it('--json prints the envelope with its key', async () => {
    const out = await runWithStdin(
      ['encrypt', '--address', daemon.address, '--data-source-id', 'orders-db', '--field', 'ssl_config.key', '--json'],
      'k3y-material-x',
    );
    registerSecret('key material', 'k3y-material-x');
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ keyProvider: 'local', keyId: 'k1', envelope: expect.stringMatching(/^sourced:enc:v1:/) });
  });

  it('never takes the value from the command line, and refuses an empty value', async () => {
    const argv = await runWithStdin(['encrypt', '--address', daemon.address, '--data-source-id', 'orders-db', 'hunter2-argv'], 'x');
    expect(argv.code).toBe(2);
    expect(argv.stderr).toMatch(/too many arguments/);
    const empty = await runWithStdin(['encrypt', '--address', daemon.address, '--data-source-id', 'orders-db'], '');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/nothing to encrypt/);
    const noId = await runWithStdin(['encrypt', '--address', daemon.address], 'x');
    expect(noId.code).toBe(2);
    expect(noId.stderr).toMatch(/--data-source-id/);
  });

  it('a daemon without a keyring answers FAILED_PRECONDITION with the hint', async () => {
    const bare = await startDaemonProcess();
    try {
      const out = await runWithStdin(['encrypt', '--address', bare.address, '--data-source-id', 'orders-db'], 'some-value-1');
      registerSecret('some value', 'some-value-1');
      expect(out.code).toBe(4);
      expect(out.stderr).toMatch(/ENCRYPTION_KEY_PROVIDER_NOT_CONFIGURED|no keys configured/);
      expect(out.stderr).toMatch(/SOURCED_ENCRYPTION_KEYRING/);
    } finally {
      await bare.terminate();
    }
  });
});
