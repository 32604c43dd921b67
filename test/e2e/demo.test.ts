import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { captureSource } from '../support/secretScan';
import { childEnv, runCli, SOURCED_BIN, type Exit } from './support/processes';

/**
 * `sourced demo`, as a newcomer runs it: a real process starting PGlite (PostgreSQL in
 * WebAssembly) behind its socket server, the seed, the daemon in the same process, and a
 * validation and a discovery through the daemon's gRPC API. Asserts what that person would
 * check (it worked, the checks, the schemas and relations of the seed, the data source file),
 * never how long anything took.
 */

/** The seed's relations by schema, with their kinds as the contract names them. */
const SEEDED: Record<string, Record<string, string>> = {
  hr: { departments: 'table', employees: 'table', employee_directory: 'view' },
  inventory: { suppliers: 'table', products: 'table', warehouses: 'table', stock: 'table', low_stock: 'view' },
  sales: {
    customers: 'table',
    orders: 'table',
    order_lines: 'table',
    payments: 'partitioned table',
    payments_2024: 'table',
    payments_2025: 'table',
    payments_default: 'table',
    monthly_revenue: 'materialized view',
  },
};

/** The PostgreSQL connector's checks, in the order it runs them. */
const CHECKS = ['resolve-credentials', 'dns', 'tcp', 'tls', 'authenticate', 'server-version', 'privileges', 'metadata-read', 'latency'];

interface Check {
  id: string;
  status: string;
  message: string;
  details: Record<string, string>;
}
interface RelationLine {
  schema: string;
  name: string;
  kind: string;
  columns: number;
  primaryKey: string[];
  foreignKeys: number;
  indexes: number;
  partitionOf?: string;
}
interface Summary {
  ok: boolean;
  folder: string;
  dataSourceFile: string;
  database: { address: string; version: string; user: string; authenticated: boolean };
  daemon: { address: string; log: string | null };
  validation: { ok: boolean; checks: Check[]; report: { ok: boolean; failed: number } };
  discovery: { ok: boolean; schemas: { name: string; comment: string }[]; relations: RelationLine[]; missing: string[]; warnings: unknown[] };
}

/** PGlite compiles PostgreSQL's WebAssembly at start: seconds, more on a busy machine. */
const DEMO_TIMEOUT_MS = 150_000;

