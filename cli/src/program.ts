/**
 * The `sourced` command line as commander definitions: every command, its arguments and flags
 * (with their types, choices and defaults), and the help text around the help commander generates
 * from them. The commands' code is loaded only when one runs (see `lazy`), so `sourced --version`
 * and `sourced COMMAND --help` load commander and this file, not gRPC, the API or the daemon.
 * Over 400 lines in one file: the whole command tree and its help are read in one place, as a user reads `sourced --help`.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { AuditVerifyOptions } from './audit';
import type { DemoOptions } from './demo';
import type { PluginInitOptions } from './pluginInit';
import { EXIT_CODES, UsageError } from './errors';
import * as o from './options';

/** The version of the daemon package, read from its package.json alone (cheap). */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- another package's package.json, read at run time (an import would compile it into this project, outside its rootDir)
export const VERSION: string = (require('@sourced/daemon/package.json') as { version: string }).version;

/** Where the client commands find the daemon, under their flags in the help. */
const FILE_NOTE = `FILE holds a data source as JSON or YAML, for example:
  { "type": "postgres", "primary": { "host": "db.internal", "port": 5432, "database": "app" },
    "credentials": { "username": "reader", "password": "env://SOURCED_SECRET_APP_DB" } }
Every field: docs/data-source.md; its JSON Schema: docs/data-source.schema.json. An unknown field
or enum value is refused (exit 2) with the nearest known name.`;

/** A command's examples and exit codes, after the generated help. */
function epilogue(examples: string[], exitCodes: string): string {
  return `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}\n\n${exitCodes}`;
}

