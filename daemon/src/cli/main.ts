import { credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/DaemonConfig';
import { DataSourceServiceClient, DiscoverDataSourceResponse, ValidateDataSourceResponse } from '../gen/sourced/v1/data_source_service';
import { DiscoveryStrategy, discoveryStrategyFromJSON, relationKindToJSON } from '../gen/sourced/v1/discovery';
import { PluginServiceClient, pluginStateToJSON } from '../gen/sourced/v1/plugin_service';
import { checkStatusToJSON, endpointRoleToJSON } from '../gen/sourced/v1/validation';
import { decodeRichStatus } from '../grpc/richStatus';
import { VERSION } from '../version';
import { auditCommand } from './audit';
import { DataSourceFileError, readDataSourceFile } from './dataSourceFile';

/** Exit codes of the command-line client. */
export const EXIT = { OK: 0, VALIDATION_FAILED: 1, BAD_INPUT: 2, UNREACHABLE: 3, ERROR: 4 } as const;

const USAGE = `sourced ${VERSION}: validate and discover data sources over gRPC

Usage:
  sourced serve [--listen HOST:PORT] [--config FILE] [--plugin MODULE]... [--log-level LEVEL]
  sourced validate FILE [--address HOST:PORT] [--ca FILE [--cert FILE --key FILE]] [--json] [--timeout SECONDS]
  sourced discover FILE [--address HOST:PORT] [--json] [--include-schema GLOB]... [--exclude-schema GLOB]...
                        [--include-table GLOB]... [--exclude-table GLOB]... [--strategy NAME] [--batch-size N]
                        [--resume-after CURSOR] [--max-entities N]
  sourced plugins [--address HOST:PORT] [--json]
  sourced audit verify FILE [--expect-last HASH] [--json]

FILE holds a data source as JSON or YAML, for example:
  { "type": "postgres", "primary": { "host": "db.internal", "port": 5432, "database": "app" },
    "credentials": { "username": "reader", "password": "env://SOURCED_SECRET_APP_DB" } }

The daemon address defaults to $SOURCED_ADDRESS or 127.0.0.1:50051. Against a daemon that serves
TLS, give --ca FILE (the CA that signed its certificate; $SOURCED_CA), and for mutual TLS
--cert FILE and --key FILE (the client's; $SOURCED_CERT, $SOURCED_KEY).
The daemon re-reads its TLS files on SIGHUP.
Exit codes: 0 ok, 1 validation failed (audit verify: chain broken), 2 bad input, 3 daemon unreachable, 4 other error.`;

const CLIENT_FLAGS = {
  address: { type: 'string' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function main(argv: string[]): Promise<number> {
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
      case 'audit':
        return await auditCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? EXIT.BAD_INPUT : EXIT.OK;
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

async function serve(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.OK;
  }
  const config = loadConfig(argv);
  // Loaded here rather than at the top: the client commands need none of the daemon's
  // dependencies (OpenTelemetry SDK, awilix, plugin loader) and start twice as fast without.
  const { startDaemon } = require('../Daemon') as typeof import('../Daemon');
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
  return { values, positionals, address, json: values.json === true, deadline: timeout ? Date.now() + timeout * 1000 : Infinity, channel: channelCredentials(values) };
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

async function validate(argv: string[]): Promise<number> {
  const { positionals, address, json, deadline, values, channel } = clientArgs(argv, {});
  if (values.help) return help();
  const file = single(positionals, 'validate');
  const dataSource = readDataSourceFile(file);
  const client = new DataSourceServiceClient(address, channel);
  const stream = client.validateDataSource({ dataSource, checkTimeoutMs: 0 }, new Metadata(), { deadline });
  let ok = false;
  try {
    for await (const message of stream as AsyncIterable<ValidateDataSourceResponse>) {
      if (json) process.stdout.write(`${JSON.stringify(ValidateDataSourceResponse.toJSON(message))}\n`);
      const e = message.event;
      if (!e) continue;
      if (e.$case === 'checkFinished' && !json) {
        const c = e.value;
        const status = checkStatusToJSON(c.status).replace('CHECK_STATUS_', '');
        const mark = { PASSED: 'ok  ', FAILED: 'FAIL', WARNING: 'warn', SKIPPED: 'skip' }[status] ?? status;
        const role = c.endpoint === 2 ? ' (secondary)' : '';
        process.stdout.write(`[${mark}] ${c.title}${role} (${c.durationMs.toFixed(1)} ms): ${c.message}\n`);
        if (c.hint) process.stdout.write(`       hint: ${c.hint}\n`);
      } else if (e.$case === 'report' && !json) {
        const r = e.value;
        process.stdout.write(`${endpointRoleToJSON(r.endpoint).replace('ENDPOINT_ROLE_', '').toLowerCase()} ${r.address}: ${r.ok ? 'OK' : 'FAILED'} (${r.passed} passed, ${r.failed} failed, ${r.warnings} warnings, ${r.skipped} skipped)\n`);
      } else if (e.$case === 'summary') {
        ok = e.value.ok;
        if (!json) process.stdout.write(`${ok ? 'valid' : 'NOT valid'} in ${e.value.durationMs.toFixed(0)} ms\n`);
      }
    }
  } finally {
    client.close();
  }
  return ok ? EXIT.OK : EXIT.VALIDATION_FAILED;
}

async function discover(argv: string[]): Promise<number> {
  const { positionals, address, json, deadline, values, channel } = clientArgs(argv, {
    'include-schema': { type: 'string', multiple: true },
    'exclude-schema': { type: 'string', multiple: true },
    'include-table': { type: 'string', multiple: true },
    'exclude-table': { type: 'string', multiple: true },
    strategy: { type: 'string' },
    'batch-size': { type: 'string' },
    'resume-after': { type: 'string' },
    'max-entities': { type: 'string' },
  });
  if (values.help) return help();
  const file = single(positionals, 'discover');
  const dataSource = readDataSourceFile(file);
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
  const client = new DataSourceServiceClient(address, channel);
  const stream = client.discoverDataSource(
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
    { deadline },
  );
  try {
    for await (const message of stream as AsyncIterable<DiscoverDataSourceResponse>) {
      if (json) {
        process.stdout.write(`${JSON.stringify(DiscoverDataSourceResponse.toJSON(message))}\n`);
        continue;
      }
      const e = message.event;
      if (!e) continue;
      if (e.$case === 'schemas') {
        for (const s of e.value.schemas) process.stdout.write(`schema ${s.name}${s.usable ? '' : ' (not usable)'}${s.comment ? ` -- ${s.comment}` : ''}\n`);
      } else if (e.$case === 'batch') {
        for (const r of e.value.relations) {
          const kind = relationKindToJSON(r.kind).replace('RELATION_KIND_', '').toLowerCase().replace(/_/g, ' ');
          const rows = r.estimatedRows >= 0 ? `, ~${r.estimatedRows} rows` : '';
          const pk = r.primaryKey ? `, pk (${r.primaryKey.columns.join(', ')})` : '';
          process.stdout.write(`  ${r.schema}.${r.name}  ${kind}: ${r.columns.length} columns${pk}, ${r.foreignKeys.length} foreign keys, ${r.indexes.length} indexes${rows}\n`);
        }
      } else if (e.$case === 'warning') {
        process.stdout.write(`warning ${e.value.code}: ${e.value.message}\n`);
      } else if (e.$case === 'failover') {
        process.stdout.write(`failover to ${endpointRoleToJSON(e.value.active)}: ${e.value.reason}\n`);
      } else if (e.$case === 'summary') {
        const s = e.value;
        process.stdout.write(`${s.schemas} schemas, ${s.tables} tables, ${s.views} views, ${s.collections ? `${s.collections} collections, ` : ''}${s.columns} columns in ${s.batches} batches, ${s.durationMs.toFixed(0)} ms\n`);
        if (s.stoppedEarly) process.stdout.write(`stopped early (${s.stopReason}); continue with --resume-after and the last batch's cursor (--json shows it)\n`);
      }
    }
  } finally {
    client.close();
  }
  return EXIT.OK;
}

async function plugins(argv: string[]): Promise<number> {
  const { address, json, deadline, values, channel } = clientArgs(argv, {});
  if (values.help) return help();
  const client = new PluginServiceClient(address, channel);
  try {
    const response = await new Promise<import('../gen/sourced/v1/plugin_service').ListPluginsResponse>((resolve, reject) =>
      client.listPlugins({}, new Metadata(), { deadline }, (error, r) => (error ? reject(error) : resolve(r))),
    );
    if (json) {
      process.stdout.write(`${JSON.stringify(response.plugins.map((p) => ({ ...p, state: pluginStateToJSON(p.state) })))}\n`);
    } else {
      for (const p of response.plugins) {
        const state = pluginStateToJSON(p.state).replace('PLUGIN_STATE_', '').toLowerCase();
        const provides = [
          ...p.connectors.map((c) => `connector ${c}`),
          ...p.secretProviders.map((s) => `secrets ${s}://`),
          ...p.tokenProviders.map((c) => `database tokens (${c})`),
        ].join(', ');
        process.stdout.write(`${p.id} ${p.version} ${state}${provides ? `: ${provides}` : ''}${p.loadError ? `\n    ${p.loadError}` : ''}\n`);
      }
    }
  } finally {
    client.close();
  }
  return EXIT.OK;
}

class UsageError extends Error {}

function single(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`sourced ${command} takes exactly one FILE (a data source as JSON or YAML)`);
  return positionals[0];
}

function help(): number {
  process.stdout.write(`${USAGE}\n`);
  return EXIT.OK;
}

/** Prints an error for a person and picks the exit code. */
function report(error: unknown): number {
  if (error instanceof UsageError || error instanceof ConfigError || error instanceof DataSourceFileError || (error as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')) {
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
