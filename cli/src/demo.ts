import { credentials, Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { PGlite } from '@electric-sql/pglite';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { RunningDaemon } from 'sourced';
import type { DataSource } from '@sourced/api';
import {
  DataSourceServiceClient,
  DiscoverDataSourceRequest,
  ValidateDataSourceRequest,
  type DiscoverDataSourceResponse,
  type ValidateDataSourceResponse,
} from '@sourced/api';
import { relationKindToJSON, type DiscoverySummary, type Relation, type Schema } from '@sourced/api';
import { checkStatusToJSON, type CheckFinished, type ValidationReport, type ValidationSummary } from '@sourced/api';
import { VERSION } from 'sourced/parts';
import { readDataSourceFile } from './dataSourceFile';
import { DEMO_READER, DEMO_RELATIONS, DEMO_SCHEMA_SQL, DEMO_SCHEMAS, type DemoRelationKind } from './demoSchema';

/**
 * `sourced demo`: the daemon with an embedded PostgreSQL (PGlite, PostgreSQL compiled to
 * WebAssembly, served over TCP by pglite-socket), seeded with a sample shop, validated and
 * discovered through the daemon's real gRPC API, so that a newcomer sees everything work
 * without a database of their own.
 */

const USAGE = `sourced demo: the daemon and an embedded PostgreSQL with a sample database, validated and discovered

Usage:
  sourced demo [--keep] [--port N] [--json] [--verbose]

Starts PGlite (PostgreSQL in WebAssembly, in memory) on 127.0.0.1, seeds it with a small shop
(schemas hr, inventory and sales), starts the daemon, and validates and discovers the database
through the daemon's gRPC API, as a data platform would. Nothing to install, nothing left running;
the data source file and the daemon's log stay in a temporary folder (with --keep, Ctrl-C removes it).

  --keep       keep the daemon and the database running until Ctrl-C, to try them with
               grpcurl, buf curl or \`sourced discover\`
  --port N     the daemon's port (default: a free one)
  --json       print one JSON summary instead of the report
  --verbose    the daemon's log on stderr (default: a file in the demo's folder)

Exit codes: 0 the database validated and discovery found everything seeded, 1 otherwise,
2 bad input, 4 the demo could not start, 130 interrupted.`;

const FLAGS = {
  keep: { type: 'boolean' },
  port: { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const;

const EXIT = { OK: 0, FAILED: 1, BAD_INPUT: 2, ERROR: 4, INTERRUPTED: 130 } as const;

/** The name of the data source file the demo writes into its folder. */
export const DEMO_SOURCE_FILE = 'demo-shop.json';

/** What PGlite's socket server checks at login: nothing (see {@link AUTH_NOTE}). */
const DEMO_USER = 'postgres';
const AUTH_NOTE =
  `PGlite's socket server does not authenticate: any user name and password is let in, as the one ` +
  `user of the embedded database ("postgres", a superuser). The demo therefore connects as postgres. ` +
  `The seed's read-only role ${DEMO_READER.user} exists, with its grants, but cannot be logged in as here; ` +
  `on a real server it is the user to give sourced.`;

class InterruptedError extends Error {
  constructor() {
    super('interrupted');
  }
}

interface CheckLine {
  id: string;
  title: string;
  status: string;
  durationMs: number;
  message: string;
  hint?: string;
  details: Record<string, string>;
}

interface RelationLine {
  schema: string;
  name: string;
  kind: string;
  comment: string;
  columns: number;
  primaryKey: string[];
  foreignKeys: number;
  indexes: number;
  estimatedRows: number;
  partitionOf?: string;
  partitions: number;
}

interface SchemaLine {
  name: string;
  comment: string;
  usable: boolean;
}

/** The summary `--json` prints, also what the report is made of. */
export interface DemoSummary {
  ok: boolean;
  keep: boolean;
  folder: string;
  dataSourceFile: string;
  database: {
    address: string;
    version: string;
    user: string;
    authenticated: false;
    note: string;
    /** How long PGlite took to start (compiling PostgreSQL's WebAssembly, initdb in memory). */
    startMs: number;
    seed: { schemas: number; relations: number; rows: number; durationMs: number };
    readOnlyRole: string;
  };
  daemon: { address: string; version: string; log: string | null };
  validation: {
    ok: boolean;
    durationMs: number;
    checks: CheckLine[];
    report?: { address: string; ok: boolean; passed: number; failed: number; warnings: number; skipped: number };
  };
  discovery: {
    ok: boolean;
    durationMs: number;
    schemas: SchemaLine[];
    relations: RelationLine[];
    summary?: { schemas: number; relations: number; tables: number; views: number; columns: number; batches: number; warnings: number };
    warnings: { code: string; message: string }[];
    /** Seeded relations discovery did not report (`schema.name`), or reported with another kind. */
    missing: string[];
  };
}

export async function demoCommand(argv: string[]): Promise<number> {
  let values: { keep?: boolean; port?: string; json?: boolean; verbose?: boolean; help?: boolean };
  try {
    values = parseArgs({ args: argv, options: FLAGS, allowPositionals: false, strict: true }).values;
  } catch (error) {
    process.stderr.write(`sourced demo: ${(error as Error).message}\n`);
    return EXIT.BAD_INPUT;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.OK;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`sourced demo: --port: "${values.port}" is not a port number (0-65535)\n`);
    return EXIT.BAD_INPUT;
  }
  const demo = new Demo({ keep: values.keep === true, port, json: values.json === true, verbose: values.verbose === true });
  return demo.run();
}

interface DemoOptions {
  keep: boolean;
  port: number;
  json: boolean;
  verbose: boolean;
}

class Demo {
  private readonly folder = mkdtempSync(join(tmpdir(), 'sourced-demo-'));
  private readonly interrupt = new AbortController();
  private db?: PGlite;
  private socketServer?: PGLiteSocketServer;
  private daemon?: RunningDaemon;
  private client?: DataSourceServiceClient;
  private log?: WriteStream;
  private signals = 0;

  constructor(private readonly options: DemoOptions) {}

  /** Human progress: stdout for the report, stderr under --json so that stdout stays one document. */
  private say(text: string): void {
    (this.options.json ? process.stderr : process.stdout).write(`${text}\n`);
  }

  async run(): Promise<number> {
    const onSignal = () => {
      this.signals++;
      if (this.signals > 1) {
        // A second Ctrl-C while cleaning up: the user wants out now.
        process.stderr.write('sourced demo: interrupted again; exiting without cleaning up\n');
        process.exit(EXIT.INTERRUPTED);
      }
      this.interrupt.abort(new InterruptedError());
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let code: number = EXIT.ERROR;
    let removeFolder = true;
    try {
      const summary = await this.start();
      code = summary.ok ? EXIT.OK : EXIT.FAILED;
      if (this.options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else this.print(summary);
      if (this.options.keep) {
        // Until Ctrl-C (or SIGTERM): then everything goes, the folder too.
        await new Promise<void>((resolve) => {
          if (this.interrupt.signal.aborted) resolve();
          this.interrupt.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        this.say('\nStopping the daemon and the database, removing the demo folder.');
      } else {
        // The run is over: the database goes, the data source file and the log stay to look at.
        removeFolder = false;
      }
    } catch (error) {
      if (error instanceof InterruptedError || this.interrupt.signal.aborted) {
        process.stderr.write('sourced demo: interrupted; cleaning up\n');
        code = EXIT.INTERRUPTED;
      } else {
        process.stderr.write(`sourced demo: ${(error as Error)?.message ?? String(error)}\n`);
        if (this.log) {
          process.stderr.write(`  the daemon's log: ${join(this.folder, 'daemon.log')}\n`);
          removeFolder = false;
        }
        code = EXIT.ERROR;
      }
    } finally {
      await this.cleanup(removeFolder);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return code;
  }

  /**
   * Awaits a start-up step, then stops the run if Ctrl-C came meanwhile. The step is never
   * abandoned half-way: what it started (PGlite, the daemon) is stored first, so cleanup stops it.
   */
  private async step<T>(work: Promise<T>): Promise<T> {
    const value = await work;
    this.checkpoint();
    return value;
  }

  private checkpoint(): void {
    if (this.interrupt.signal.aborted) throw new InterruptedError();
  }

  private async start(): Promise<DemoSummary> {
    // Loaded here: the other commands need neither PGlite (a WebAssembly build of PostgreSQL)
    // nor the daemon's dependencies.
    const { PGlite } = require('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
    const { PGLiteSocketServer } = require('@electric-sql/pglite-socket') as typeof import('@electric-sql/pglite-socket');
    const { startDaemon } = require('sourced') as typeof import('sourced');
    const { DEFAULT_CONFIG } = require('sourced') as typeof import('sourced');

    if (!this.options.json) this.say(`sourced demo: PostgreSQL in WebAssembly (PGlite), a sample shop database, and the sourced daemon\n`);
    this.say('Starting PGlite and loading the sample shop...');
    const started = performance.now();
    this.checkpoint();
    const db = (this.db = await PGlite.create());
    this.checkpoint();
    const startMs = performance.now() - started;
    const seedStarted = performance.now();
    await this.step(db.exec(DEMO_SCHEMA_SQL));
    const [facts] = (
      await this.step(
        db.query<{ version: string; relations: number; rows: number }>(
          `SELECT version() AS version,
                  count(*)::int AS relations,
                  coalesce(sum(c.reltuples) FILTER (WHERE c.relkind = 'r'), 0)::int AS rows
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = ANY ($1) AND c.relkind IN ('r', 'p', 'v', 'm')`,
          [[...DEMO_SCHEMAS]],
        ),
      )
    ).rows;
    const seedMs = performance.now() - seedStarted;

    // PGlite is one backend: the socket server multiplexes connections onto it, one message at a
    // time (their session settings are shared). Discovery may open several connections (a
    // strategy's parallel reads), and with --keep several commands may run at once; the
    // server's default of 1 connection would turn all but the first away.
    const socketServer = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 64 });
    this.socketServer = socketServer;
    await this.step(socketServer.start());
    const pgAddress = socketServer.getServerConn();
    const pgPort = Number(pgAddress.slice(pgAddress.lastIndexOf(':') + 1));

    // The data source, as a file the user can reuse (`sourced validate FILE`): the demo itself
    // reads it back the way the CLI does.
    const dataSourceFile = join(this.folder, DEMO_SOURCE_FILE);
    writeFileSync(
      dataSourceFile,
      `${JSON.stringify(
        {
          id: 'sourced-demo-shop',
          name: 'sourced demo: sample shop on PGlite',
          type: 'postgres',
          location: 'LOCATION_ON_PREM',
          primary: { host: '127.0.0.1', port: pgPort, database: 'postgres' },
          // No password: PGlite's socket server asks for none (trust).
          credentials: { username: DEMO_USER },
          // PGlite's socket server has no TLS (it answers the SSLRequest with 'N'); on a trusted
          // loopback connection that is fine, anywhere else use SSL_MODE_VERIFY_FULL.
          ssl_config: { mode: 'SSL_MODE_DISABLE' },
        },
        null,
        2,
      )}\n`,
    );
    const dataSource = readDataSourceFile(dataSourceFile);

    this.say('Starting the daemon...');
    const logFile = this.options.verbose ? null : join(this.folder, 'daemon.log');
    if (logFile) this.log = createWriteStream(logFile, { flags: 'a' }).on('error', () => undefined);
    const log = this.log;
    // Lines logged while the daemon stops come after the stream ended (cleanup): dropped.
    const logSink = log ? (line: string) => void (log.writableEnded || log.write(`${line}\n`)) : undefined;
    const config = structuredClone(DEFAULT_CONFIG);
    config.listen = `127.0.0.1:${this.options.port}`;
    config.shutdownGraceMs = 2_000;
    this.daemon = await startDaemon({ config, logSink });
    this.checkpoint();
    const daemonAddress = this.daemon.address;
    this.client = new DataSourceServiceClient(daemonAddress, credentials.createInsecure());

    const validation = await this.validate(dataSource);
    const discovery = await this.discover(dataSource);
    const version = /^PostgreSQL \S+( \(PGlite [^)]*\))?/.exec(facts.version)?.[0] ?? facts.version;
    return {
      ok: validation.ok && discovery.ok,
      keep: this.options.keep,
      folder: this.folder,
      dataSourceFile,
      database: {
        address: pgAddress,
        version,
        user: DEMO_USER,
        authenticated: false,
        note: AUTH_NOTE,
        startMs: round(startMs),
        seed: { schemas: DEMO_SCHEMAS.length, relations: facts.relations, rows: facts.rows, durationMs: round(seedMs) },
        readOnlyRole: DEMO_READER.user,
      },
      daemon: { address: daemonAddress, version: VERSION, log: logFile },
      validation,
      discovery,
    };
  }

  /** Drains a server stream, cancelling it on Ctrl-C. */
  private async drain<T>(stream: ClientReadableStream<T>, each: (message: T) => void): Promise<void> {
    const onAbort = () => stream.cancel();
    this.interrupt.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const message of stream as AsyncIterable<T>) each(message);
    } catch (error) {
      if (this.interrupt.signal.aborted) throw new InterruptedError();
      throw error;
    } finally {
      this.interrupt.signal.removeEventListener('abort', onAbort);
    }
    if (this.interrupt.signal.aborted) throw new InterruptedError();
  }

  private async validate(dataSource: DataSource): Promise<DemoSummary['validation']> {
    this.say('Validating the database through the daemon (ValidateDataSource)...');
    const client = this.client as DataSourceServiceClient;
    const checks: CheckLine[] = [];
    let report: ValidationReport | undefined;
    let summary: ValidationSummary | undefined;
    const stream = client.validateDataSource(ValidateDataSourceRequest.fromPartial({ dataSource }), new Metadata(), {
      deadline: Date.now() + 60_000,
    });
    await this.drain<ValidateDataSourceResponse>(stream, (message) => {
      const e = message.event;
      if (e?.$case === 'checkFinished') checks.push(checkLine(e.value));
      else if (e?.$case === 'report') report = e.value;
      else if (e?.$case === 'summary') summary = e.value;
    });
    return {
      ok: summary?.ok === true,
      durationMs: round(summary?.durationMs ?? 0),
      checks,
      report: report && {
        address: report.address,
        ok: report.ok,
        passed: report.passed,
        failed: report.failed,
        warnings: report.warnings,
        skipped: report.skipped,
      },
    };
  }

  private async discover(dataSource: DataSource): Promise<DemoSummary['discovery']> {
    this.say('Discovering it (DiscoverDataSource)...');
    const client = this.client as DataSourceServiceClient;
    const schemas: SchemaLine[] = [];
    const relations: RelationLine[] = [];
    const warnings: { code: string; message: string }[] = [];
    let summary: DiscoverySummary | undefined;
    const stream = client.discoverDataSource(DiscoverDataSourceRequest.fromPartial({ dataSource }), new Metadata(), {
      deadline: Date.now() + 120_000,
    });
    await this.drain<DiscoverDataSourceResponse>(stream, (message) => {
      const e = message.event;
      if (e?.$case === 'schemas') schemas.push(...e.value.schemas.map(schemaLine));
      else if (e?.$case === 'batch') relations.push(...e.value.relations.map(relationLine));
      else if (e?.$case === 'warning') warnings.push({ code: e.value.code, message: e.value.message });
      else if (e?.$case === 'summary') summary = e.value;
    });
    for (const r of relations) {
      if (r.partitionOf === undefined) r.partitions = relations.filter((p) => p.partitionOf === `${r.schema}.${r.name}`).length;
    }
    const found = new Map(relations.map((r) => [`${r.schema}.${r.name}`, r.kind]));
    const missing: string[] = [];
    for (const [schema, seeded] of Object.entries(DEMO_RELATIONS)) {
      if (!schemas.some((s) => s.name === schema)) missing.push(schema);
      for (const [name, kind] of Object.entries(seeded) as [string, DemoRelationKind][]) {
        const got = found.get(`${schema}.${name}`);
        if (got !== kind) missing.push(got === undefined ? `${schema}.${name}` : `${schema}.${name} (a ${got}, not a ${kind})`);
      }
    }
    return {
      ok: summary !== undefined && !summary.stoppedEarly && missing.length === 0,
      durationMs: round(summary?.durationMs ?? 0),
      schemas,
      relations,
      summary: summary && {
        schemas: summary.schemas,
        relations: summary.relations,
        tables: summary.tables,
        views: summary.views,
        columns: summary.columns,
        batches: summary.batches,
        warnings: summary.warnings,
      },
      warnings,
      missing,
    };
  }

  /** The report for a person. */
  private print(s: DemoSummary): void {
    const out: string[] = [];
    const rows = s.database.seed.rows.toLocaleString('en-US');
    out.push('');
    out.push(`  database   ${s.database.version} at ${s.database.address}`);
    out.push(`             started in ${fmtMs(s.database.startMs)}, seeded in ${fmtMs(s.database.seed.durationMs)}: ${s.database.seed.schemas} schemas, ${s.database.seed.relations} relations, ${rows} rows`);
    out.push(`  daemon     sourced ${s.daemon.version} at ${s.daemon.address}${s.daemon.log ? ` (log: ${s.daemon.log})` : ''}`);
    out.push(`  source     ${s.dataSourceFile}`);
    out.push('');
    out.push(...wrap(`Note: ${s.database.note}`, 92, '  '));
    out.push('');

    out.push('Validation');
    for (const c of s.validation.checks) {
      const mark = { PASSED: 'ok  ', FAILED: 'FAIL', WARNING: 'warn', SKIPPED: 'skip' }[c.status] ?? c.status;
      out.push(`  [${mark}] ${c.title} (${c.durationMs.toFixed(1)} ms): ${c.message}`);
      if (c.hint && c.status !== 'PASSED') out.push(`         hint: ${c.hint}`);
    }
    const r = s.validation.report;
    if (r) out.push(`  primary ${r.address}: ${r.ok ? 'OK' : 'FAILED'} (${r.passed} passed, ${r.failed} failed, ${r.warnings} warnings, ${r.skipped} skipped)`);
    out.push(`  ${s.validation.ok ? 'valid' : 'NOT valid'} in ${fmtMs(s.validation.durationMs)}`);
    out.push('');

    out.push('Discovery');
    const bySchema = new Map<string, RelationLine[]>();
    for (const rel of s.discovery.relations) bySchema.set(rel.schema, [...(bySchema.get(rel.schema) ?? []), rel]);
    const width = Math.max(0, ...s.discovery.relations.map((rel) => rel.name.length + (rel.partitionOf ? 3 : 0))) + 2;
    for (const schema of s.discovery.schemas) {
      const rels = bySchema.get(schema.name) ?? [];
      out.push(`  ${schema.name}${schema.comment ? `  -- ${schema.comment}` : ''}${schema.usable ? '' : ' (not usable)'}${rels.length === 0 ? '  (empty)' : ''}`);
      const top = rels.filter((rel) => !rel.partitionOf || !rels.some((p) => `${p.schema}.${p.name}` === rel.partitionOf));
      top.forEach((rel, i) => {
        const last = i === top.length - 1;
        out.push(`  ${last ? '└─' : '├─'} ${rel.name.padEnd(width)}${describeRelation(rel)}`);
        const parts = rels.filter((p) => p.partitionOf === `${rel.schema}.${rel.name}`);
        parts.forEach((p, j) => out.push(`  ${last ? '  ' : '│ '} ${j === parts.length - 1 ? '└─' : '├─'} ${p.name.padEnd(width - 3)}${describeRelation(p)}`));
      });
    }
    for (const w of s.discovery.warnings) out.push(`  warning ${w.code}: ${w.message}`);
    const d = s.discovery.summary;
    if (d) out.push(`  ${d.schemas} schemas, ${d.tables} tables, ${d.views} views, ${d.columns} columns in ${d.batches} ${d.batches === 1 ? 'batch' : 'batches'}, ${fmtMs(s.discovery.durationMs)}`);
    const seeded = Object.values(DEMO_RELATIONS).reduce((n, rels) => n + Object.keys(rels).length, 0);
    out.push(
      s.discovery.missing.length === 0
        ? `  found all ${seeded} relations of the seed in ${DEMO_SCHEMAS.length} schemas`
        : `  MISSING from discovery: ${s.discovery.missing.join(', ')}`,
    );
    out.push('');

    out.push(s.ok ? 'The demo worked: the daemon validated the database and discovered everything in it.' : 'The demo did NOT work as it should: see the FAIL lines and MISSING above.');
    out.push('');
    out.push('What next');
    const addr = s.daemon.address;
    const file = s.dataSourceFile;
    if (s.keep) {
      out.push(`  The daemon listens on ${addr} and the database on ${s.database.address} until Ctrl-C. Try:`);
      out.push(`    npx buf curl --protocol grpc --http2-prior-knowledge http://${addr}/sourced.v1.PluginService/ListPlugins`);
      out.push(`    npx buf curl --protocol grpc --http2-prior-knowledge -d "{\\"data_source\\": $(cat ${file})}" \\`);
      out.push(`      http://${addr}/sourced.v1.DataSourceService/ValidateDataSource`);
      out.push(`    grpcurl -plaintext ${addr} list`);
      out.push(`    npx sourced validate ${file} --address ${addr}`);
      out.push(`    npx sourced discover ${file} --address ${addr} --include-schema sales`);
      out.push(`  Ctrl-C stops both and removes ${s.folder}.`);
    } else {
      out.push(
        ...wrap(
          `The daemon and the database have stopped; \`sourced demo --keep\` keeps them running, to try them with grpcurl, buf curl and \`sourced discover\`. ` +
            `The data source the demo used is ${file}${s.daemon.log ? ", the daemon's log is next to it" : ''}.`,
          100,
          '  ',
        ),
      );
    }
    out.push(
      ...wrap(
        `For your own database: start the daemon (\`npm start\`, or \`sourced serve\`), describe the database in a file like ${DEMO_SOURCE_FILE} ` +
          '(host, port, database, credentials, the password as a reference such as "env://PG_PASSWORD"), and run:',
        100,
        '  ',
      ),
    );
    out.push('    npx sourced validate FILE');
    out.push('    npx sourced discover FILE');
    out.push(...wrap(`Give sourced a read-only role like the seed's ${DEMO_READER.user}: it needs to log in and USAGE on the schemas, nothing more.`, 100, '  '));
    process.stdout.write(`${out.join('\n')}\n`);
    if (this.options.keep) process.stdout.write(`\nRunning: daemon ${addr}, database ${s.database.address}. Ctrl-C to stop.\n`);
  }

  private async cleanup(removeFolder: boolean): Promise<void> {
    const quietly = async (work: () => Promise<unknown> | unknown) => {
      try {
        await work();
      } catch {
        // best effort: everything else still gets cleaned up
      }
    };
    await quietly(() => this.client?.close());
    await quietly(() => this.daemon?.stop());
    await quietly(() => this.socketServer?.stop());
    await quietly(() => this.db?.close());
    await quietly(() => new Promise<void>((resolve) => (this.log ? this.log.end(() => resolve()) : resolve())));
    if (removeFolder) await quietly(() => rmSync(this.folder, { recursive: true, force: true }));
  }
}

function checkLine(c: CheckFinished): CheckLine {
  return {
    id: c.checkId,
    title: c.title,
    status: checkStatusToJSON(c.status).replace('CHECK_STATUS_', ''),
    durationMs: round(c.durationMs),
    message: c.message,
    ...(c.hint ? { hint: c.hint } : {}),
    details: c.details,
  };
}

function schemaLine(s: Schema): SchemaLine {
  return { name: s.name, comment: s.comment, usable: s.usable };
}

function relationLine(r: Relation): RelationLine {
  return {
    schema: r.schema,
    name: r.name,
    kind: relationKindToJSON(r.kind).replace('RELATION_KIND_', '').toLowerCase().replace(/_/g, ' '),
    comment: r.comment,
    columns: r.columns.length,
    primaryKey: r.primaryKey?.columns ?? [],
    foreignKeys: r.foreignKeys.length,
    indexes: r.indexes.length,
    estimatedRows: r.estimatedRows,
    ...(r.partitionOf ? { partitionOf: r.partitionOf } : {}),
    partitions: r.partitions.length,
  };
}

function describeRelation(r: RelationLine): string {
  const parts = [r.partitionOf ? 'partition' : r.kind, `${r.columns} columns`];
  if (r.foreignKeys) parts.push(`${r.foreignKeys} foreign ${r.foreignKeys === 1 ? 'key' : 'keys'}`);
  if (r.indexes) parts.push(`${r.indexes} ${r.indexes === 1 ? 'index' : 'indexes'}`);
  if (r.estimatedRows >= 0) parts.push(`~${Math.round(r.estimatedRows).toLocaleString('en-US')} rows`);
  return parts.join(', ');
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
}
