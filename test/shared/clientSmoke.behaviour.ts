import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, inject, it, type ExpectStatic } from 'vitest';
import { superuserQuery } from '../support/pg';
import { captureText } from '../support/secretScan';
import { startTestDaemon, type TestDaemon } from '../support/testDaemon';

/**
 * What every client in another language does against an in-process daemon (test/e2e/go.test.ts,
 * test/e2e/java.test.ts): build from proto/sourced/v1 offline, then one run of the client's smoke
 * program over health, ListPlugins, Validate, Discover (cancelled mid-stream, then resumed from
 * its cursor), Preview, Profile, a bad request and a missed deadline; the program prints one JSON
 * line per event or error, which the cases below check against the daemon and the database.
 */

/** A client in another language, as the shared cases run it. */
export interface ClientUnderTest {
  /** For people: `Go`, `Java`. */
  language: string;
  /** Its folder, holding `build.sh`. */
  folder: string;
  /** The command that runs its smoke program (request JSON on stdin). */
  run: string[];
  /** How it is built, for the first case's name (`builds`, `compiles`). */
  builds: string;
  /** What is missing to build it on this machine (the skip reason), or undefined. */
  missingTools(): string | undefined;
  /** Checks the generated code: one entry per contract file. */
  expectGenerated(expect: ExpectStatic, protos: { file: string; text: string }[], built: Run): void;
  /** How the client's gRPC library spells these status codes. */
  codes: { cancelled: string; invalidArgument: string; deadlineExceeded: string };
}

/** Whether a tool is on PATH. */
export function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => existsSync(resolve(dir, tool)));
}

export const ROOT = resolve(__dirname, '../..');
/** The made-up caller trace the smoke programs send. */
export const TRACE_ID = '5ce0e9a56015fec5aadfa328ae398115';
export const CHECKS = ['resolve-credentials', 'dns', 'tcp', 'tls', 'authenticate', 'server-version', 'privileges', 'metadata-read', 'latency'];
/** Every relation of the PostgreSQL fixture the test role may see (as in postgres.discover.test.ts). */
export const RELATIONS = [
  'inventory.products',
  'inventory.stock',
  'inventory.supplier_feed',
  'inventory.warehouses',
  'sales.customer_order_totals',
  'sales.customers',
  'sales.daily_revenue',
  'sales.events',
  'sales.events_2024_h1',
  'sales.events_2024_h2',
  'sales.order_lines',
  'sales.orders',
];
const TABLE = { schema: 'sales', name: 'customers' };

