/**
 * Issue 15, item 12, replayed against `sourced serve` processes and `sourced audit verify`:
 * with `audit.signingKey` (a secret reference; here env://SOURCED_AUDIT_KEY) the daemon signs
 * checkpoints into its hash chain, so lines appended by someone without the key (correctly
 * chained, which the bare chain cannot tell) fail verification with the key, as do a forged
 * checkpoint, a middle line edited with every later hash recomputed, and lines slipped in while
 * the daemon was stopped; a restart after a clean stop still verifies. The key never appears in
 * any output.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointMac, keyId, sealCheckpoint, sealLine, type AuditLine } from '../../daemon/src/audit/AuditLog';
import { registerSecret } from '../support/secretScan';
import { runCli } from './support/processes';
import { listPlugins, startConfiguredDaemon } from './support/hardenedDaemon';

type Line = Record<string, unknown> & { seq: number; hash: string };

const readLines = (file: string): Line[] =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);

/** A call line as an attacker without the key writes it: well-formed and chained onto `after`. */
function forgedLine(after: Line, principal: string): string {
  const fields: Omit<AuditLine, 'hash'> = {
    time: new Date().toISOString(),
    principal,
    rpc: 'sourced.v1.DataSourceService/ValidateDataSource',
    outcome: 'OK',
    code: 0,
    duration_ms: 12,
    trace_id: null,
    seq: after.seq + 1,
    prev: after.hash,
  };
  return sealLine(fields).text;
}

