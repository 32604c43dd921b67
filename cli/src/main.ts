import { credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, VERSION } from 'sourced/parts';
import { DataSourceServiceClient, DiscoverDataSourceResponse, ValidateDataSourceResponse } from '@sourced/api';
import { Collection, DiscoveryStrategy, discoveryStrategyFromJSON, Relation, Schema, type DiscoverySummary } from '@sourced/api';
import { PluginServiceClient, pluginStateToJSON, type ListPluginsResponse } from '@sourced/api';
import { checkStatusToJSON, EndpointRole, endpointRoleToJSON } from '@sourced/api';
import { decodeRichStatus } from '@sourced/api';
import { auditCommand } from './audit';
import { DataSourceFileError, readDataSourceFile } from './dataSourceFile';
import { DiscoveryTree, formatCheck, formatRunning, Output, OutputFileError, ProgressLine, relationKind } from './output';
import { previewFlags, runPreview } from './previewCommand';
import { profileFlags, runProfile } from './profileCommand';

/** Exit codes of the command-line client. */
export const EXIT = { OK: 0, VALIDATION_FAILED: 1, BAD_INPUT: 2, UNREACHABLE: 3, ERROR: 4 } as const;

const EXIT_CODES = 'Exit codes: 0 ok, 1 validation failed, 2 bad input (usage, FILE, INVALID_ARGUMENT), 3 daemon unreachable, 4 other error.';

const DAEMON_FLAGS = `The daemon:
  --address HOST:PORT  where it listens ($SOURCED_ADDRESS, default 127.0.0.1:50051)
  --ca FILE            the CA of its TLS certificate ($SOURCED_CA)
  --cert FILE --key FILE  a client certificate for mutual TLS ($SOURCED_CERT, $SOURCED_KEY)
  --timeout SECONDS    give up after this long (DEADLINE_EXCEEDED, exit 4)`;

const OUTPUT_FLAGS = `  --output FILE        write the output to FILE (created or truncated) instead of stdout;
                       progress stays on stderr
  --no-color           no colours, plain ASCII marks (also NO_COLOR=1; FORCE_COLOR=1 forces colours)`;

const USAGE = `sourced ${VERSION}: validate and discover data sources over gRPC

Usage: sourced COMMAND [FILE] [flags]      (details: sourced help COMMAND, sourced COMMAND --help)

Commands (sourced help COMMAND: all flags and more examples):
  sourced serve [--listen HOST:PORT] [--config FILE] [--plugin MODULE]... [--log-level LEVEL]
      run the daemon
      example: sourced serve --listen 127.0.0.1:50051 --config sourced.yaml
  sourced validate FILE [--json] [--output FILE] [--timeout SECONDS]
      run the connector's checks on a data source: credentials, DNS, TCP, TLS, login, privileges, ...
      example: sourced validate db.yaml
  sourced discover FILE [--format tree|text|ndjson] [--json] [--output FILE] [--include-schema GLOB]...
      list its schemas, tables, views and collections with their columns, keys and indexes
      example: sourced discover db.yaml --format ndjson --output catalog.ndjson
  sourced preview FILE --table SCHEMA.NAME [--column NAME]... [--limit N] [--format table|ndjson] [--json]
      show the first rows of a table, view or collection (masked columns are never read)
      example: sourced preview db.yaml --table sales.orders --limit 20
  sourced profile FILE --table SCHEMA.NAME [--mode statistics|sample] [--sample-rows N] [--column NAME]...
      profile the columns of a table: nulls, distinct values, min/max, common values, histogram
      example: sourced profile db.yaml --table sales.orders --mode sample --sample-rows 5000
  sourced plugins [--json] [--output FILE]
      list the daemon's plugins: connectors, secret providers
      example: sourced plugins --json
  sourced audit verify FILE [--expect-last HASH] [--json]
      check the hash chain of the daemon's audit log
      example: sourced audit verify /var/log/sourced/audit.log
  sourced demo
      start a daemon with an embedded PostgreSQL and show validation and discovery
      example: sourced demo

FILE holds a data source as JSON or YAML, for example:
  { "type": "postgres", "primary": { "host": "db.internal", "port": 5432, "database": "app" },
    "credentials": { "username": "reader", "password": "env://SOURCED_SECRET_APP_DB" } }

The client commands talk to a running daemon: --address HOST:PORT ($SOURCED_ADDRESS, default
127.0.0.1:50051); against TLS --ca FILE, for mutual TLS --cert FILE --key FILE. They print for a
person (colours and live progress on a terminal) or, with --json, one JSON object per event.
${EXIT_CODES}`;