/** Requires a command's module when it runs, not when the program is built. */
const lazy = <T>(load: () => T) => load;
/* eslint-disable @typescript-eslint/no-require-imports -- lazy: a command's module (and gRPC, the API, the daemon) loads only when that command runs */
const commands = {
  validate: lazy(() => require('./validateCommand') as typeof import('./validateCommand')),
  discover: lazy(() => require('./discoverCommand') as typeof import('./discoverCommand')),
  preview: lazy(() => require('./previewCommand') as typeof import('./previewCommand')),
  profile: lazy(() => require('./profileCommand') as typeof import('./profileCommand')),
  plugins: lazy(() => require('./pluginsCommand') as typeof import('./pluginsCommand')),
  encrypt: lazy(() => require('./encryptCommand') as typeof import('./encryptCommand')),
  serve: lazy(() => require('./serveCommand') as typeof import('./serveCommand')),
  audit: lazy(() => require('./audit') as typeof import('./audit')),
  demo: lazy(() => require('./demo') as typeof import('./demo')),
  pluginInit: lazy(() => require('./pluginInit') as typeof import('./pluginInit')),
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** Receives the exit code of the action that ran. */
export type ExitCodeSink = (code: number) => void;

/**
 * The program. `setExitCode` receives each action's exit code; errors (commander's usage errors,
 * ours, the daemon's) are thrown to the caller, which prints them and picks the exit code.
 */
export function buildProgram(setExitCode: ExitCodeSink): Command {
  const program = new Command('sourced')
    .description(`sourced ${VERSION}: validate and discover data sources over gRPC`)
    .usage('COMMAND [FILE] [options]')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show the help')
    .helpCommand(false)
    // Options of `sourced` itself (--version, --help) only before the command: after it they are the command's.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`sourced: ${text.replace(/^error: /, '')}`) })
    .showSuggestionAfterError(true)
    // After a usage mistake at this level (an unknown command), or in a command without its own hint: the usage.
    .showHelpAfterError(true);

  program.commandsGroup('Run the daemon:');
  program
    .command('serve')
    .summary('run the daemon')
    // The config file's flag; the others come from the configuration schema (serveCommand.ts).
    .option('--config <FILE>', 'the config file, JSON or YAML (env: SOURCED_CONFIG)')
    .description(
      `Runs the daemon: the gRPC services DataSourceService and PluginService. Settings come from, in increasing precedence: defaults, the config file (--config or $SOURCED_CONFIG; JSON or YAML), SOURCED_* environment variables, flags (docs/configuration.md lists every option). It logs JSON lines on stderr, stops on SIGTERM/SIGINT (draining calls) and re-reads its TLS files on SIGHUP.`,
    )
    .addHelpText(
      'after',
      epilogue(
        [
          'sourced serve',
          'sourced serve --listen 0.0.0.0:50051 --config /etc/sourced/sourced.yaml',
          'sourced serve --plugin ./examples/sqlite-connector --log-level debug',
        ],
        'Exit codes: 0 stopped by a signal, 2 bad configuration, 4 cannot start (port taken, ...).',
      ),
    )
    .showHelpAfterError('(sourced serve --help lists its options)')
    .action(async (_options: unknown, command: Command) => setExitCode(await commands.serve().runServe(command)));

  program.commandsGroup('Talk to a running daemon:');
  clientCommand(program, 'validate', '<FILE>', "every stream event as one JSON line (the contract's JSON), for scripts")
    .summary("run the connector's checks on a data source (DNS, TCP, TLS, login, ...)")
    .description(
      "Runs the connector's checks on the data source in FILE through the daemon: credentials, DNS, TCP, TLS, login, permissions, ... Each check is shown as it runs, with its outcome (ok, FAIL, warn, skip), duration, message and, when it failed, a hint; then a report per endpoint (primary, secondary) and the verdict.",
    )
    .addHelpText(
      'after',
      epilogue(
        [
          'sourced validate db.yaml',
          'sourced validate db.json --address daemon.internal:50051 --ca ca.pem',
          'sourced validate db.yaml --json --output validation.ndjson',
          'sourced validate db.yaml > /dev/null || echo "not valid (exit $?)"',
        ],
        'Exit codes: 0 valid, 1 not valid (a check failed: credentials or a TLS file that cannot be read, DNS, login, ...), 2 bad input\n(usage, FILE, INVALID_ARGUMENT), 3 daemon unreachable, 4 other error (PERMISSION_DENIED: a reference, TLS file path or host the policy refuses).',
      ),
    )
    .action(async (file: string, options: o.ClientOptions) => setExitCode(await commands.validate().runValidate(file, options)));

  clientCommand(program, 'discover', '<FILE>', 'every stream event as one JSON line (the raw contract, batch cursors included)', (c) =>
    c
      .addOption(
        o
          .choiceOption(
            '--format <FORMAT>',
            'tree: schema → relations, one line each (the default on a terminal); text: one line per schema and relation as they arrive (the default otherwise); ndjson: one JSON object per entity, {"kind":"schema"|"relation"|"collection", ...}, warnings and the summary on stderr',
            ['tree', 'text', 'ndjson'],
          )
          .conflicts('json'),
      )
      .optionsGroup('What to read:')
      .addOption(o.listOption('--include-schema <GLOB>', 'only schemas matching GLOB (* and ?)', 'all'))
      .addOption(o.listOption('--exclude-schema <GLOB>', 'leave out schemas matching GLOB (system schemas always are)', 'none'))
      .addOption(o.listOption('--include-table <GLOB>', 'only relations matching GLOB', 'all'))
      .addOption(o.listOption('--exclude-table <GLOB>', 'leave out relations matching GLOB', 'none'))
      .addOption(o.choiceOption('--strategy <NAME>', "how hard to read (default: the daemon's, balanced)", o.STRATEGIES, 'discovery_strategy_'))
      .addOption(new Option('--batch-size <N>', 'relations per batch').argParser(o.wholeNumber).default(0, "the strategy's"))
      .addOption(
        new Option('--max-entities <N>', 'stop after N relations/collections; resume with --resume-after CURSOR')
          .argParser(o.wholeNumber)
          .default(0, 'no limit'),
      )
      .addOption(new Option('--resume-after <CURSOR>', 'continue after the relation of that cursor').default('', 'from the start'))
      .addOption(new Option('--routine-bodies', "also send functions' and procedures' source code (NDJSON and --json show it)")),
  )
    .summary('read its catalog: schemas, tables, views, collections')
    .description(
      'Reads the catalog of the data source in FILE through the daemon: schemas, relations (tables, views, materialized views, partitions, foreign tables) with columns, keys and indexes, and collections of document stores. On a terminal a progress line shows on stderr.',
    )
    .addHelpText(
      'after',
      epilogue(
        [
          'sourced discover db.yaml',
          "sourced discover db.yaml --include-schema 'sales*' --exclude-table 'tmp_*'",
          'sourced discover db.yaml --format ndjson --output catalog.ndjson',
          `sourced discover db.yaml --format ndjson | jq -r 'select(.kind == "relation") | .relation.name'`,
          'sourced discover db.yaml --json --max-entities 500',
        ],
        'Exit codes: 0 ok, 2 bad input, 3 daemon unreachable, 4 other error (PERMISSION_DENIED: a reference or host the policy refuses,\na TLS file the daemon does not read).',
      ),
    )
    .action(async (file: string, options: o.DiscoverOptions) => setExitCode(await commands.discover().runDiscover(file, options)));

  clientCommand(program, 'preview', '<FILE>', 'every stream event as one JSON line (the raw contract)', (c) =>
    tableOptions(c, 'preview', 'a column (MongoDB: a top-level field) to show, in this order')
      .addOption(new Option('--limit <N>', 'rows').argParser(o.wholeNumber).default(0, "the daemon's preview.defaultRows, 50"))
      .addOption(o.choiceOption('--strategy <NAME>', 'its statement timeout (default: balanced)', o.STRATEGIES, 'discovery_strategy_'))
      .addOption(
        o
          .choiceOption(
            '--format <FORMAT>',
            'table: aligned columns (the default); ndjson: one JSON object per row, each value as the contract\'s Cell ({"integer":"42"})',
            ['table', 'ndjson'],
          )
          .conflicts('json'),
      ),
  )
    .summary('show the first rows of a table, view or collection')
    .description(
      "Shows the first rows of one table, view or collection of the data source in FILE through the daemon's PreviewTable. The table and columns are looked up in the source's catalog; columns the daemon masks (names like *password*, *ssn*, *token*) are never read and show as (masked). Values are exact: big integers and decimals as written, instants with their offset, bytes as base64, JSON as JSON.",
    )
    .addHelpText(
      'after',
      epilogue(
        [
          'sourced preview db.yaml --table sales.orders',
          'sourced preview db.yaml --table sales.customers --column id --column email --limit 10',
          'sourced preview mongo.yaml --table shop.orders --format ndjson --output orders.ndjson',
        ],
        'Exit codes: 0 ok, 2 bad input (an unknown column, a limit over the maximum), 3 daemon unreachable,\n4 other error (an unknown table: NOT_FOUND).',
      ),
    )
    .action(async (file: string, options: o.PreviewOptions) => setExitCode(await commands.preview().runPreview(file, options)));

  clientCommand(program, 'profile', '<FILE>', 'every stream event as one JSON line (the raw contract)', (c) =>
    tableOptions(c, 'profile', 'a column to profile, in this order')
      .addOption(
        o
          .choiceOption(
            '--mode <MODE>',
            'statistics: only what the database keeps (pg_stats, column statistics), reads no table data; sample: computed from a bounded sample of --sample-rows rows',
            ['statistics', 'sample'],
          )
          .default('statistics'),
      )
      .addOption(
        new Option('--sample-rows <N>', "rows to sample with --mode sample, at most the daemon's profile.maxSampleRows")
          .argParser(o.wholeNumber)
          .default(0, "the daemon's profile.defaultSampleRows, 10000"),
      ),
  )
    .summary('profile the columns of a table: nulls, distinct, min/max, ...')
    .description(
      "Profiles the columns of one table, view or collection of the data source in FILE through the daemon's ProfileTable, printing each column as it completes: null share, distinct values (~ when estimated), min … max, average width, the most common values and a histogram.",
    )
    .addHelpText(
      'after',
      epilogue(
        [
          'sourced profile db.yaml --table sales.orders',
          'sourced profile db.yaml --table sales.orders --mode sample --sample-rows 5000',
          'sourced profile mongo.yaml --table shop.orders --mode sample --json',
        ],
        'Exit codes: 0 ok, 2 bad input (an unknown column, too many sample rows), 3 daemon unreachable,\n4 other error (an unknown table: NOT_FOUND; a connector that cannot profile).',
      ),
    )
    .action(async (file: string, options: o.ProfileOptions) => setExitCode(await commands.profile().runProfile(file, options)));

  clientCommand(program, 'plugins', undefined, 'the list as one JSON array')
    .summary("list the daemon's plugins")
    .description(
      "Lists the daemon's plugins: id, version, state, and what each provides (connectors, secret providers, database tokens); a plugin that failed to load with its error.",
    )
    .addHelpText(
      'after',
      epilogue(
        ['sourced plugins', 'sourced plugins --address daemon.internal:50051 --ca ca.pem --json'],
        'Exit codes: 0 ok, 2 bad input, 3 daemon unreachable, 4 other error.',
      ),
    )
    .action(async (options: o.ClientOptions) => setExitCode(await commands.plugins().runPlugins(options)));

  clientCommand(program, 'encrypt', undefined, 'the envelope and its key as one JSON object', (c) =>
    c
      .addOption(
        new Option(
          '--data-source-id <ID>',
          'the id of the data source the value belongs to (its DataSource.id): the envelope opens only for it',
        ).makeOptionMandatory(),
      )
      .addOption(
        new Option('--field <PATH>', 'where in the data source it goes: credentials.password, ssl_config.key, cloud_config.aws_secret_access_key, ...').default(
          'credentials.password',
        ),
      )
      .option('--key-provider <NAME>', "the key provider: local (the daemon's keyring, the default) or a plugin's, such as aws-kms")
      .option('--key-id <ID>', 'a key of that provider (default: its current key)'),
  )
    .summary('encrypt a credential into an envelope to store')
    .description(
      'Encrypts a value through the daemon\'s EncryptSecret and prints the envelope (sourced:enc:v1:...) to store with the data source and pass as its password\'s "encrypted" value. The value is read from stdin, or typed at a prompt that does not echo it; never from the command line. Nothing is kept by the daemon (docs/encryption.md).',
    )
    .addHelpText(
      'after',
      epilogue(
        [
          'printf %s "$DB_PASSWORD" | sourced encrypt --data-source-id orders-db',
          'sourced encrypt --data-source-id orders-db --field ssl_config.key < client.key',
          'sourced encrypt --data-source-id orders-db --key-provider aws-kms --json',
        ],
        'Exit codes: 0 ok, 2 bad input (no value, INVALID_ARGUMENT), 3 daemon unreachable, 4 other error (FAILED_PRECONDITION: no keyring or key; PERMISSION_DENIED).',
      ),
    )
    .action(async (options: o.EncryptOptions) => setExitCode(await commands.encrypt().runEncrypt(options)));

  program.commandsGroup('On this machine:');
  const audit = program
    .command('audit')
    .summary("check the hash chain of the daemon's audit log")
    .description("Checks the daemon's audit log (audit.file).")
    .helpCommand('help [COMMAND]', 'show the help of a command (as sourced audit COMMAND --help)')
    .addHelpText(
      'after',
      epilogue(
        ['sourced audit verify /var/log/sourced/audit.log', 'sourced audit verify audit.log --expect-last HASH --key env://SOURCED_AUDIT_KEY'],
        'Exit codes: 0 chain intact, 1 chain broken (the line is named), 2 bad input.',
      ),
    );
  audit
    .command('verify')
    .argument('<FILE>', 'an audit log the daemon wrote')
    .summary('check the hash chain (and the signed checkpoints) of an audit log')
    .description(
      `Checks the hash chain of an audit log the daemon wrote (audit.file): each line's hash against its content, its prev against the line before, its seq counting up by one. It finds a line that was edited, removed, inserted or moved. Removing lines from the end is only detectable against a hash recorded elsewhere: record the last hash it prints, and pass it later as --expect-last HASH (lines appended since then are fine).`,
    )
    .addOption(new Option('--expect-last <HASH>', 'the last hash recorded earlier: fails if a line up to it was changed or removed').argParser(sha256))
    .option(
      '--key <REF>',
      "check the signed checkpoints with the daemon's audit.signingKey, as a secret reference (env://NAME or file:///path): every checkpoint's signature, each restart against the previous run's signed close, and that every line is signed by a checkpoint after it",
    )
    .option('--allow-unsigned-tail', 'with --key: accept the latest lines of a running daemon that its next checkpoint will sign')
    .option('--json', 'print the result as one JSON object')
    .addHelpText(
      'after',
      epilogue(
        ['sourced audit verify /var/log/sourced/audit.log', 'sourced audit verify audit.log --expect-last 3f1c…e9 --key env://SOURCED_AUDIT_KEY --json'],
        'Exit codes: 0 chain intact, 1 chain broken (the line is named), 2 bad input (no FILE, unreadable file).',
      ),
    )
    .showHelpAfterError('(sourced audit verify --help lists its options)')
    .action(async (file: string, options: AuditVerifyOptions) => setExitCode(await commands.audit().runAuditVerify(file, options)));

  program
    .command('demo')
    .summary('try it: a daemon and an embedded PostgreSQL, validated and discovered')
    .description(
      "Starts PGlite (PostgreSQL in WebAssembly, in memory) on 127.0.0.1, seeds it with a small shop (schemas hr, inventory and sales), starts the daemon, and validates and discovers the database through the daemon's gRPC API, as a data platform would. Nothing to install, nothing left running; the data source file and the daemon's log stay in a temporary folder (with --keep, Ctrl-C removes it).",
    )
    .option('--keep', 'keep the daemon and the database running until Ctrl-C, to try them with grpcurl, buf curl or `sourced discover`')
    .addOption(new Option('--port <N>', "the daemon's port (default: a free one)").argParser(o.port))
    .option('--source <FILE>', 'also write the data source file to FILE (kept after the demo), for `sourced validate FILE` and the other commands')
    .option('--json', 'print one JSON summary instead of the report')
    .option('-v, --verbose', "the daemon's log on stderr (default: a file in the demo's folder)")
    .addHelpText(
      'after',
      epilogue(
        [
          'sourced demo',
          'sourced demo --keep --port 50051 --source demo-shop.json',
          'sourced demo --json | jq .ok    # npm run --silent demo -- --json, from the repository',
        ],
        'Exit codes: 0 the database validated and discovery found everything seeded, 1 otherwise,\n2 bad input, 4 the demo could not start, 130 interrupted.',
      ),
    )
    .showHelpAfterError('(sourced demo --help lists its options)')
    .action(async (options: DemoOptions) => setExitCode(await commands.demo().runDemo(options)));

  const plugin = program
    .command('plugin')
    .summary('write a plugin package (a connector or a secret provider)')
    .description('Tools for plugin authors (docs/plugins.md).')
    .helpCommand('help [COMMAND]', 'show the help of a command (as sourced plugin COMMAND --help)');
  plugin
    .command('init')
    .argument('<NAME>', 'the npm package name, for example sourced-plugin-duckdb (the plugin id drops the sourced-plugin- prefix)')
    .summary('write a plugin package that passes the conformance kit from its first npm test')
    .description(
      'Writes a plugin package: package.json (the plugin SDK by version range), tsconfig, the plugin with every capability stubbed and documented, the conformance kit wired into vitest, a fixture and a README. A connector reads a toy JSON database until you put your driver in; a secret provider reads a JSON file. Nothing is installed.',
    )
    .addOption(new Option('--kind <KIND>', 'what the plugin provides').choices(['connector', 'secret-provider']).default('connector'))
    .option('--dir <DIR>', 'the folder to write, new or empty (default: ./ID)')
    .addHelpText(
      'after',
      epilogue(
        ['sourced plugin init sourced-plugin-duckdb', 'sourced plugin init sourced-plugin-keeper --kind secret-provider --dir ./keeper'],
        'Exit codes: 0 written, 2 bad input (a name that is no npm name or plugin id, a folder that is not empty).',
      ),
    )
    .showHelpAfterError('(sourced plugin init --help lists its options)')
    .action((name: string, options: PluginInitOptions) => setExitCode(commands.pluginInit().runPluginInit(name, options)));

  program
    .command('help')
    .argument('[COMMAND]', 'the command to explain')
    .summary('show the help of a command (as sourced COMMAND --help)')
    .action((topic: string | undefined) => {
      if (topic === undefined) return program.help();
      const topics = program.commands.filter((c) => !['help', 'version'].includes(c.name()));
      const command = topics.find((c) => c.name() === topic);
      if (!command) throw new UsageError(`help: unknown command "${topic}" (one of ${topics.map((c) => c.name()).join(', ')})`);
      prepare(command);
      command.help();
    });
  program.command('version', { hidden: true }).action(() => {
    process.stdout.write(`${VERSION}\n`);
  });

  // serve's flags come from the daemon's configuration schema: added only when serve runs or shows its help.
  program.hook('preSubcommand', (_program, command) => prepare(command));

  program.addHelpText(
    'after',
    `\nExamples:\n${[
      'sourced serve --listen 127.0.0.1:50051 --config sourced.yaml',
      'sourced validate db.yaml',
      'sourced discover db.yaml --format ndjson --output catalog.ndjson',
      'sourced preview db.yaml --table sales.orders --limit 20',
      'sourced profile db.yaml --table sales.orders --mode sample --sample-rows 5000',
      'sourced plugins --json',
      'sourced audit verify /var/log/sourced/audit.log',
      'sourced demo',
      'sourced plugin init sourced-plugin-duckdb',
    ]
      .map((e) => `  ${e}`)
      .join('\n')}

${FILE_NOTE}

The client commands talk to a running daemon: --address HOST:PORT ($SOURCED_ADDRESS, default
127.0.0.1:50051); against TLS --ca FILE, for mutual TLS --cert FILE --key FILE. They print for a
person (colours and live progress on a terminal) or, with --json, one JSON object per event.
sourced help COMMAND (or sourced COMMAND --help) shows a command's options and more examples.
${EXIT_CODES}`,
  );
  return program;
}

/** Completes a command before it parses or shows its help: serve's flags from the config schema. */
function prepare(command: Command): void {
  if (command.name() === 'serve') commands.serve().addServeOptions(command);
}

/** A client command: FILE (or none), its own flags first, then the output and daemon flags. */
function clientCommand(program: Command, name: string, file: string | undefined, json: string, own?: (c: Command) => Command): Command {
  let command = program.command(name);
  if (file) command.argument(file, 'a data source as JSON or YAML');
  if (own) command = own(command).optionsGroup('');
  o.outputOptions(command, json);
  return o.daemonOptions(command).showHelpAfterError(`(sourced ${name} --help lists its options)`);
}

/** --table (required) and --column, of preview and profile. */
function tableOptions(command: Command, verb: string, column: string): Command {
  return command
    .addOption(
      new Option('--table <SCHEMA.NAME>', `what to ${verb} (MongoDB: DATABASE.COLLECTION); quote a name holding a dot: '"my.schema".orders'`)
        .argParser(o.tableName)
        .makeOptionMandatory(),
    )
    .addOption(o.listOption('--column <NAME>', column, 'all'));
}

/** A SHA-256 hash as verify prints it. */
function sha256(value: string): string {
  if (!/^[0-9a-f]{64}$/i.test(value)) throw new InvalidArgumentError('It is not a SHA-256 hash (64 hex digits, as verify prints it).');
  return value;
}
