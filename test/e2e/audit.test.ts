import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../daemon/src/audit/AuditLog';
import { runCli } from './support/processes';

describe('sourced audit verify', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sourced-audit-cli-'));
  const intact = join(dir, 'audit.log');
  let lastHash: string;

  beforeAll(async () => {
    const log = await AuditLog.open({ file: intact });
    for (let i = 0; i < 1204; i++) {
      log.record({
        principal: 'CN=platform-worker',
        rpc: i % 2 ? '/sourced.v1.DataSourceService/DiscoverDataSource' : '/sourced.v1.DataSourceService/ValidateDataSource',
        dataSource: { id: `source-${i}`, type: 'postgres', host: 'db.internal:5432' },
        code: i % 10 === 0 ? 14 : 0,
        durationMs: 10 + i,
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      });
    }
    await log.close();
    lastHash = log.lastHash;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('an intact file: exit 0, the line count and the last hash', async () => {
    const r = await runCli(['audit', 'verify', intact]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ok: 1,204 lines, chain intact, last hash ${lastHash}`);
    expect(r.stdout).toContain('removing lines from the end is only detectable against a hash recorded elsewhere');

    const json = await runCli(['audit', 'verify', intact, '--json', '--expect-last', lastHash]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      file: intact,
      ok: true,
      lines: 1204,
      lastHash,
      lastSeq: 1204,
      expected: { line: 1204, linesAfter: 0 },
      checkpoints: 0,
    });
  });

  it('a tampered file: exit 1, naming the line', async () => {
    const lines = readFileSync(intact, 'utf8').split('\n');
    lines[499] = lines[499].replace('"code":0', '"code":7').replace('"outcome":"OK"', '"outcome":"PERMISSION_DENIED"');
    const edited = join(dir, 'edited.log');
    writeFileSync(edited, lines.join('\n'));
    const r = await runCli(['audit', 'verify', edited]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('NOT intact: line 500 was edited (its hash does not match its content)\n');

    const truncated = join(dir, 'truncated.log');
    writeFileSync(truncated, readFileSync(intact, 'utf8').split('\n').slice(0, 1000).join('\n') + '\n');
    const t = await runCli(['audit', 'verify', truncated, '--expect-last', lastHash]);
    expect(t.code).toBe(1);
    expect(t.stdout).toContain('lines were removed from the end (the file now ends at line 1000, seq 1000)');
  });

  it('a missing file or bad arguments: exit 2', async () => {
    const missing = await runCli(['audit', 'verify', join(dir, 'nope.log')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`cannot read ${join(dir, 'nope.log')} (no such file, ENOENT)`);

    expect((await runCli(['audit', 'verify'])).code).toBe(2);
    expect((await runCli(['audit', 'verify', intact, '--expect-last', 'abc'])).code).toBe(2);
    expect((await runCli(['audit', 'check', intact])).code).toBe(2);
    const help = await runCli(['audit', 'verify', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: sourced audit verify [options] <FILE>');
    expect(help.stdout).toMatch(/^ {2}--expect-last <HASH> /m);
  });
});
