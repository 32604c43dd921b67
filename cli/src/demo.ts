import { credentials, Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { RunningDaemon } from '@sourced/daemon';
import type { DataSource } from '@sourced/api';
import {
  DataSourceServiceClient,
  DiscoverDataSourceRequest,
  ValidateDataSourceRequest,
  type DiscoverDataSourceResponse,
  type ValidateDataSourceResponse,
} from '@sourced/api';
import type { DiscoverySummary, ValidationReport, ValidationSummary } from '@sourced/api';
import { VERSION } from '@sourced/daemon/parts';
import { readDataSourceFile } from './dataSourceFile';
import {
  checkLine,
  DEMO_SOURCE_FILE,
  printReport,
  relationLine,
  round,
  schemaLine,
  type CheckLine,
  type DemoSummary,
  type RelationLine,
  type SchemaLine,
} from './demoReport';
import { DEMO_READER, DEMO_RELATIONS, DEMO_SCHEMA_SQL, DEMO_SCHEMAS, type DemoRelationKind } from './demoSchema';

/**
 * `sourced demo`: the daemon with an embedded PostgreSQL (PGlite, PostgreSQL compiled to
 * WebAssembly, served over TCP by pglite-socket), seeded with a sample shop, validated and
 * discovered through the daemon's real gRPC API, so that a newcomer sees everything work
 * without a database of their own.
 */

const EXIT = { OK: 0, FAILED: 1, ERROR: 4, INTERRUPTED: 130 } as const;

export { DEMO_SOURCE_FILE };

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

/** The flags of `sourced demo`. */
export interface DemoOptions {
  keep?: boolean;
  port?: number;
  json?: boolean;
  verbose?: boolean;
  /** --source FILE: write the data source there too (kept), for the commands that follow. */
  source?: string;
}

export async function runDemo(options: DemoOptions): Promise<number> {
  const demo = new Demo({
    keep: options.keep === true,
    port: options.port ?? 0,
    json: options.json === true,
    verbose: options.verbose === true,
    source: options.source === undefined ? undefined : resolve(options.source),
  });
  return demo.run();
}

interface DemoSettings {
  keep: boolean;
  port: number;
  json: boolean;
  verbose: boolean;
  source?: string;
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

  constructor(private readonly options: DemoSettings) {}

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
    let code: number;
    let removeFolder = true;
    try {
      const summary = await this.start();
      code = summary.ok ? EXIT.OK : EXIT.FAILED;
      if (this.options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else printReport(summary);
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
        process.stderr.write(`sourced demo: ${(error as Partial<Error> | null | undefined)?.message ?? String(error)}\n`);
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
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: only the demo needs PGlite
    const { PGlite } = require('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: only the demo needs PGlite
    const { PGLiteSocketServer } = require('@electric-sql/pglite-socket') as typeof import('@electric-sql/pglite-socket');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: the daemon's dependencies slow every other command's start-up
    const { startDaemon, DEFAULT_CONFIG } = require('@sourced/daemon') as typeof import('@sourced/daemon');

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
    const dataSourceFile = this.options.source ?? join(this.folder, DEMO_SOURCE_FILE);
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
    const logSink = log
      ? (line: string) => {
          if (!log.writableEnded) log.write(`${line}\n`);
        }
      : undefined;
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
      for (const [name, kind] of Object.entries<DemoRelationKind>(seeded)) {
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

  private async cleanup(removeFolder: boolean): Promise<void> {
    const quietly = async (work: () => unknown) => {
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