const HELP: Record<string, string> = {
  profile: `Usage: sourced profile FILE --table SCHEMA.NAME [flags]

Profiles the columns of one table, view or collection of the data source in FILE through the
daemon's ProfileTable, printing each column as it completes: null share, distinct values
(~ when estimated), min … max, average width, the most common values and a histogram.

Flags:
  --table SCHEMA.NAME  what to profile (MongoDB: DATABASE.COLLECTION)
  --column NAME        a column to profile, in this order; repeatable (default: all)
  --mode statistics    only what the database keeps (pg_stats, column statistics): reads no
                       table data (the default)
  --mode sample        computed from a bounded sample of --sample-rows rows (default 10000)
  --sample-rows N      rows to sample (at most the daemon's profile.maxSampleRows)
  --json               every stream event as one JSON line (the raw contract)
${OUTPUT_FLAGS}

${DAEMON_FLAGS}

Examples:
  sourced profile db.yaml --table sales.orders
  sourced profile db.yaml --table sales.orders --mode sample --sample-rows 5000
  sourced profile mongo.yaml --table shop.orders --mode sample --json

Exit codes: 0 ok, 2 bad input (an unknown column, too many sample rows), 3 daemon unreachable,
4 other error (an unknown table: NOT_FOUND; a connector that cannot profile).`,

  preview: `Usage: sourced preview FILE --table SCHEMA.NAME [flags]

Shows the first rows of one table, view or collection of the data source in FILE (JSON or YAML)
through the daemon's PreviewTable. The table and columns are looked up in the source's catalog;
columns the daemon masks (names like *password*, *ssn*, *token*) are never read and show as
(masked). Values are exact: big integers and decimals as written, instants with their offset,
bytes as base64, JSON as JSON.

Flags:
  --table SCHEMA.NAME  what to preview (MongoDB: DATABASE.COLLECTION); quote a name holding a dot:
                       --table '"my.schema".orders'
  --column NAME        a column (MongoDB: a top-level field) to show, in this order; repeatable
  --limit N            rows (default: the daemon's preview.defaultRows, 50)
  --strategy NAME      conservative, balanced (default), aggressive or adaptive: its statement timeout
  --format table       aligned columns (the default)
  --format ndjson      one JSON object per row, each value as the contract's Cell ({"integer":"42"})
  --json               every stream event as one JSON line (the raw contract)
${OUTPUT_FLAGS}

${DAEMON_FLAGS}

Examples:
  sourced preview db.yaml --table sales.orders
  sourced preview db.yaml --table sales.customers --column id --column email --limit 10
  sourced preview mongo.yaml --table shop.orders --format ndjson --output orders.ndjson

Exit codes: 0 ok, 2 bad input (an unknown column, a limit over the maximum), 3 daemon
unreachable, 4 other error (an unknown table: NOT_FOUND).`,

  serve: `Usage: sourced serve [--listen HOST:PORT] [--config FILE] [--plugin MODULE]... [--log-level LEVEL]
                     [--shutdown-grace-ms MS]

Runs the daemon: the gRPC services DataSourceService and PluginService. Settings come from, in
increasing precedence: defaults, the config file (--config or $SOURCED_CONFIG; JSON or YAML),
SOURCED_* environment variables, flags. It logs JSON lines on stderr, stops on SIGTERM/SIGINT
(draining calls) and re-reads its TLS files on SIGHUP.

Flags:
  --listen HOST:PORT       where to listen (default 127.0.0.1:50051)
  --config FILE            the config file
  --plugin MODULE          load a plugin (package name, file or folder); repeatable
  --log-level LEVEL        debug, info, warn or error
  --shutdown-grace-ms MS   how long calls may finish after a stop signal

Examples:
  sourced serve
  sourced serve --listen 0.0.0.0:50051 --config /etc/sourced/sourced.yaml
  sourced serve --plugin ./examples/sqlite --log-level debug

Exit codes: 0 stopped by a signal, 2 bad configuration, 4 cannot start (port taken, ...).`,

  validate: `Usage: sourced validate FILE [flags]

Runs the connector's checks on the data source in FILE (JSON or YAML) through the daemon:
credentials, DNS, TCP, TLS, login, permissions, ... Each check is shown as it runs, with its
outcome (ok, FAIL, warn, skip), duration, message and, when it failed, a hint; then a report per
endpoint (primary, secondary) and the verdict.

Flags:
  --json               every stream event as one JSON line (the contract's JSON), for scripts
${OUTPUT_FLAGS}

${DAEMON_FLAGS}

Examples:
  sourced validate db.yaml
  sourced validate db.json --address daemon.internal:50051 --ca ca.pem
  sourced validate db.yaml --json --output validation.ndjson
  sourced validate db.yaml > /dev/null || echo "not valid (exit $?)"

Exit codes: 0 valid, 1 not valid (a check failed), 2 bad input, 3 daemon unreachable, 4 other error.`,

  discover: `Usage: sourced discover FILE [flags]

Reads the catalog of the data source in FILE (JSON or YAML) through the daemon: schemas,
relations (tables, views, materialized views, partitions, foreign tables) with columns, keys and
indexes, and collections of document stores. On a terminal a progress line shows on stderr.

Output (one of):
  --format tree        schema → relations, one line each: kind, columns, pk, fks, indexes, rows
                       (the default on a terminal)
  --format text        one line per schema and relation as they arrive (the default otherwise)
  --format ndjson      one JSON object per entity, {"kind":"schema"|"relation"|"collection", ...}
                       holding the contract's JSON of it; warnings and the summary go to stderr
  --json               every stream event as one JSON line (the raw contract, batch cursors included)
${OUTPUT_FLAGS}

What to read:
  --include-schema GLOB, --exclude-schema GLOB, --include-table GLOB, --exclude-table GLOB
                       filters (repeatable; * and ?); system schemas are always left out
  --strategy NAME      conservative, balanced (default), aggressive or adaptive
  --batch-size N       relations per batch (default: the strategy's)
  --max-entities N     stop after N relations/collections; resume with --resume-after CURSOR
  --resume-after CURSOR  continue after the relation of that cursor

${DAEMON_FLAGS}

Examples:
  sourced discover db.yaml
  sourced discover db.yaml --include-schema 'sales*' --exclude-table 'tmp_*'
  sourced discover db.yaml --format ndjson --output catalog.ndjson
  sourced discover db.yaml --format ndjson | jq -r 'select(.kind == "relation") | .relation.name'
  sourced discover db.yaml --json --max-entities 500

Exit codes: 0 ok, 2 bad input, 3 daemon unreachable, 4 other error.`,

  plugins: `Usage: sourced plugins [flags]

Lists the daemon's plugins: id, version, state, and what each provides (connectors, secret
providers, database tokens); a plugin that failed to load with its error.

Flags:
  --json               the list as one JSON array
${OUTPUT_FLAGS}

${DAEMON_FLAGS}

Examples:
  sourced plugins
  sourced plugins --address daemon.internal:50051 --ca ca.pem --json

Exit codes: 0 ok, 2 bad input, 3 daemon unreachable, 4 other error.`,
};