export type Json = Record<string, any>;
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop (the daemon under test is in this process). */
export function run(command: string, args: string[], stdin = '', env?: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: ROOT, ...(env ? { env } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

export function describeClientSmoke(client: ClientUnderTest): void {
  describe(`${client.language} client (${client.folder}) against an in-process daemon`, () => {
    const pg = inject('postgres');
    let missing: string | undefined;
    let built: Run;
    let smoke: Run;
    let lines: Json[] = [];
    let t: TestDaemon | undefined;
    const of = (call: string) => lines.filter((l) => l.call === call);
    const events = (call: string) =>
      of(call)
        .filter((l) => l.event)
        .map((l) => l.event as Json);
    const errorOf = (call: string) => of(call).find((l) => l.error)?.error as Json | undefined;

    beforeAll(async () => {
      missing = client.missingTools();
      if (missing) return;
      built = await run('bash', [`${client.folder}/build.sh`]);
      if (built.code !== 0) return;
      t = await startTestDaemon();
      const request = {
        address: t.address,
        data_source: {
          id: `${client.language.toLowerCase()}-pg`,
          type: 'postgres',
          primary: { host: pg.host, port: pg.port, database: pg.database },
          credentials: { username: pg.user, password: { inline_value: pg.password } },
        },
        table: TABLE,
      };
      smoke = await run(client.run[0], client.run.slice(1), JSON.stringify(request));
      captureText(`${client.language} client output`, `${smoke.stdout}\n${smoke.stderr}`);
      lines = smoke.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Json);
    }, 600_000);
    afterAll(() => t?.stop());

    it(`generates the code with plain protoc, ${client.builds} offline and runs to the end`, ({ expect, skip }) => {
      skip(missing !== undefined, missing);
      expect(built.code, built.stderr).toBe(0);
      const protos = readdirSync(resolve(ROOT, 'proto/sourced/v1')).filter((f) => f.endsWith('.proto'));
      client.expectGenerated(
        expect,
        protos.map((f) => ({ file: f, text: readFileSync(resolve(ROOT, 'proto/sourced/v1', f), 'utf8') })),
        built,
      );
      expect(smoke.code, smoke.stderr).toBe(0);
      expect(lines.at(-1)).toEqual({ done: true });
    });

    it('checks health and lists the plugins the daemon itself lists', async ({ expect, skip }) => {
      skip(missing !== undefined, missing);
      expect(of('health')).toEqual([{ call: 'health', status: 'SERVING' }]);
      const listed = of('plugins')[0]?.response as Json;
      const own = await t!.listPlugins();
      expect((listed.plugins as Json[]).map((p) => [p.id, p.version])).toEqual(own.map((p) => [p.id, p.version]));
      expect(listed.sdk_version).toMatch(/^\d+\.\d+\.\d+/);
    });

    it('streams every validation event in order, without sequence gaps', ({ expect, skip }) => {
      skip(missing !== undefined, missing);
      const validate = events('validate');
      expect(validate.map((e) => Number(e.sequence))).toEqual(validate.map((_e, i) => i + 1));
      expect(validate.filter((e) => e.check_started).map((e) => e.check_started.check_id)).toEqual(CHECKS);
      const finished = validate.filter((e) => e.check_finished).map((e) => e.check_finished);
      expect(finished.map((c) => c.check_id)).toEqual(CHECKS);
      for (const c of finished) expect(['CHECK_STATUS_PASSED', 'CHECK_STATUS_WARNING', 'CHECK_STATUS_SKIPPED']).toContain(c.status);
      expect(validate.at(-1)?.summary).toMatchObject({ ok: true, endpoints: 1, connector: 'postgres' });
    });

    it('cancels a discovery mid-stream and resumes it from the last cursor', ({ expect, skip }) => {
      skip(missing !== undefined, missing);
      const first = events('discover');
      expect(first.map((e) => Number(e.sequence))).toEqual(first.map((_e, i) => i + 1));
      expect(errorOf('discover-cancelled')).toMatchObject({ code: client.codes.cancelled });
      const cancelled = of('discover-cancelled').find((l) => 'cursor' in l)!;
      const batches = first.filter((e) => e.batch);
      expect(batches).toHaveLength(2);
      expect(cancelled.cursor).toBe(batches[1].batch.cursor);
      const resumed = events('discover-resumed');
      expect(resumed.map((e) => Number(e.sequence))).toEqual(resumed.map((_e, i) => i + 1));
      const names = (es: Json[]) => es.flatMap((e) => (e.batch?.relations ?? []) as Json[]).map((r) => `${r.schema}.${r.name}`);
      // the two batches read, then the rest after the cursor: every relation once, in order
      expect([...names(first), ...names(resumed)]).toEqual(RELATIONS);
      expect(resumed.at(-1)?.summary).toBeDefined();
    });

    it('previews and profiles a table as the database describes it', async ({ expect, skip }) => {
      skip(missing !== undefined, missing);
      const columns = (
        await superuserQuery<{ column_name: string }>(
          pg,
          'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
          [TABLE.schema, TABLE.name],
        )
      ).map((r) => r.column_name);
      const [{ n }] = await superuserQuery<{ n: number }>(pg, `SELECT count(*)::int AS n FROM ${TABLE.schema}.${TABLE.name}`);
      const preview = events('preview');
      expect(preview.map((e) => Number(e.sequence))).toEqual(preview.map((_e, i) => i + 1));
      expect(preview[0].header.columns.map((c: Json) => c.name)).toEqual(columns);
      const rows = preview.flatMap((e) => (e.rows?.rows ?? []) as Json[]);
      expect(rows).toHaveLength(Math.min(3, n));
      for (const row of rows) expect(row.cells).toHaveLength(columns.length);
      expect(preview.at(-1)?.summary).toMatchObject({ rows: Math.min(3, n), limit: 3 });

      const profile = events('profile');
      expect(profile.map((e) => Number(e.sequence))).toEqual(profile.map((_e, i) => i + 1));
      expect(profile[0].header.table).toEqual(TABLE);
      expect(profile.filter((e) => e.column).map((e) => e.column.name)).toEqual(columns);
      expect(profile.at(-1)?.summary).toBeDefined();
    });

    it(`decodes every fault of a bad request from google.rpc details in ${client.language}`, ({ expect, skip }) => {
      skip(missing !== undefined, missing);
      const error = errorOf('invalid')!;
      expect(error).toMatchObject({ code: client.codes.invalidArgument, domain: 'sourced.dev', metadata: { trace_id: TRACE_ID } });
      // the request-level fault and the data source's, together; two kinds, so INVALID_REQUEST and each reason
      expect(error.field_violations.map((v: Json) => v.field)).toEqual(['batch_size', 'data_source.primary.host']);
      expect(error).toMatchObject({ reason: 'INVALID_REQUEST', metadata: { reasons: 'VALUE_OUT_OF_RANGE,INVALID_DATA_SOURCE' } });
    });

    it('ends a call that misses its deadline with DEADLINE_EXCEEDED', ({ expect, skip }) => {
      skip(missing !== undefined, missing);
      expect(errorOf('deadline')).toMatchObject({ code: client.codes.deadlineExceeded });
    });
  });
}