describe('sourced demo', () => {
  const folders: string[] = [];
  afterAll(() => {
    for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  });

  it(
    'validates and discovers the seeded database, prints one JSON summary, and leaves the data source file',
    async () => {
      const r = await runCli(['demo', '--json'], {}, DEMO_TIMEOUT_MS);
      expect(r.code, r.stderr).toBe(0);
      // One JSON document on stdout (the progress goes to stderr).
      const lines = r.stdout.split('\n').filter(Boolean);
      expect(lines).toHaveLength(1);
      const s = JSON.parse(lines[0]) as Summary;
      folders.push(s.folder);
      expect(s.ok).toBe(true);
      expect(s.database.version).toMatch(/^PostgreSQL \d+\.\d+ \(PGlite /);
      // The socket server does not authenticate: the demo says so and connects as postgres.
      expect(s.database).toMatchObject({ user: 'postgres', authenticated: false });

      // Validation: every check ran and none failed; TLS was not asked for (PGlite has none).
      expect(s.validation.ok).toBe(true);
      expect(s.validation.report).toMatchObject({ ok: true, failed: 0 });
      expect(s.validation.checks.map((c) => c.id)).toEqual(CHECKS);
      const check = (id: string) => s.validation.checks.find((c) => c.id === id) as Check;
      expect(check('tls').status).toBe('SKIPPED');
      expect(check('tls').message).toContain('TLS not requested');
      // Latency may warn on a busy machine (it measures time); the others are facts.
      for (const id of CHECKS.filter((c) => c !== 'tls' && c !== 'latency')) expect(check(id).status, `${id}: ${check(id).message}`).toBe('PASSED');
      expect(check('latency').status).not.toBe('FAILED');
      expect(check('authenticate').details).toMatchObject({ user: 'postgres', 'auth.method': 'trust' });
      expect(check('server-version').details.build).toContain('PGlite');

      // Discovery: the three schemas with their comments, and exactly the seeded relations.
      expect(s.discovery.ok).toBe(true);
      expect(s.discovery.missing).toEqual([]);
      expect(s.discovery.warnings).toEqual([]);
      for (const schema of Object.keys(SEEDED)) {
        const found = s.discovery.schemas.find((x) => x.name === schema);
        expect(found, `schema ${schema}`).toBeDefined();
        expect(found?.comment).not.toBe('');
        const relations = s.discovery.relations.filter((rel) => rel.schema === schema);
        expect(Object.fromEntries(relations.map((rel) => [rel.name, rel.kind]))).toEqual(SEEDED[schema]);
      }
      // Nothing discovered outside the seed (PGlite's public schema is empty).
      expect(s.discovery.relations.every((rel) => rel.schema in SEEDED)).toBe(true);
      const rel = (name: string) => s.discovery.relations.find((x) => `${x.schema}.${x.name}` === name) as RelationLine;
      expect(rel('sales.order_lines')).toMatchObject({ primaryKey: ['order_id', 'line_no'], foreignKeys: 2 });
      expect(rel('sales.payments_2024').partitionOf).toBe('sales.payments');
      expect(rel('inventory.stock').indexes).toBe(3); // the primary key, stock_product_idx, the partial stock_low_idx

      // The data source file stays, as JSON the CLI can read.
      expect(existsSync(s.dataSourceFile)).toBe(true);
      const file = JSON.parse(readFileSync(s.dataSourceFile, 'utf8')) as Record<string, unknown>;
      expect(file).toMatchObject({
        type: 'postgres',
        primary: { host: '127.0.0.1', port: Number(s.database.address.split(':')[1]), database: 'postgres' },
        credentials: { username: 'postgres' },
        ssl_config: { mode: 'SSL_MODE_DISABLE' },
      });
      // The daemon's log went to the file the summary names, and says it listened.
      expect(s.daemon.log).not.toBeNull();
      expect(readFileSync(s.daemon.log as string, 'utf8')).toContain('"msg":"sourced listening"');
    },
    DEMO_TIMEOUT_MS + 10_000,
  );

  it(
    '--keep keeps the daemon running for `sourced discover` until Ctrl-C, then cleans up and exits 0',
    async () => {
      const child = spawn(process.execPath, [SOURCED_BIN, 'demo', '--keep'], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
      child.stderr.setEncoding('utf8').on('data', (t: string) => (err += t));
      captureSource('sourced demo --keep output', () => `${out}\n${err}`);
      const exited = new Promise<Exit>((done) => child.once('exit', (code, signal) => done({ code, signal })));
      try {
        // Wait for the line that says it is ready.
        const running = await new Promise<RegExpExecArray>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no "Running:" line; stdout:\n${out}\nstderr:\n${err}`)), DEMO_TIMEOUT_MS);
          const look = () => {
            const m = /^Running: daemon (\S+), database (\S+)\. Ctrl-C to stop\.$/m.exec(out);
            if (m) {
              clearTimeout(timer);
              resolve(m);
            }
          };
          child.stdout.on('data', look);
          void exited.then((e) => {
            clearTimeout(timer);
            reject(new Error(`sourced demo --keep exited (${e.code ?? e.signal}) before it was ready; stdout:\n${out}\nstderr:\n${err}`));
          });
        });
        const address = running[1];
        const file = /^ {2}source {5}(\S+)$/m.exec(out)?.[1] as string;
        expect(file).toBeDefined();
        const folder = file.slice(0, file.lastIndexOf('/'));
        folders.push(folder);
        expect(out).toMatch(/found all 16 relations of the seed in 3 schemas/);

        // The user pokes it with the CLI, as the demo suggests.
        const discovered = await runCli(['discover', file, '--address', address, '--json', '--include-schema', 'sales'], {}, 60_000);
        expect(discovered.code, discovered.stderr).toBe(0);
        const names = discovered.stdout
          .split('\n')
          .filter(Boolean)
          .flatMap((line) => ((JSON.parse(line) as { batch?: { relations?: { name: string }[] } }).batch?.relations ?? []).map((r) => r.name));
        expect(names.sort()).toEqual(Object.keys(SEEDED.sales).sort());

        // Ctrl-C: everything stops, the folder goes, exit 0 (the demo had passed).
        child.kill('SIGINT');
        const exit = await exited;
        expect(exit, err).toEqual({ code: 0, signal: null });
        expect(out).toContain('Stopping the daemon and the database');
        expect(existsSync(folder)).toBe(false);
        expect(err).not.toMatch(/error|unhandled/i);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    },
    DEMO_TIMEOUT_MS + 60_000,
  );
});