const CLIENT_FLAGS = {
  address: { type: 'string' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  output: { type: 'string', short: 'o' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function main(argv: string[]): Promise<number> {
  exitQuietlyOnBrokenPipe();
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(rest);
      case 'validate':
        return await validate(rest);
      case 'discover':
        return await discover(rest);
      case 'plugins':
        return await plugins(rest);
      case 'preview':
        return await preview(rest);
      case 'profile':
        return await profile(rest);
      case 'audit':
        return await auditCommand(rest);
      case 'demo':
        return await (require('./demo') as typeof import('./demo')).demoCommand(rest);
      case 'help':
        return await helpCommand(rest);
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        return EXIT.OK;
      case undefined:
        process.stderr.write(`${USAGE}\n`);
        return EXIT.BAD_INPUT;
      case '--version':
      case 'version':
        process.stdout.write(`${VERSION}\n`);
        return EXIT.OK;
      default:
        process.stderr.write(`sourced: unknown command "${command}"\n\n${USAGE}\n`);
        return EXIT.BAD_INPUT;
    }
  } catch (error) {
    return report(error);
  }
}

/** `sourced help [COMMAND]`. */
async function helpCommand(argv: string[]): Promise<number> {
  const [topic, ...extra] = argv;
  if (topic === undefined) return help();
  if (extra.length) throw new UsageError('help takes one COMMAND');
  if (topic === 'audit') return auditCommand(['--help']);
  if (topic === 'demo') return (require('./demo') as typeof import('./demo')).demoCommand(['--help']);
  if (!(topic in HELP)) throw new UsageError(`help: unknown command "${topic}" (one of serve, validate, discover, preview, profile, plugins, audit, demo)`);
  return help(topic);
}

async function serve(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) return help('serve');
  // The config schema (zod) too is loaded only here.
  const config = (require('sourced/config') as typeof import('sourced/config')).loadConfig(argv);
  // Loaded here rather than at the top: the client commands need none of the daemon's
  // dependencies (OpenTelemetry SDK, awilix, plugin loader) and start twice as fast without.
  const { startDaemon } = require('sourced') as typeof import('sourced');
  let daemon: Awaited<ReturnType<typeof startDaemon>>;
  try {
    daemon = await startDaemon({ config });
  } catch (error) {
    // Start-up problems (port taken, bad OTEL_* setting) are the operator's to fix: say what, no stack.
    process.stderr.write(`sourced: cannot start: ${(error as Error).message}\n`);
    return EXIT.ERROR;
  }
  // SIGHUP re-reads the TLS files; a reload that fails keeps the files in use.
  const onReload = () => {
    try {
      daemon.reloadTls();
    } catch (error) {
      process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'reloading the TLS files failed; the old ones stay in use', error: (error as Error).message }) + '\n');
    }
  };
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'signal received', signal }) + '\n');
      void daemon.stop().then(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onReload);
  });
  process.off('SIGHUP', onReload);
  return EXIT.OK;
}


type FlagSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

function clientArgs(argv: string[], extra: FlagSpec) {
  const parsed = parseArgs({ args: argv, options: { ...CLIENT_FLAGS, ...extra } as FlagSpec, allowPositionals: true, strict: true });
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const positionals = parsed.positionals;
  const address = (values.address as string | undefined) ?? process.env.SOURCED_ADDRESS ?? '127.0.0.1:50051';
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && !(timeout > 0)) throw new UsageError(`--timeout: "${String(values.timeout)}" is not a positive number of seconds`);
  return {
    values,
    positionals,
    address,
    json: values.json === true,
    deadline: timeout ? Date.now() + timeout * 1000 : Infinity,
    /** The credentials of the channel; read only once the command is known to run (not for --help). */
    channel: () => channelCredentials(values),
    /** Opens stdout or --output FILE. */
    output: () => Output.open({ file: values.output as string | undefined, noColor: values['no-color'] === true }),
  };
}

/** Plaintext, or TLS with --ca (and --cert/--key for mutual TLS), flags before environment. */
function channelCredentials(values: Record<string, unknown>) {
  const file = (flag: 'ca' | 'cert' | 'key') => {
    const path = (values[flag] as string | undefined) ?? process.env[`SOURCED_${flag.toUpperCase()}`];
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new UsageError(`--${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  };
  const ca = file('ca');
  const cert = file('cert');
  const key = file('key');
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--cert and --key go together (a client certificate and its key)');
  if (!ca && !cert) return credentials.createInsecure();
  return credentials.createSsl(ca ?? null, key ?? null, cert ?? null);
}

/** Exit code after Ctrl-C, as a shell reports a process that SIGINT ended. */
const INTERRUPTED = 130;

/**
 * Ctrl-C during a call: erase the live lines (no half-drawn progress left on the terminal) and
 * cancel the call; the command then returns INTERRUPTED. A second Ctrl-C ends the process at once.
 */
function interruptible(out: Output, call: { cancel(): void }) {
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    process.off('SIGINT', onSignal);
    out.live.clear();
    out.progress.clear();
    call.cancel();
  };
  process.on('SIGINT', onSignal);
  return {
    get interrupted() {
      return interrupted;
    },
    dispose: () => process.off('SIGINT', onSignal),
  };
}

async function validate(argv: string[]): Promise<number> {
  const args = clientArgs(argv, {});
  if (args.values.help) return help('validate');
  const file = single(args.positionals, 'validate');
  const dataSource = readDataSourceFile(file);
  const channel = args.channel();
  const out = args.output();
  const { json } = args;
  const p = out.paint;
  const client = new DataSourceServiceClient(args.address, channel);
  const call = client.validateDataSource({ dataSource, checkTimeoutMs: 0 }, new Metadata(), { deadline: args.deadline });
  const signal = interruptible(out, call);
  let ok = false;
  try {
    for await (const message of call as AsyncIterable<ValidateDataSourceResponse>) {
      const e = message.event;
      if (e?.$case === 'summary') ok = e.value.ok;
      if (json) {
        out.line(JSON.stringify(ValidateDataSourceResponse.toJSON(message)));
        continue;
      }
      if (!e) continue;
      if (e.$case === 'checkStarted') {
        out.live.set(formatRunning(e.value.title, e.value.endpoint === EndpointRole.ENDPOINT_ROLE_SECONDARY, out));
      } else if (e.$case === 'checkFinished') {
        const c = e.value;
        const lines = formatCheck(
          {
            status: checkStatusToJSON(c.status).replace('CHECK_STATUS_', ''),
            title: c.title,
            secondary: c.endpoint === EndpointRole.ENDPOINT_ROLE_SECONDARY,
            durationMs: c.durationMs,
            message: c.message,
            hint: c.hint,
          },
          out,
        );
        for (const line of lines) out.line(line);
      } else if (e.$case === 'report') {
        const r = e.value;
        const role = endpointRoleToJSON(r.endpoint).replace('ENDPOINT_ROLE_', '').toLowerCase();
        out.line(`${role} ${r.address}: ${r.ok ? p.green('OK') : p.red('FAILED')} (${r.passed} passed, ${r.failed} failed, ${r.warnings} warnings, ${r.skipped} skipped)`);
      } else if (e.$case === 'summary') {
        out.line(`${ok ? p.bold(p.green('valid')) : p.bold(p.red('NOT valid'))} in ${e.value.durationMs.toFixed(0)} ms`);
      }
    }
  } catch (error) {
    if (signal.interrupted) return interruptedExit();
    throw error;
  } finally {
    signal.dispose();
    out.close();
    client.close();
  }
  return ok ? EXIT.OK : EXIT.VALIDATION_FAILED;
}

const FORMATS = ['tree', 'text', 'ndjson'] as const;

async function discover(argv: string[]): Promise<number> {
  const args = clientArgs(argv, {
    'include-schema': { type: 'string', multiple: true },
    'exclude-schema': { type: 'string', multiple: true },
    'include-table': { type: 'string', multiple: true },
    'exclude-table': { type: 'string', multiple: true },
    strategy: { type: 'string' },
    'batch-size': { type: 'string' },
    'resume-after': { type: 'string' },
    'max-entities': { type: 'string' },
    format: { type: 'string' },
  });
  const { values, json } = args;
  if (values.help) return help('discover');
  const file = single(args.positionals, 'discover');
  const formatFlag = values.format as string | undefined;
  if (formatFlag !== undefined && !(FORMATS as readonly string[]).includes(formatFlag)) throw new UsageError(`--format: "${formatFlag}" is not one of ${FORMATS.join(', ')} (--json prints the raw events)`);
  if (formatFlag !== undefined && json) throw new UsageError('--json and --format exclude each other: --json prints every event of the stream as it comes');
  let strategy = DiscoveryStrategy.DISCOVERY_STRATEGY_UNSPECIFIED;
  if (values.strategy) {
    const name = String(values.strategy).toUpperCase();
    strategy = discoveryStrategyFromJSON(name.startsWith('DISCOVERY_STRATEGY_') ? name : `DISCOVERY_STRATEGY_${name}`);
    if (strategy === DiscoveryStrategy.UNRECOGNIZED) throw new UsageError(`--strategy: "${String(values.strategy)}" is not one of conservative, balanced, aggressive, adaptive`);
  }
  const batchSize = values['batch-size'] === undefined ? 0 : Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 0) throw new UsageError(`--batch-size: "${String(values['batch-size'])}" is not a whole number`);
  const maxEntities = values['max-entities'] === undefined ? 0 : Number(values['max-entities']);
  if (!Number.isInteger(maxEntities) || maxEntities < 0) throw new UsageError(`--max-entities: "${String(values['max-entities'])}" is not a whole number`);
  const list = (v: unknown) => (v as string[] | undefined) ?? [];
  const dataSource = readDataSourceFile(file);
  const channel = args.channel();
  const out = args.output();
  const format = json ? 'json' : ((formatFlag as (typeof FORMATS)[number] | undefined) ?? (out.tty ? 'tree' : 'text'));
  const p = out.paint;
  const client = new DataSourceServiceClient(args.address, channel);
  const call = client.discoverDataSource(
    {
      dataSource,
      filter: {
        includeSchemas: list(values['include-schema']),
        excludeSchemas: list(values['exclude-schema']),
        includeTables: list(values['include-table']),
        excludeTables: list(values['exclude-table']),
        includeSystemSchemas: false,
      },
      strategy,
      batchSize,
      resumeAfter: (values['resume-after'] as string | undefined) ?? '',
      maxEntities,
      maxDurationMs: 0,
    },
    new Metadata(),
    { deadline: args.deadline },
  );
  const signal = interruptible(out, call);
  const progress = new ProgressLine(out.progress, p);
  try {
    const tree = format === 'tree' ? new DiscoveryTree() : undefined;
    /** Lines for a person beside the entities: on the output, or on stderr when the output is NDJSON. */
    const say = (text: string) => (format === 'ndjson' ? out.note(text) : out.line(text));
    let entities = 0;
    let cursor = '';
    let summary: DiscoverySummary | undefined;
    try {
      for await (const message of call as AsyncIterable<DiscoverDataSourceResponse>) {
        const e = message.event;
        if (e?.$case === 'batch') {
          const b = e.value;
          entities += b.relations.length + b.collections.length;
          if (b.cursor) cursor = b.cursor;
          const daemon = b.progress;
          progress.update(daemon ? { entities: daemon.relations + daemon.collections, total: daemon.total, ratePerSecond: daemon.ratePerSecond } : { entities });
        }
        if (format === 'json') {
          out.line(JSON.stringify(DiscoverDataSourceResponse.toJSON(message)));
          continue;
        }
        if (!e) continue;
        switch (e.$case) {
          case 'schemas':
            for (const s of e.value.schemas) {
              if (format === 'ndjson') out.line(JSON.stringify({ kind: 'schema', schema: Schema.toJSON(s) }));
              else if (tree) tree.addSchema(s);
              else out.line(`schema ${s.name}${s.usable ? '' : ' (not usable)'}${s.comment ? ` -- ${s.comment}` : ''}`);
            }
            break;
          case 'batch':
            for (const r of e.value.relations) {
              if (format === 'ndjson') out.line(JSON.stringify({ kind: 'relation', relation: Relation.toJSON(r) }));
              else if (tree) tree.addRelation(r);
              else {
                const rows = r.estimatedRows >= 0 ? `, ~${r.estimatedRows} rows` : '';
                const pk = r.primaryKey ? `, pk (${r.primaryKey.columns.join(', ')})` : '';
                out.line(`  ${r.schema}.${r.name}  ${relationKind(r)}: ${r.columns.length} columns${pk}, ${r.foreignKeys.length} foreign keys, ${r.indexes.length} indexes${rows}`);
              }
            }
            for (const c of e.value.collections) {
              if (format === 'ndjson') out.line(JSON.stringify({ kind: 'collection', collection: Collection.toJSON(c) }));
              else if (tree) tree.addCollection(c);
              else out.line(`  ${c.database}.${c.name}  collection: ${c.indexes.length} indexes${c.estimatedDocuments >= 0 ? `, ~${c.estimatedDocuments} documents` : ''}`);
            }
            break;
          case 'warning':
            say(`${p.yellow('warning')} ${e.value.code}: ${e.value.message}`);
            break;
          case 'failover':
            say(`${p.yellow('failover')} to ${endpointRoleToJSON(e.value.active)}: ${e.value.reason}`);
            break;
          case 'summary':
            summary = e.value;
            break;
        }
      }
    } catch (error) {
      if (signal.interrupted) return interruptedExit();
      throw error;
    } finally {
      progress.stop();
      signal.dispose();
      client.close();
    }
    if (tree) for (const line of tree.render(p, out.unicode)) out.line(line);
    if (summary && format !== 'json') {
      const s = summary;
      say(`${s.schemas} schemas, ${s.tables} tables, ${s.views} views, ${s.collections ? `${s.collections} collections, ` : ''}${s.columns} columns in ${s.batches} batches, ${s.durationMs.toFixed(0)} ms`);
      if (s.stoppedEarly) {
        say(`stopped early (${s.stopReason}); continue with ${cursor ? `--resume-after ${cursor}` : '--resume-after and the last batch\'s cursor (--json shows it)'}`);
      }
    }
    return EXIT.OK;
  } finally {
    out.close();
  }
}

async function preview(argv: string[]): Promise<number> {
  const args = clientArgs(argv, {
    table: { type: 'string' },
    column: { type: 'string', multiple: true },
    limit: { type: 'string' },
    strategy: { type: 'string' },
    format: { type: 'string' },
  });
  if (args.values.help) return help('preview');
  const file = single(args.positionals, 'preview');
  const usage = (message: string) => new UsageError(message);
  const flags = previewFlags(args.values, args.json, usage);
  const dataSource = readDataSourceFile(file);
  const channel = args.channel();
  const out = args.output();
  try {
    return await runPreview(dataSource, flags, { address: args.address, channel, deadline: args.deadline, json: args.json, out }, usage);
  } finally {
    out.close();
  }
}

async function profile(argv: string[]): Promise<number> {
  const args = clientArgs(argv, {
    table: { type: 'string' },
    column: { type: 'string', multiple: true },
    mode: { type: 'string' },
    'sample-rows': { type: 'string' },
  });
  if (args.values.help) return help('profile');
  const file = single(args.positionals, 'profile');
  const usage = (message: string) => new UsageError(message);
  const flags = profileFlags(args.values, args.json, usage);
  const dataSource = readDataSourceFile(file);
  const channel = args.channel();
  const out = args.output();
  try {
    return await runProfile(dataSource, flags, { address: args.address, channel, deadline: args.deadline, json: args.json, out }, usage);
  } finally {
    out.close();
  }
}

async function plugins(argv: string[]): Promise<number> {
  const args = clientArgs(argv, {});
  if (args.values.help) return help('plugins');
  if (args.positionals.length) throw new UsageError(`plugins takes no FILE (got "${args.positionals[0]}")`);
  const channel = args.channel();
  const out = args.output();
  const p = out.paint;
  const client = new PluginServiceClient(args.address, channel);
  try {
    const response = await new Promise<ListPluginsResponse>((resolve, reject) =>
      client.listPlugins({}, new Metadata(), { deadline: args.deadline }, (error, r) => (error ? reject(error) : resolve(r))),
    );
    if (args.json) {
      out.line(JSON.stringify(response.plugins.map((x) => ({ ...x, state: pluginStateToJSON(x.state) }))));
    } else {
      for (const x of response.plugins) {
        const state = pluginStateToJSON(x.state).replace('PLUGIN_STATE_', '').toLowerCase();
        const provides = [
          ...x.connectors.map((c) => `connector ${c}`),
          ...x.secretProviders.map((s) => `secrets ${s}://`),
          ...x.tokenProviders.map((c) => `database tokens (${c})`),
        ].join(', ');
        const coloured = state === 'loaded' ? p.green(state) : p.red(state);
        out.line(`${p.bold(x.id)} ${x.version} ${coloured}${provides ? `: ${provides}` : ''}${x.loadError ? `\n    ${x.loadError}` : ''}`);
      }
    }
  } finally {
    out.close();
    client.close();
  }
  return EXIT.OK;
}

