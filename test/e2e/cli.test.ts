import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../harness/ports';
import { runCli, startDaemonProcess, type CliResult, type DaemonProcess } from './support/processes';

type Json = Record<string, unknown>;
const ndjson = (text: string): Json[] =>
  text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Json);

describe('sourced command-line client', () => {
  const pg = inject('postgres');
  const wrongPassword = `wrong-${randomBytes(12).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'sourced-cli-'));
  const outputs: CliResult[] = [];
  let daemon: DaemonProcess;

  /** Writes a data source file into the temp folder and returns its path. */
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  /** Runs `sourced ARGS...`; a client command talks to the test daemon unless ARGS name another --address. */
  const sourced = async (...args: string[]) => {
    const client = ['validate', 'discover', 'plugins'].includes(args[0]) && !args.includes('--address');
    const withAddress = client ? [...args, '--address', daemon.address] : args;
    const result = await runCli(withAddress);
    outputs.push(result);
    return result;
  };

  /** The contract's JSON shape; the password is a reference the daemon resolves from its environment. */
  let contractJson: string;
  /** The platform's older shape, in YAML: everything in connection_properties. */
  let looseYaml: string;

  beforeAll(async () => {
    daemon = await startDaemonProcess({ args: ['--log-level', 'debug'], env: { SOURCED_SECRET_CLI_PG: pg.password } });
    contractJson = file(
      'orders.json',
      JSON.stringify({
        id: 'cli-orders',
        type: 'postgres',
        location: 'LOCATION_ON_PREM',
        primary: { host: pg.host, port: pg.port, database: pg.database },
        credentials: { username: pg.user, password: { reference: 'env://SOURCED_SECRET_CLI_PG' } },
        ssl_config: { mode: 'SSL_MODE_DISABLE' },
      }),
    );
    looseYaml = file(
      'orders.yaml',
      [
        'type: postgresql',
        'connection_properties:',
        `  host: ${pg.host}`,
        `  port: ${pg.port}`,
        `  database: ${pg.database}`,
        `  username: ${pg.user}`,
        '  password: env://SOURCED_SECRET_CLI_PG',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await daemon?.terminate();
    rmSync(dir, { recursive: true, force: true });
  });

  // The commands are independent of each other: run them side by side.
  describe.concurrent('commands', () => {
    /** `--help` prints the usage, naming every command, and exits 0. */
    it('prints its usage with --help', async ({ expect }) => {
      const r = await sourced('--help');
      expect(r.code).toBe(0);
      for (const command of ['serve', 'validate FILE', 'discover FILE', 'plugins']) expect(r.stdout).toContain(`sourced ${command}`);
      expect(r.stdout).toContain('Exit codes:');
    });

    /** A valid source: each check on its own line with a mark, the endpoint's report, a verdict, exit 0. */
    it('validates a data source file and exits 0', async ({ expect }) => {
      const r = await sourced('validate', contractJson);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const checks = r.stdout.split('\n').filter((l) => /^\[(ok {2}|FAIL|warn|skip)\] /.test(l));
      expect(checks.map((l) => l.slice(0, 6))).toEqual(['[ok  ]', '[ok  ]', '[ok  ]', '[skip]', '[ok  ]', '[ok  ]', '[warn]', '[ok  ]', '[ok  ]']);
      expect(checks[4]).toMatch(/^\[ok {2}\] Authenticate \(\d+\.\d ms\): /);
      expect(r.stdout).toContain(`primary ${pg.host}:${pg.port}: OK (7 passed, 0 failed, 1 warnings, 1 skipped)`);
      expect(r.stdout).toMatch(/^valid in \d+ ms$/m);
    });

    /** A wrong password is a validation result, not an error: the authenticate check fails with its hint, exit 1. */
    it('reports a failed login with its hint and exits 1', async ({ expect }) => {
      const wrong = file(
        'wrong-password.json',
        JSON.stringify({
          type: 'postgres',
          primary: { host: pg.host, port: pg.port, database: pg.database },
          credentials: { username: pg.user, password: wrongPassword },
        }),
      );
      const r = await sourced('validate', wrong);
      expect(r.code).toBe(1);
      const lines = r.stdout.split('\n');
      const auth = lines.findIndex((l) => l.startsWith('[FAIL] Authenticate'));
      expect(auth).toBeGreaterThan(-1);
      expect(lines[auth]).toContain(`password authentication failed for user "${pg.user}"`);
      expect(lines[auth + 1]).toMatch(/^ {7}hint: \S/);
      expect(r.stdout).toMatch(/^NOT valid in \d+ ms$/m);
    });

    /** `--json` prints one contract-shaped JSON object per event, the last one the summary. */
    it('prints NDJSON events with --json', async ({ expect }) => {
      const r = await sourced('validate', looseYaml, '--json');
      expect(r.code).toBe(0);
      const events = ndjson(r.stdout);
      expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => i + 1));
      expect(events.filter((e) => 'checkFinished' in e)).toHaveLength(9);
      expect(events.at(-1)).toMatchObject({ summary: { ok: true, connector: 'postgres' } });
    });

    /** Discovery with a schema filter prints the filtered relations and a summary line. */
    it('discovers the relations of one schema', async ({ expect }) => {
      const r = await sourced('discover', looseYaml, '--include-schema', 'sales');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^schema sales/m);
      expect(r.stdout).toMatch(/^ {2}sales\.orders {2}table: \d+ columns, pk \(id\)/m);
      expect(r.stdout).toMatch(/^ {2}sales\.customer_order_totals {2}view: /m);
      expect(r.stdout).not.toContain('inventory.');
      expect(r.stdout).toMatch(/^1 schemas, \d+ tables, \d+ views, \d+ columns in \d+ batches, \d+ ms$/m);
    });

    /** `discover --json` is NDJSON whose batch events carry whole relations; a summary closes it. */
    it('prints discovery as NDJSON with --json', async ({ expect }) => {
      const r = await sourced('discover', contractJson, '--json', '--batch-size', '5');
      expect(r.code).toBe(0);
      const events = ndjson(r.stdout);
      expect(events[0]).toHaveProperty('schemas');
      const batches = events.filter((e) => 'batch' in e).map((e) => e.batch as { relations: Json[]; cursor: string });
      expect(batches.length).toBeGreaterThan(1);
      const relations = batches.flatMap((b) => b.relations);
      expect(relations.map((x) => `${String(x.schema)}.${String(x.name)}`)).toContain('sales.orders');
      expect(relations.find((x) => x.name === 'orders')).toMatchObject({ primaryKey: { columns: ['id'] } });
      expect(batches.every((b) => b.cursor)).toBe(true);
      expect(events.at(-1)).toMatchObject({ summary: { relations: relations.length } });
    });

    /** `plugins` lists the built-in connector as loaded. */
    it('lists the loaded plugins', async ({ expect }) => {
      const r = await sourced('plugins');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^postgres \S+ loaded: connector postgres/m);
    });

    /** Input the daemon rejects exits 2 and names each offending field. */
    it.for([
      ['HYBRID without a secondary', 'hybrid.yaml', 'type: postgres\nlocation: HYBRID\nprimary: { host: 127.0.0.1, port: 5432, database: app }\n', 'data_source.secondary: is required when location is HYBRID'],
      ['a port out of range', 'port.json', JSON.stringify({ type: 'postgres', primary: { host: '127.0.0.1', port: 70000 } }), 'data_source.primary.port: 70000 is not a TCP port (1-65535)'],
    ])('exits 2 naming the field for %s', async ([, name, text, violation], { expect }) => {
      const r = await sourced('validate', file(name, text));
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^sourced: INVALID_ARGUMENT: /);
      const violations = r.stderr.split('\n').filter((l) => l.startsWith('  '));
      expect(violations.map((l) => l.slice(2, 2 + violation.length))).toContain(violation);
    });

    /** A file that cannot be read is bad input too, named in the message. */
    it('exits 2 for a file that does not exist', async ({ expect }) => {
      const missing = join(dir, 'missing.json');
      const r = await sourced('validate', missing);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`cannot read ${missing}`);
    });

    /** No daemon at the address: exit 3 and a hint how to start one. */
    it('exits 3 with a hint when nothing listens at the address', async ({ expect }) => {
      const r = await sourced('validate', contractJson, '--address', `127.0.0.1:${await freePort()}`);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^sourced: UNAVAILABLE: /);
      expect(r.stderr).toContain('is the daemon running?');
    });

    /** A database the daemon cannot reach is the daemon's answer, not an unreachable daemon: exit 4, no hint to start the daemon. */
    it('tells an unreachable database from an unreachable daemon', async ({ expect }) => {
      const port = await freePort();
      const closed = file('closed.json', JSON.stringify({ type: 'postgres', primary: { host: '127.0.0.1', port, database: 'x' }, credentials: { username: 'u', password: 'env://SOURCED_SECRET_CLI_PG' } }));
      const r = await sourced('discover', closed);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(`sourced: UNAVAILABLE: connection refused by 127.0.0.1:${port}`);
      expect(r.stderr).not.toContain('is the daemon running?');
    });

    /** An unknown command exits 2 and shows the usage. */
    it('exits 2 with the usage for an unknown command', async ({ expect }) => {
      const r = await sourced('frobnicate');
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('sourced: unknown command "frobnicate"');
      expect(r.stderr).toContain('Usage:');
    });
  });

  /** Neither the password the daemon resolves nor an inline one shows up in any output, the daemon's debug log included. */
  it('never prints a password', () => {
    expect(outputs.length).toBeGreaterThan(5);
    const everything = [...outputs.flatMap((o) => [o.stdout, o.stderr]), daemon.stdout(), daemon.stderr()].join('\n');
    expect(everything).toContain('call finished');
    expect(everything).not.toContain(pg.password);
    expect(everything).not.toContain(wrongPassword);
  });
});
