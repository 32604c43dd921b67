import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { OWN_PASSWORD_REFERENCE, printReport, type DemoSummary } from '../../cli/src/demoReport';
import { runCli, startDaemonProcess, type DaemonProcess } from './support/processes';

/**
 * Issue 22: a newcomer's path from the demo to their own database, defect by defect. Against a
 * `sourced serve` process with the default secret policy and the harness's PostgreSQL.
 */

const ROOT = resolve(__dirname, '../..');

describe('from the demo to your own database', () => {
  const pg = inject('postgres');
  const dir = mkdtempSync(join(tmpdir(), 'sourced-newcomer-'));
  let daemon: DaemonProcess;
  const file = (name: string, doc: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2));
    return path;
  };
  const sourced = (...args: string[]) => runCli([...args, '--address', daemon.address], {}, 60_000);
  const own = (password: unknown) => ({
    type: 'postgres',
    location: 'ON_PREM',
    primary: { host: pg.host, port: pg.port, database: pg.database },
    credentials: { username: pg.user, password },
    ssl_config: { mode: 'DISABLE' },
  });

  beforeAll(async () => {
    // The variable the demo's "what next" names, set as the demo tells the user to.
    daemon = await startDaemonProcess({ env: { [OWN_PASSWORD_REFERENCE.slice('env://'.length)]: pg.password, PG_PASSWORD: pg.password } });
  });
  afterAll(async () => {
    await daemon?.terminate();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Defect 1: the reference the demo suggests is one the default policy allows, and it works. */
  it("suggests a password reference the default policy accepts, and it validates the user's database", async () => {
    const printed: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((text: string | Uint8Array) => {
      printed.push(String(text));
      return true;
    });
    try {
      printReport(SUMMARY);
    } finally {
      spy.mockRestore();
    }
    const report = printed.join('');
    expect(report).toContain(`"${OWN_PASSWORD_REFERENCE}"`);
    expect(report).not.toContain('env://PG_PASSWORD');
    expect(report).toMatch(/^ {4}SOURCED_SECRET_PG_PASSWORD=\.\.\. npx sourced serve/m);

    const r = await sourced('validate', file('own.json', own(OWN_PASSWORD_REFERENCE)));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`password from ${OWN_PASSWORD_REFERENCE}`);
  });

  /** Defect 1: a reference the policy refuses is PERMISSION_DENIED, exit 4, as the help's exit codes say. */
  it('exits 4 for a reference the policy refuses, as documented', async () => {
    const r = await sourced('validate', file('refused.json', own('env://PG_PASSWORD')));
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^sourced: PERMISSION_DENIED: data_source\.credentials\.password\.reference: /);
    const help = await runCli(['--help']);
    expect(help.stdout).toMatch(/4 other error \(PERMISSION_DENIED: a secret reference/);
  });

  /** Defect 2: typos are errors naming the path and the nearest field; nothing is sent to the daemon. */
  it.for([
    ['databse', { type: 'postgres', primary: { host: pg.host, databse: 'x' } }, 'primary.databse: unknown field; did you mean "database"?'],
    [
      'pasword',
      { type: 'postgres', primary: { host: pg.host }, credentials: { username: 'u', pasword: 'x' } },
      'credentials.pasword: unknown field; did you mean "password"?',
    ],
    ['primery', { type: 'postgres', primery: { host: pg.host } }, 'primery: unknown field; did you mean "primary"?'],
  ] as const)('refuses the typo %s with the nearest field, exit 2', async ([name, doc, says]) => {
    for (const ext of ['json', 'yaml']) {
      const path = file(`${name}.${ext}`, doc);
      const r = await sourced('validate', path);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`${path} is not a valid data source`);
      expect(r.stderr).toContain(`  ${says}`);
    }
  });

  /** Defect 3: a wrong enum value is shown as written, with the accepted names. */
  it('shows the enum value the user wrote and the accepted names', async () => {
    const r = await sourced('validate', file('enum.yaml', 'type: postgres\nlocation: on-prem\nprimary: { host: db }\n'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('location: "on-prem" is not one of ON_PREM, CLOUD, HYBRID (or with the LOCATION_ prefix); did you mean ON_PREM?');
    expect(r.stderr).not.toContain('UNRECOGNIZED');
  });

  /** Defect 4: --json prints enums by name. */
  it('prints enum names in plugins --json', async () => {
    const r = await sourced('plugins', '--json');
    expect(r.code, r.stderr).toBe(0);
    const plugins = JSON.parse(r.stdout) as { id: string; kind: unknown; state: unknown }[];
    expect(plugins.find((p) => p.id === 'postgres')).toMatchObject({ kind: 'PLUGIN_KIND_CONNECTOR', state: 'PLUGIN_STATE_LOADED' });
    for (const p of plugins) expect([typeof p.kind, typeof p.state]).toEqual(['string', 'string']);
  });

  /** Defect 5: the plugin folder serve's help names exists. */
  it("names an existing folder in serve's --plugin example", async () => {
    const r = await runCli(['serve', '--help']);
    const example = /--plugin (\S+)/.exec(r.stdout.split('Examples:')[1] ?? '')?.[1];
    expect(example).toBeDefined();
    expect(existsSync(resolve(ROOT, example as string)), example).toBe(true);
  });

  /** Defect 8: the demo's --json and --port are in its help. */
  it('documents demo --json and --port', async () => {
    const r = await runCli(['demo', '--help']);
    expect(r.stdout).toContain('--port <N>');
    expect(r.stdout).toContain('--json');
    expect(r.stdout).toContain('npm run --silent demo -- --json');
  });

  /** Defect 10: an INVALID_ARGUMENT's violations are printed once each. */
  it('prints each violation of INVALID_ARGUMENT once', async () => {
    const r = await sourced('validate', file('two.yaml', 'type: postgres\nlocation: HYBRID\nprimary: { host: 127.0.0.1, port: 70000 }\n'));
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('sourced: INVALID_ARGUMENT: invalid request (2 fields):');
    for (const violation of ['data_source.primary.port: 70000 is not a TCP port', 'data_source.secondary: is required when location is HYBRID']) {
      expect(r.stderr.split(violation).length - 1, violation).toBe(1);
    }
  });

  /** Defect 10: one foreign key, one index, one batch: singular. */
  it('says 1 foreign key, not 1 foreign keys', async () => {
    const r = await sourced('discover', file('text.json', own(OWN_PASSWORD_REFERENCE)), '--format', 'text', '--include-schema', 'sales');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\b1 foreign key\b/);
    expect(r.stdout).not.toMatch(/\b1 (columns|foreign keys|indexes|rows|batches|schemas|tables|views)\b/);
  });
});

/** A report as the demo prints it (the figures do not matter here). */
const SUMMARY: DemoSummary = {
  ok: true,
  keep: false,
  folder: '/tmp/sourced-demo-x',
  dataSourceFile: '/tmp/sourced-demo-x/demo-shop.json',
  database: {
    address: '127.0.0.1:5432',
    version: 'PostgreSQL 18',
    user: 'postgres',
    authenticated: false,
    note: 'note',
    startMs: 1,
    seed: { schemas: 3, relations: 16, rows: 1, durationMs: 1 },
    readOnlyRole: 'demo_reader',
  },
  daemon: { address: '127.0.0.1:50051', version: '0.1.0', log: null },
  validation: { ok: true, durationMs: 1, checks: [] },
  discovery: { ok: true, durationMs: 1, schemas: [], relations: [], warnings: [], missing: [] },
};