class UsageError extends Error {}

function single(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`sourced ${command} takes exactly one FILE (a data source as JSON or YAML); see sourced ${command} --help`);
  return positionals[0];
}

/** Prints the general usage, or a command's help with its examples. */
function help(command?: string): number {
  process.stdout.write(`${command ? HELP[command] : USAGE}\n`);
  return EXIT.OK;
}

function interruptedExit(): number {
  process.stderr.write('sourced: interrupted\n');
  return INTERRUPTED;
}

/** Prints an error for a person and picks the exit code. */
function report(error: unknown): number {
  if (
    error instanceof UsageError ||
    error instanceof ConfigError ||
    error instanceof DataSourceFileError ||
    error instanceof OutputFileError ||
    (error as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')
  ) {
    process.stderr.write(`sourced: ${(error as Error).message}\n`);
    return EXIT.BAD_INPUT;
  }
  const se = error as ServiceError;
  if (typeof se.code === 'number' && se.metadata) {
    const bin = se.metadata.get('grpc-status-details-bin')[0];
    process.stderr.write(`sourced: ${Status[se.code]}: ${se.details}\n`);
    if (bin) {
      const rich = decodeRichStatus(bin as Buffer);
      for (const v of rich.badRequest ?? []) process.stderr.write(`  ${v.field}: ${v.description}\n`);
    }
    // Every status the daemon sends carries google.rpc details; an UNAVAILABLE without them
    // comes from this side of the channel: the daemon could not be reached. (An UNAVAILABLE
    // from the daemon, such as a data source it cannot connect to, says so in its message.)
    if (se.code === Status.UNAVAILABLE && !bin) {
      process.stderr.write('  is the daemon running? start it with `sourced serve` (or npm start), or pass --address\n');
      return EXIT.UNREACHABLE;
    }
    return se.code === Status.INVALID_ARGUMENT ? EXIT.BAD_INPUT : EXIT.ERROR;
  }
  process.stderr.write(`sourced: ${(error as Error)?.stack ?? String(error)}\n`);
  return EXIT.ERROR;
}

/**
 * A reader that went away (`sourced discover db.yaml --format ndjson | head`) is not an error:
 * stop quietly, as the shell's own tools do.
 */
let pipeWatched = false;
function exitQuietlyOnBrokenPipe(): void {
  if (pipeWatched) return;
  pipeWatched = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(EXIT.OK);
      throw error;
    });
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`${String(error)}\n`);
      process.exitCode = EXIT.ERROR;
    },
  );
}
