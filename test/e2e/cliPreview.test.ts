/**
 * `sourced preview` as a person runs it: a real daemon process, the harness PostgreSQL, the CLI
 * as a subprocess. The table format, NDJSON with the contract's cells, masking, bad input and
 * the exit codes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli, startDaemonProcess, type DaemonProcess } from './support/processes';

describe('sourced preview and profile', () => {
  const pg = inject('postgres');
  const dir = mkdtempSync(join(tmpdir(), 'sourced-cli-preview-'));
  const source = join(dir, 'pg.json');
  let daemon: DaemonProcess;
  const sourced = (...args: string[]) => runCli([...args, '--address', daemon.address], { PG_PREVIEW_PASSWORD: pg.password });

  beforeAll(async () => {
    writeFileSync(
      source,
      JSON.stringify({
        type: 'postgres',
        primary: { host: pg.host, port: pg.port, database: pg.database },
        credentials: { username: pg.user, password: 'env://PG_PREVIEW_PASSWORD' },
      }),
    );
    daemon = await startDaemonProcess({ env: { PG_PREVIEW_PASSWORD: pg.password, SOURCED_SECRETS_ALLOWED_REFERENCES: 'env://PG_PREVIEW_PASSWORD' } });
  });
  afterAll(async () => {
    await daemon?.terminate();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The chosen columns as an aligned table, the rows in key order, and a line saying the table holds more. */
  it('prints the first rows as a table', async () => {
    const r = await sourced(
      'preview',
      source,
      '--table',
      'sales.customers',
      '--column',
      'id',
      '--column',
      'full_name',
      '--column',
      'is_active',
      '--limit',
      '3',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['id', 'full_name', 'is_active']);
    expect(lines[1]).toMatch(/^-+ {2}-+ {2}-+$/);
    expect(lines.slice(2, 5).map((l) => l.split(/\s{2,}/))).toEqual([
      ['1', 'Customer 1', 'true'],
      ['2', 'Customer 2', expect.stringMatching(/^(true|false)$/)],
      ['3', 'Customer 3', expect.stringMatching(/^(true|false)$/)],
    ]);
    expect(lines[5]).toMatch(/^3 rows \(the table holds more/);
  });

  /** NDJSON: one object per row, each value as the contract's Cell (exact integers as text, instants with their offset). */
  it('writes rows as NDJSON with exact values', async () => {
    const r = await sourced('preview', source, '--table', 'sales.customers', '--column', 'id', '--column', 'created_at', '--limit', '2', '--format', 'ndjson');
    expect(r.code).toBe(0);
    const rows = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>);
    expect(rows).toHaveLength(2);
    expect(rows[0].id).toEqual({ integer: '1' });
    expect(rows[0].created_at.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$/);
    // the summary goes to stderr, beside the machine-readable rows
    expect(r.stderr).toMatch(/^2 rows/);
  });

  /** An unknown column is bad input (exit 2) naming the field; an unknown table says NOT_FOUND (exit 4); no --table is a usage error. */
  it('says what is wrong with the request', async () => {
    const column = await sourced('preview', source, '--table', 'sales.customers', '--column', 'id', '--column', 'nope');
    expect(column.code).toBe(2);
    expect(column.stderr).toContain('columns[1]');
    expect(column.stderr).toContain('no column "nope"');
    const table = await sourced('preview', source, '--table', 'sales.nothing_here');
    expect(table.code).toBe(4);
    expect(table.stderr).toContain('NOT_FOUND');
    const usage = await sourced('preview', source);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("required option '--table <SCHEMA.NAME>' not specified");
    const help = await runCli(['preview', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('sourced preview db.yaml --table sales.orders');
  });

  /** `sourced profile` prints the table line, then each column with what the statistics say (a sample here: exact over it). */
  it('profiles columns from a sample', async () => {
    const r = await sourced(
      'profile',
      source,
      '--table',
      'sales.customers',
      '--column',
      'country_code',
      '--column',
      'is_active',
      '--mode',
      'sample',
      '--sample-rows',
      '100',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^sales\.customers: (~?\d+ rows|rows unknown); from a sample of 100 rows/);
    // the fixture's countries are NL, DE, US and FR, never null: four values whose shares of the sample add up to 100%
    // a count over a sample of part of the table is an estimate of the table's (~), unless the sample read every row
    expect(lines.find((l) => l.trim().startsWith('country_code'))).toMatch(/0\.0% null, ~?4 distinct/);
    expect(lines[1]).toMatch(/^ {2}sample: 100 rows, /);
    // the row count is reltuples (the fixture ran ANALYZE): its statistics' age, from pg_stat_all_tables
    expect(lines[2]).toMatch(/^ {2}row count statistics collected \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z \(pg_stat_all_tables\.last_(auto)?(analyze|vacuum)\)$/);
    expect(lines.some((l) => /^ {6}all (from the sample|exact)$/.test(l))).toBe(true);
    const common = lines.find((l) => l.includes('most common:') && l.includes('NL')) ?? '';
    expect([...common.matchAll(/([A-Z]{2}) \((\d+\.\d)%\)/g)].map((m) => m[1]).sort()).toEqual(['DE', 'FR', 'NL', 'US']);
    // (each share is rounded to a tenth of a percent)
    const total = [...common.matchAll(/\((\d+\.\d)%\)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(Math.abs(total - 100)).toBeLessThan(0.5);
    expect(lines.at(-1)).toMatch(/^2 columns in \d+ ms$/);
    const bad = await sourced('profile', source, '--table', 'sales.customers', '--mode', 'guess');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("option '--mode <MODE>' argument 'guess' is invalid. Allowed choices are statistics, sample.");
  });
});
