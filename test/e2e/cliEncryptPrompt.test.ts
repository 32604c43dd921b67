/**
 * `sourced encrypt` on a terminal (issue 20): with no value piped in it prompts, and what is typed
 * is never echoed. The CLI runs on a pseudo-terminal (util-linux `script -qfec CMD /dev/null`); the
 * test types into the terminal only after the prompt shows and reads the terminal's transcript
 * (everything drawn on it, echo included): the value is not in it, the envelope is, and the
 * envelope opens as the PostgreSQL password. Backspace edits the value; Ctrl-C aborts with nothing
 * printed.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { captureText, registerSecret } from '../support/secretScan';
import { childEnv, hasScript, runCli, SOURCED_BIN, startDaemonProcess, type DaemonProcess } from './support/processes';

const PROMPT = 'value to encrypt (not shown): ';
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `sourced ARGS...` on a pseudo-terminal, waits for the prompt, types `keys` (the terminal's
 * input: what a person presses), and returns the exit code and the transcript of the terminal.
 */
function typeAtPrompt(args: string[], keys: string): Promise<{ code: number | null; transcript: string }> {
  const command = [process.execPath, SOURCED_BIN, ...args].map(shellQuote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: childEnv({ TERM: 'xterm-256color', SHELL: '/bin/sh' }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let transcript = '';
    let typed = false;
    const onOutput = (s: string) => {
      transcript += s;
      // The CLI turns echo off before it shows the prompt: typing after it is what a person does.
      if (!typed && transcript.includes(PROMPT)) {
        typed = true;
        child.stdin.write(keys);
      }
    };
    child.stdout.setEncoding('utf8').on('data', onOutput);
    child.stderr.setEncoding('utf8').on('data', onOutput);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      captureText('CLI terminal transcript', transcript);
      if (signal) reject(new Error(`sourced ${args.join(' ')} on a pty was killed (${signal}); transcript:\n${transcript}`));
      else resolve({ code, transcript: transcript.replace(/\r\n/g, '\n') });
    });
  });
}

describe.skipIf(!hasScript())('sourced encrypt at a terminal prompt (util-linux script)', () => {
  const pg = inject('postgres');
  const dir = mkdtempSync(join(tmpdir(), 'sourced-cli-prompt-'));
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

  it('prompts without echo; the typed value (edited with backspace) is what the envelope holds', async () => {
    // A typo, two backspaces, then the password and Enter, as typed at the terminal.
    const { code, transcript } = await typeAtPrompt(
      ['encrypt', '--address', daemon.address, '--data-source-id', 'orders-db'],
      `zz\u007f\u007f${pg.password}\r`,
    );
    expect(code).toBe(0);
    expect(transcript.startsWith(PROMPT)).toBe(true);
    expect(transcript).not.toContain(pg.password);
    // Not even a mask: the line after the prompt is empty, then the envelope.
    const lines = transcript.slice(PROMPT.length).split('\n');
    expect(lines[0]).toBe('');
    const envelope = lines.find((l) => l.startsWith('sourced:enc:v1:')) ?? '';
    expect(envelope).toMatch(/^sourced:enc:v1:[A-Za-z0-9_-]+$/);
    // The erased typo is nowhere but (by chance) inside the envelope's base64url ciphertext.
    expect(transcript.replace(envelope, '')).not.toContain('zz');

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
      .map((l) => JSON.parse(l) as { checkFinished?: { checkId: string; status: string } });
    expect(events.find((e) => e.checkFinished?.checkId === 'authenticate')?.checkFinished?.status).toMatch(/PASSED/);
  });

  it('Ctrl-C at the prompt aborts: exit 2, no envelope, nothing typed shown', async () => {
    const typedValue = `half-typed-${randomBytes(4).toString('hex')}`;
    registerSecret('a value abandoned at the prompt', typedValue);
    const { code, transcript } = await typeAtPrompt(['encrypt', '--address', daemon.address, '--data-source-id', 'orders-db'], `${typedValue}\u0003`);
    expect(code).toBe(2);
    expect(transcript).toMatch(/interrupted/);
    expect(transcript).not.toContain('sourced:enc:v1:');
    expect(transcript).not.toContain(typedValue);
  });
});
