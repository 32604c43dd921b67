/**
 * The `sourced` command-line client end to end: the CLI as a process of its own against a daemon process.
 *
 * Why one file (~600 lines): every case runs the CLI against the one daemon process this file starts (with its data
 * sources and files), in two concurrent groups; splitting would start a daemon process per file on two shared cores.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../harness/ports';
import { hasScript, runCli, runCliInPty, startDaemonProcess, type CliResult, type DaemonProcess } from './support/processes';

type Json = Record<string, unknown>;
const ndjson = (text: string): Json[] =>
  text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Json);

/** Every relation of the fixture the test role may see, in byte order of (schema, name). */
const FIXTURE_RELATIONS = [
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

/** SGR colour codes (ESC [ ... m). */
const SGR = /\x1b\[[0-9;]*m/g;
/** Carriage return + erase line: how the client rewrites its live line. */
const CLEAR = '\r\x1b[2K';

/**
 * What a terminal shows at the end: each line is what follows the last "erase line" in it (the
 * live line is rewritten in place), colours removed. Lines that end up empty are dropped.
 */
const screen = (output: string): string[] =>
  output
    .replace(SGR, '')
    .split('\n')
    .map((line) => (line.includes(CLEAR) ? line.slice(line.lastIndexOf(CLEAR) + CLEAR.length) : line))
    .filter((line) => line !== '');

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
  /** ARGS, with the test daemon's --address for a client command that names no other. */
  const withAddress = (args: string[]) => {
    const client = ['validate', 'discover', 'plugins'].includes(args[0]) && !args.includes('--address');
    return client ? [...args, '--address', daemon.address] : args;
  };
  /** Runs `sourced ARGS...` with extra environment; a client command talks to the test daemon. */
  const sourcedWith = async (env: Record<string, string>, ...args: string[]) => {
    const result = await runCli(withAddress(args), env);
    outputs.push(result);
    return result;
  };
  /** Runs `sourced ARGS...`; a client command talks to the test daemon unless ARGS name another --address. */
  const sourced = (...args: string[]) => sourcedWith({}, ...args);
  /** Runs `sourced ARGS...` on a pseudo-terminal; its output is recorded for the password check. */
  const sourcedOnPty = async (env: Record<string, string>, ...args: string[]) => {
    const result = await runCliInPty(withAddress(args), env);
    outputs.push({ code: result.code, stdout: result.output, stderr: '' });
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
    /** `--help` prints the usage, naming every command with its arguments (commander's list), and exits 0. */
    it('prints its usage with --help', async ({ expect }) => {
      const r = await sourced('--help');
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n');
      for (const command of [
        'serve [options]',
        'validate [options] <FILE>',
        'discover [options] <FILE>',
        'preview [options] <FILE>',
        'profile [options] <FILE>',
        'plugins [options]',
        'audit',
        'demo [options]',
      ]) {
        expect(
          lines.some((l) => l.startsWith(`  ${command}  `)),
          command,
        ).toBe(true);
      }
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
      expect(r.stdout).toContain(`primary ${pg.host}:${pg.port}: OK (7 passed, 0 failed, 1 warning, 1 skipped)`);
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
      expect(r.code, r.stdout + r.stderr).toBe(0);
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
      expect(r.stdout).toMatch(/^1 schema, \d+ tables, \d+ views, \d+ columns in \d+ batch(es)?, \d+ ms$/m);
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
      [
        'HYBRID without a secondary',
        'hybrid.yaml',
        'type: postgres\nlocation: HYBRID\nprimary: { host: 127.0.0.1, port: 5432, database: app }\n',
        'data_source.secondary: is required when location is HYBRID',
      ],
      [
        'a port out of range',
        'port.json',
        JSON.stringify({ type: 'postgres', primary: { host: '127.0.0.1', port: 70000 } }),
        'data_source.primary.port: 70000 is not a TCP port (1-65535)',
      ],
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
      // grpc-js's empty "Resolution note: " label is not printed (issue 22, item 10).
      expect(r.stderr).not.toContain('Resolution note');
    });

    /** A database the daemon cannot reach is the daemon's answer, not an unreachable daemon: exit 4, no hint to start the daemon. */
    it('tells an unreachable database from an unreachable daemon', async ({ expect }) => {
      const port = await freePort();
      const closed = file(
        'closed.json',
        JSON.stringify({
          type: 'postgres',
          primary: { host: '127.0.0.1', port, database: 'x' },
          credentials: { username: 'u', password: 'env://SOURCED_SECRET_CLI_PG' },
        }),
      );
      const r = await sourced('discover', closed);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(`sourced: UNAVAILABLE: connection refused by 127.0.0.1:${port}`);
      expect(r.stderr).not.toContain('is the daemon running?');
    });

    /** An unknown command exits 2 and shows the usage; a near miss gets a suggestion. */
    it('exits 2 with the usage for an unknown command', async ({ expect }) => {
      const r = await sourced('frobnicate');
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("sourced: unknown command 'frobnicate'");
      expect(r.stderr).toContain('Usage:');
      const typo = await sourced('validte', 'a.json');
      expect(typo.code).toBe(2);
      expect(typo.stderr).toContain('(Did you mean validate?)');
    });
  });

  describe.concurrent('for people and scripts', () => {
    /** The general help names every command with a one-line summary, and gives an example of each, the demo included. */
    it('lists every command with an example in sourced --help', async ({ expect }) => {
      const r = await sourced('--help');
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n');
      const examples = r.stdout.split('Examples:\n')[1]?.split('\n\n')[0].split('\n') ?? [];
      for (const command of ['serve', 'validate', 'discover', 'preview', 'profile', 'plugins', 'audit', 'demo']) {
        expect(
          lines.find((l) => l.startsWith(`  ${command} `)),
          command,
        ).toMatch(/ {2}[a-z]/);
        expect(
          examples.some((e) => e.startsWith(`  sourced ${command} `) || e === `  sourced ${command}`),
          command,
        ).toBe(true);
      }
      expect(r.stdout).toMatch(/^ {2}demo \[options\] +try it: a daemon and an embedded PostgreSQL/m);
      expect(r.stdout).toMatch(/^Exit codes: 0 ok, 1 validation failed .*2 bad input .*3 daemon unreachable,\n4 other error \(PERMISSION_DENIED: /m);
    });

    /** `sourced COMMAND --help` and `sourced help COMMAND` print the same text: usage, flags, examples, exit codes. */
    it.for(['serve', 'validate', 'discover', 'plugins'])('prints the help of %s with examples', async (command, { expect }) => {
      const [flag, topic] = await Promise.all([sourced(command, '--help'), sourced('help', command)]);
      for (const r of [flag, topic]) {
        expect(r.code).toBe(0);
        expect(r.stderr).toBe('');
      }
      expect(topic.stdout).toBe(flag.stdout);
      expect(flag.stdout).toMatch(new RegExp(`^Usage: sourced ${command}`));
      const examples = flag.stdout.split('Examples:\n')[1]?.split('\n\n')[0].split('\n') ?? [];
      expect(examples.length).toBeGreaterThan(1);
      for (const e of examples) expect(e).toMatch(new RegExp(`^  sourced ${command}\\b`));
      expect(flag.stdout).toMatch(/^Exit codes: 0 /m);
    });

    /** Help for the audit subcommand comes from it; an unknown topic is a usage error. */
    it('prints help for audit and refuses an unknown topic', async ({ expect }) => {
      const audit = await sourced('help', 'audit');
      expect(audit.code).toBe(0);
      expect(audit.stdout).toMatch(/^ {2}verify \[options\] <FILE> /m);
      expect(audit.stdout).toContain('sourced audit verify /var/log/sourced/audit.log');
      const unknown = await sourced('help', 'frobnicate');
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('help: unknown command "frobnicate"');
    });

    /** No command at all: the usage on stderr (not the output a script reads), exit 2. */
    it('exits 2 with the usage on stderr when given no command', async ({ expect }) => {
      const r = await sourced();
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('Usage: sourced COMMAND');
    });

    /** Every kind of usage mistake is exit 2 with one line saying what, before anything reaches the daemon. */
    it.for([
      [['validate'], "missing required argument 'FILE'"],
      [['validate', 'a.json', 'b.json'], "too many arguments for 'validate'"],
      [['validate', 'a.json', '--bogus'], "unknown option '--bogus'"],
      [['validate', 'a.json', '--jsn'], '(Did you mean --json?)'],
      [['discover', 'a.json', '--format', 'xml'], "option '--format <FORMAT>' argument 'xml' is invalid. Allowed choices are tree, text, ndjson."],
      [['discover', 'a.json', '--json', '--format', 'tree'], "option '--format <FORMAT>' cannot be used with option '--json'"],
      [['discover', 'a.json', '--batch-size', '-1'], "option '--batch-size <N>' argument '-1' is invalid"],
      [['plugins', 'extra'], "too many arguments for 'plugins'"],
      [['validate', 'a.json', '--timeout', 'soon'], "option '--timeout <SECONDS>' argument 'soon' is invalid"],
      [['serve', '--log-level', 'loud'], 'flag --log-level: "loud" is not one of debug, info, warn, error'],
      [['serve', '--listen-on', '127.0.0.1:0'], "unknown option '--listen-on'"],
      [['audit', 'verify'], "missing required argument 'FILE'"],
    ] as Array<[string[], string]>)('exits 2 for sourced %j', async ([args, message], { expect }) => {
      const r = await sourced(...args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^sourced: /);
      expect(r.stderr).toContain(message);
    });

    /** --output writes the result to the file (truncating what was there); stdout stays empty. */
    it('writes the validation to --output FILE', async ({ expect }) => {
      const out = file('validation.txt', 'stale line\n'.repeat(500));
      const r = await sourced('validate', contractJson, '--output', out);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe('');
      const text = readFileSync(out, 'utf8');
      expect(text).not.toContain('stale line');
      expect(text).toMatch(/^\[ok {2}\] Authenticate \(\d+\.\d ms\): /m);
      expect(text).toMatch(/^valid in \d+ ms\n$/m);
    });

    /** A failed validation into a file still exits 1; --json goes to the file too. */
    it('exits 1 with --output and --json when the validation fails', async ({ expect }) => {
      const wrong = file(
        'wrong-password-2.json',
        JSON.stringify({
          type: 'postgres',
          primary: { host: pg.host, port: pg.port, database: pg.database },
          credentials: { username: pg.user, password: wrongPassword },
        }),
      );
      const out = join(dir, 'failed.ndjson');
      const r = await sourced('validate', wrong, '--json', '--output', out);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      const events = ndjson(readFileSync(out, 'utf8'));
      const summary = events.at(-1)?.summary as Json;
      expect(summary).toMatchObject({ connector: 'postgres' });
      expect(summary.ok ?? false).toBe(false); // the contract's JSON leaves out a false
      expect(events.some((e) => (e.checkFinished as Json | undefined)?.status === 'CHECK_STATUS_FAILED')).toBe(true);
    });

    /** An --output the client cannot create is bad input: exit 2, named. */
    it('exits 2 when --output cannot be written', async ({ expect }) => {
      const r = await sourced('validate', contractJson, '--output', join(dir, 'no-such-folder', 'out.txt'));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^sourced: --output: cannot write .*no-such-folder\/out\.txt \(ENOENT\)/);
    });

    /** Colours only when asked for outside a terminal: FORCE_COLOR colours the plain marks; nothing else does. */
    it('colours piped output only with FORCE_COLOR', async ({ expect }) => {
      const [plain, forced] = await Promise.all([sourced('validate', contractJson), sourcedWith({ FORCE_COLOR: '1' }, 'validate', contractJson)]);
      expect(plain.stdout).not.toMatch(SGR);
      expect(forced.code).toBe(0);
      expect(forced.stdout).toMatch(/^\[\x1b\[32mok {2}\x1b\[39m\] Authenticate /m);
      expect(forced.stdout.replace(SGR, '').split('\n').length).toBe(plain.stdout.split('\n').length);
    });

    /** --format ndjson: one object per schema and relation with a kind, the contract's JSON inside; every fixture relation is there. */
    it('writes entities as NDJSON with --format ndjson', async ({ expect }) => {
      const r = await sourced('discover', contractJson, '--format', 'ndjson', '--batch-size', '5');
      expect(r.code).toBe(0);
      const entities = ndjson(r.stdout);
      expect(new Set(entities.map((e) => e.kind))).toEqual(new Set(['schema', 'relation']));
      const schemas = entities.filter((e) => e.kind === 'schema').map((e) => e.schema as Json);
      expect(schemas.map((x) => x.name)).toEqual(expect.arrayContaining(['sales', 'inventory', 'empty_schema']));
      const relations = entities.filter((e) => e.kind === 'relation').map((e) => e.relation as Json);
      expect(relations.map((x) => `${String(x.schema)}.${String(x.name)}`).sort()).toEqual(FIXTURE_RELATIONS);
      expect(relations.find((x) => x.name === 'orders')).toMatchObject({ kind: 'RELATION_KIND_TABLE', primaryKey: { columns: ['id'] } });
      expect(relations.find((x) => x.name === 'daily_revenue')).toMatchObject({ kind: 'RELATION_KIND_MATERIALIZED_VIEW' });
      expect((relations.find((x) => x.name === 'orders')?.columns as Json[]).length).toBeGreaterThan(3);
      // The person's lines go to stderr, out of the way of the JSON: the warning and the summary.
      expect(r.stderr).toContain('warning SCHEMA_NOT_USABLE');
      expect(r.stderr).toMatch(/^\d+ schemas?, 10 tables, 2 views, \d+ columns in 3 batches, \d+ ms$/m);
    });

    /** --format ndjson --output FILE: the file holds the entities, stdout nothing. */
    it('writes the NDJSON entities to --output FILE', async ({ expect }) => {
      const out = join(dir, 'catalog.ndjson');
      const r = await sourced('discover', looseYaml, '--format', 'ndjson', '--output', out, '--include-schema', 'inventory');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('');
      const relations = ndjson(readFileSync(out, 'utf8')).filter((e) => e.kind === 'relation');
      expect(relations.map((e) => `${String((e.relation as Json).schema)}.${String((e.relation as Json).name)}`).sort()).toEqual(
        FIXTURE_RELATIONS.filter((x) => x.startsWith('inventory.')),
      );
    });

    /** --format tree: each schema, then its relations one per line (├── … └──) with kind, columns, pk, fks, indexes; then the summary. */
    it('prints a summary tree with --format tree', async ({ expect }) => {
      const r = await sourced('discover', contractJson, '--format', 'tree');
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(SGR);
      const lines = r.stdout.trimEnd().split('\n');
      // Piped, the tree is drawn in ASCII.
      const sales = lines.indexOf('sales -- Orders and customers');
      expect(sales).toBeGreaterThan(-1);
      const children = [];
      for (let i = sales + 1; /^(\|--|`--) /.test(lines[i]); i++) children.push(lines[i]);
      // The schema's relations, then its sequences and types (issue 19), the last drawn with `--.
      const relations = children.filter((l) => / (table|view|materialized view|partitioned table|foreign table) {2,}\d+ columns /.test(l));
      expect(relations).toHaveLength(8);
      expect(children.slice(0, -1).every((l) => l.startsWith('|-- '))).toBe(true);
      expect(children.at(-1)).toMatch(/^`-- /);
      expect(children).toContainEqual(expect.stringMatching(/^\|-- orders_id_seq +sequence +bigint +owned by orders\.id$/));
      expect(children).toContainEqual(expect.stringMatching(/^\S+ order_status +enum type +4 labels$/));
      expect(children.find((l) => / orders /.test(l))).toMatch(/^\|-- orders +table +\d+ columns +pk \(id\) +1 fk +\d+ indexes +1 check +~3,000 rows$/);
      expect(children.find((l) => / order_lines /.test(l))).toMatch(/ table +\d+ columns +pk \(order_id, line_no\) +2 fks +1 index +~6,000 rows$/);
      expect(children.find((l) => / customer_order_totals /.test(l))).toMatch(/ view +4 columns +no pk +0 fks +0 indexes/);
      expect(children.find((l) => / daily_revenue /.test(l))).toMatch(/ materialized view +3 columns /);
      expect(lines[lines.indexOf('empty_schema') + 1]).toBe('`-- no relations');
      expect(lines.some((l) => l.startsWith('warning SCHEMA_NOT_USABLE: '))).toBe(true);
      expect(lines.at(-1)).toMatch(/^\d+ schemas?, 10 tables, 2 views, \d+ columns in \d+ batch(es)?, \d+ ms$/);
    });

    /** plugins --output: the list in the file. */
    it('writes the plugin list to --output FILE', async ({ expect }) => {
      const out = join(dir, 'plugins.txt');
      const r = await sourced('plugins', '--output', out);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('');
      expect(readFileSync(out, 'utf8')).toMatch(/^postgres \S+ loaded: connector postgres/m);
    });

    /** Exit 3 from every client command when no daemon listens. */
    it.for(['discover', 'plugins'])('exits 3 from %s when nothing listens at the address', async (command, { expect }) => {
      const args = command === 'plugins' ? [command] : [command, contractJson];
      const r = await sourced(...args, '--address', `127.0.0.1:${await freePort()}`);
      expect(r.code).toBe(3);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('is the daemon running?');
    });

    /** The daemon refusing input on discover is exit 2 too, as on validate. */
    it('exits 2 when the daemon refuses the data source of discover', async ({ expect }) => {
      const r = await sourced(
        'discover',
        file('port-2.json', JSON.stringify({ type: 'postgres', primary: { host: '127.0.0.1', port: 70000 } })),
        '--format',
        'ndjson',
      );
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^sourced: INVALID_ARGUMENT: /);
    });

    /** serve that cannot listen (the port is the test daemon's) exits 4 with the reason. */
    it('exits 4 when serve cannot start', async ({ expect }) => {
      const r = await sourced('serve', '--listen', daemon.address);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain('sourced: cannot start:');
    });
  });

  /**
   * On a terminal: the live lines. util-linux `script` gives the client a real pseudo-terminal;
   * the test reads what was drawn and, by replaying the "erase line" sequences, what stays on screen.
   */
  const pty = hasScript();
  if (!pty)
    console.warn(
      'cli.test.ts: SKIPPING the terminal tests: util-linux `script` is not installed (apt-get install bsdutils) to give the client a pseudo-terminal',
    );
  (pty ? describe.concurrent : describe.skip)('on a terminal (util-linux script)', () => {
    /** Each check shows "running <title>…" while it runs, then that line is replaced by its coloured result. */
    it('shows each check live and replaces it with the result', async ({ expect }) => {
      const r = await sourcedOnPty({}, 'validate', contractJson);
      expect(r.code).toBe(0);
      const plain = r.output.replace(SGR, '');
      expect(plain).toMatch(/running Authenticate…\r\x1b\[2K✔ Authenticate \(\d+\.\d ms\): /);
      expect(r.output).toMatch(/\x1b\[32m✔\x1b\[39m Authenticate/);
      const lines = screen(r.output);
      expect(lines.filter((l) => l.includes('running'))).toEqual([]);
      const marks = lines.filter((l) => /^[✔✖!–] /.test(l)).map((l) => l[0]);
      expect(marks).toEqual(['✔', '✔', '✔', '–', '✔', '✔', '!', '✔', '✔']);
      expect(lines).toContain(`primary ${pg.host}:${pg.port}: OK (7 passed, 0 failed, 1 warning, 1 skipped)`);
      expect(lines.at(-1)).toMatch(/^valid in \d+ ms$/);
    });

    /** A failed check: ✖ in red, its hint on its own indented line, exit 1. */
    it('marks a failed check and its hint on a terminal', async ({ expect }) => {
      const wrong = file(
        'wrong-password-pty.json',
        JSON.stringify({
          type: 'postgres',
          primary: { host: pg.host, port: pg.port, database: pg.database },
          credentials: { username: pg.user, password: wrongPassword },
        }),
      );
      const r = await sourcedOnPty({}, 'validate', wrong);
      expect(r.code).toBe(1);
      expect(r.output).toMatch(/\x1b\[31m✖\x1b\[39m Authenticate/);
      const lines = screen(r.output);
      const auth = lines.findIndex((l) => l.startsWith('✖ Authenticate'));
      expect(lines[auth + 1]).toMatch(/^ {2}hint: \S/);
      expect(lines.at(-1)).toMatch(/^NOT valid in \d+ ms$/);
    });

    /** NO_COLOR: no colour codes and the plain marks, though the running line is still live. */
    it.for([
      ['NO_COLOR=1', { NO_COLOR: '1' }, []],
      ['--no-color', {}, ['--no-color']],
    ] as Array<[string, Record<string, string>, string[]]>)('drops colours and marks with %s but stays live', async ([, env, flags], { expect }) => {
      const r = await sourcedOnPty(env, 'validate', contractJson, ...flags);
      expect(r.code).toBe(0);
      expect(r.output).not.toMatch(SGR);
      expect(r.output).toMatch(/running Authenticate…\r\x1b\[2K\[ok {2}\] Authenticate/);
      expect(screen(r.output).filter((l) => l.startsWith('[ok  ] '))).toHaveLength(7);
    });

    /** Discovery on a terminal: a progress line while it runs, erased at the end; the tree is the default output. */
    it('shows discovery progress and prints the tree', async ({ expect }) => {
      const r = await sourcedOnPty({}, 'discover', contractJson, '--batch-size', '2');
      expect(r.code).toBe(0);
      const plain = r.output.replace(SGR, '');
      expect(plain).toMatch(/discovering… \d+ (of \d+ )?entities · \d+\/s · \d+\.\d s/);
      const lines = screen(r.output);
      expect(lines.filter((l) => l.includes('discovering'))).toEqual([]);
      expect(lines).toContain('sales — Orders and customers');
      expect(lines.find((l) => /^[├└]── orders /.test(l))).toMatch(/table +\d+ columns +pk \(id\)/);
      expect(lines.filter((l) => l.startsWith('├── ')).length).toBeGreaterThan(5);
      expect(lines.at(-1)).toMatch(/^\d+ schemas, 10 tables, 2 views, \d+ columns in 6 batches, \d+ ms$/);
    });

    /** Progress stays on the terminal's stderr; --output gets only the entities. */
    it('keeps progress off the --output file', async ({ expect }) => {
      const out = join(dir, 'pty-catalog.ndjson');
      const r = await sourcedOnPty({}, 'discover', contractJson, '--format', 'ndjson', '--output', out);
      expect(r.code).toBe(0);
      expect(r.output).toContain('discovering…');
      const text = readFileSync(out, 'utf8');
      expect(text).not.toMatch(/discovering|\x1b/);
      expect(ndjson(text).filter((e) => e.kind === 'relation')).toHaveLength(FIXTURE_RELATIONS.length);
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