describe('signed audit checkpoints (daemon processes and the CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sourced-audit-signing-'));
  const key = randomBytes(32).toString('hex');
  const env = { SOURCED_AUDIT_KEY: key };
  const config = (file: string) => ({ audit: { file, signingKey: 'env://SOURCED_AUDIT_KEY', checkpointEveryLines: 5 } });
  const verify = (file: string, ...more: string[]) => runCli(['audit', 'verify', file, '--key', 'env://SOURCED_AUDIT_KEY', ...more], env);
  let log: string;

  /** Runs a daemon on `file` for `calls` ListPlugins calls, then stops it (SIGTERM). */
  async function run(file: string, calls: number): Promise<void> {
    const d = await startConfiguredDaemon(config(file), env);
    try {
      for (let i = 0; i < calls; i++) await listPlugins(d.daemon.address);
    } finally {
      await d.stop();
    }
  }

  beforeAll(async () => {
    registerSecret('the audit signing key', key);
    log = join(dir, 'audit.log');
    await run(log, 12);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('signs its log: an opening checkpoint, one every 5 lines, and a closing one; verify --key passes', async () => {
    const lines = readLines(log);
    const checkpoints = lines.filter((l) => 'checkpoint' in l).map((l) => (l.checkpoint as { reason: string }).reason);
    expect(checkpoints).toEqual(['open', 'interval', 'interval', 'close']);
    expect(lines.every((l) => !JSON.stringify(l).includes(key))).toBe(true);
    const r = await verify(log);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('4 checkpoints verified with the key, every line signed');
  });

  it('refuses lines appended after the daemon closed its log, which the bare chain accepts', async () => {
    const forged = join(dir, 'appended.log');
    copyFileSync(log, forged);
    writeFileSync(forged, `${forgedLine(readLines(log).at(-1)!, 'ops-admin')}\n`, { flag: 'a' });
    expect((await runCli(['audit', 'verify', forged])).code).toBe(0); // the chain alone cannot tell
    const r = await verify(forged);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`line ${readLines(log).length + 1} was appended after the daemon closed the log`);
  });

  it('refuses a forged checkpoint and an edit with every later hash recomputed', async () => {
    const lines = readLines(log);
    // A line and a closing checkpoint "signed" with a key the attacker made up.
    const fakeKey = randomBytes(32);
    const appended = JSON.parse(forgedLine(lines.at(-1)!, 'ops-admin')) as Line;
    const cp = {
      time: new Date().toISOString(),
      checkpoint: { alg: 'HMAC-SHA256' as const, key_id: keyId(Buffer.from(key)), reason: 'close' as const },
      seq: appended.seq + 1,
      prev: appended.hash,
    };
    const forgedCheckpoint = sealCheckpoint({ ...cp, mac: checkpointMac(fakeKey, cp) }).text;
    const withCheckpoint = join(dir, 'forged-checkpoint.log');
    writeFileSync(withCheckpoint, `${readFileSync(log, 'utf8')}${JSON.stringify(appended)}\n${forgedCheckpoint}\n`);
    expect((await runCli(['audit', 'verify', withCheckpoint])).code).toBe(0);
    const r = await verify(withCheckpoint);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/was appended after the daemon closed the log|signature does not verify/);

    // Line 3 edited, and every hash after it recomputed (the checkpoints' too, keeping their MACs).
    const texts: string[] = [];
    let prev = '';
    for (const [i, line] of lines.entries()) {
      const { hash: _h, ...fields } = line;
      if (i === 2) (fields as Record<string, unknown>).principal = 'someone-else';
      if (i > 0) (fields as Record<string, unknown>).prev = prev;
      const sealed = 'checkpoint' in fields ? sealCheckpoint(fields as never) : sealLine(fields as never);
      texts.push(sealed.text);
      prev = sealed.hash;
    }
    const rechained = join(dir, 'rechained.log');
    writeFileSync(rechained, `${texts.join('\n')}\n`);
    expect((await runCli(['audit', 'verify', rechained])).code).toBe(0);
    const e = await verify(rechained);
    expect(e.code).toBe(1);
    expect(e.stdout).toContain('signature does not verify');
  });

  it('a restart after a clean stop verifies; lines slipped in while it was stopped, or after a crash, do not', async () => {
    const clean = join(dir, 'restarted.log');
    copyFileSync(log, clean);
    await run(clean, 3);
    const ok = await verify(clean);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('every line signed');

    const slipped = join(dir, 'slipped.log');
    copyFileSync(log, slipped);
    const at = readLines(log).length + 1;
    writeFileSync(slipped, `${forgedLine(readLines(log).at(-1)!, 'ops-admin')}\n`, { flag: 'a' });
    await run(slipped, 2);
    const r = await verify(slipped);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`line ${at} was appended after the daemon closed the log`);

    // A daemon killed before it could sign its last lines; a line slipped in; a restart.
    const crashed = join(dir, 'crashed.log');
    const d = await startConfiguredDaemon(config(crashed), env);
    // The start log names the key by its id, never by its value.
    expect((await d.daemon.waitForLog('sourced listening')).audit_key_id).toBe(keyId(Buffer.from(key)));
    for (let i = 0; i < 7; i++) await listPlugins(d.daemon.address);
    await new Promise((r) => setTimeout(r, 300)); // the lines are written (a batch per tick)
    d.daemon.kill();
    await d.daemon.exited;
    await d.stop();
    const before = readLines(crashed);
    writeFileSync(crashed, `${forgedLine(before.at(-1)!, 'ops-admin')}\n`, { flag: 'a' });
    await run(crashed, 1);
    const c = await verify(crashed);
    expect(c.code).toBe(1);
    // Lines 8-9 (two calls after the checkpoint at line 7) and the slipped line 10; the restart's opening checkpoint is line 11.
    expect(c.stdout).toContain('lines 8–10 are not signed: when the daemon started again (line 11)');
  });

  it('verify --key needs the key: a missing variable or a wrong key is said so, and the key is never printed', async () => {
    const missing = await runCli(['audit', 'verify', log, '--key', 'env://SOURCED_AUDIT_KEY_NOT_SET']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('audit.signingKey: env://SOURCED_AUDIT_KEY_NOT_SET could not be resolved');
    const wrong = await runCli(['audit', 'verify', log, '--key', 'env://K'], { K: randomBytes(32).toString('hex') });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain('under another key');
  });
});
