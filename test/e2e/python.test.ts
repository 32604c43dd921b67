import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { parseDataSourceText } from '../../cli/src/dataSourceFile';
import { eventually, superuserQuery } from '../support/pg';
import { captureText } from '../support/secretScan';
import { startTestDaemon, type TestDaemon } from '../support/testDaemon';
import { CHECKS, RELATIONS, ROOT, TRACE_ID, run as runCommand, type Json, type Run } from '../shared/clientSmoke.behaviour';
import { DATA_SOURCE_CASES } from '../support/dataSourceCases';

/**
 * Debian's interpreter, which sees python3-grpcio and python3-protobuf (installed by
 * scripts/install-test-deps.sh); a pyenv `python3` first on PATH does not.
 */
const PYTHON = '/usr/bin/python3';
/** The made-up caller trace's parent span in clients/python/examples/smoke.py (its trace id is TRACE_ID). */
const PARENT_SPAN_ID = 'ab54a98ceb1f0ad2';
const run = (command: string, args: string[], stdin = ''): Promise<Run> => runCommand(command, args, stdin, { ...process.env, PYTHONDONTWRITEBYTECODE: '1' });
/** The table the smoke script previews and profiles. */
const TABLE = { schema: 'sales', name: 'customers' };

/**
 * Data-source files both readers must judge alike (issue 22, one file format): every good and
 * bad kind test/dataSourceFormat.test.ts checks against the schema, plus YAML's own traps (YAML
 * 1.1's `yes`, a key given twice, 0o octal). Each is read as .json and as .yaml (JSON is YAML).
 */
/** The CLI suite's documents (test/support/dataSourceCases.ts), plus cases of the Python reader's own. */
const FORMAT_DOCS: Record<string, unknown> = {
  ...Object.fromEntries(DATA_SOURCE_CASES.map((c) => [c.name, c.doc])),
  'a secret as a string (reference, envelope, value)': {
    type: 'postgres',
    credentials: { username: 'u', password: 'env://SOURCED_SECRET_X' },
    ssl_config: { key: 'sourced:enc:v1:abc' },
    cloud_config: { azure_client_secret: 'plain' },
  },
  'wrapped in data_source': { data_source: { type: 'postgres', location: 'CLOUD' } },
  'wrapped in dataSource with a typo': { dataSource: { type: 'postgres', primary: { hots: 'h' } } },
  'an unknown field far from any': { type: 'postgres', primary: { zzzzzzzz: 1 } },
  'an enum number that does not exist': { type: 'postgres', location: 9 },
  'a fractional port': { type: 'postgres', primary: { host: 'h', port: 5432.5 } },
  'a null value': { type: 'postgres', name: null },
  'a number for a secret': { type: 'postgres', credentials: { password: 5 } },
  'a list, not an object': ['postgres'],
  'several faults at once': { type: 'postgres', location: 'ONPREM', primery: {}, primary: { port: 'x' }, credentials: { pasword: 'x' } },
};
const FORMAT_YAML: Record<string, string> = {
  'YAML 1.1 yes is text in YAML 1.2': 'type: postgres\ncloud_config:\n  use_iam_auth: yes\n',
  'YAML true': 'type: postgres\ncloud_config: {use_iam_auth: true}\n',
  'a key given twice': 'type: postgres\ntype: mysql\n',
  'an octal port': 'type: postgres\nprimary: {host: h, port: 0o17}\n',
  'a hex port': 'type: postgres\nprimary: {host: h, port: 0x1F}\n',
  'a comment and short enums': '# a comment\ntype: postgres\nlocation: HYBRID   # with a secondary\nssl_config: {mode: DISABLE}\n',
  'a null port': 'type: postgres\nprimary: {host: h, port: ~}\n',
  'not a mapping': '- postgres\n',
  'a YAML merge key (not read: YAML 1.2)': 'base: &b {host: h}\ntype: postgres\nprimary:\n  <<: *b\n',
};

/** The CLI's verdict on a file: its contract JSON, or its message. */
function cliReads(text: string, name: string): { ok: boolean; value?: unknown; message?: string } {
  try {
    return { ok: true, value: parseDataSourceText(text, name) };
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}
/** Reads [{name, text}] from stdin with the Python client's reader; prints [{ok, value | message}]. */
const PYTHON_READS = `
import json, sys
sys.path.insert(0, "clients/python")
from sourced_client import DataSourceFileError, parse_data_source_text
out = []
for f in json.load(sys.stdin):
    try:
        out.append({"ok": True, "value": parse_data_source_text(f["text"], f["name"])})
    except DataSourceFileError as error:
        out.append({"ok": False, "message": str(error)})
print(json.dumps(out))
`;

describe('Python client (clients/python) against an in-process daemon', () => {
  const pg = inject('postgres');
  let missing: string | undefined;
  let generated: Run;
  let smoke: Run;
  let lines: Json[] = [];
  let t: TestDaemon | undefined;
  const events = (call: string) => lines.filter((l) => l.call === call && l.event).map((l) => l.event as Json);

  beforeAll(async () => {
    const probe = await run(PYTHON, ['-c', 'import grpc, google.protobuf']).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
    if (probe.code !== 0) {
      missing = `${PYTHON} cannot import grpc (apt-get install python3-grpcio python3-protobuf; scripts/install-test-deps.sh does): ${probe.stderr.trim().split('\n').at(-1)}`;
      return;
    }
    generated = await run('bash', ['clients/python/generate.sh']);
    if (generated.code !== 0) return;
    t = await startTestDaemon();
    const request = {
      address: t.address,
      data_source: {
        id: 'python-pg',
        type: 'postgres',
        location: 'ON_PREM', // the file format's short enum name
        primary: { host: pg.host, port: pg.port, database: pg.database },
        credentials: { username: pg.user, password: { inline_value: pg.password } },
      },
      table: `${TABLE.schema}.${TABLE.name}`,
    };
    smoke = await run(PYTHON, ['clients/python/examples/smoke.py'], JSON.stringify(request));
    captureText('python client output', `${smoke.stdout}\n${smoke.stderr}`);
    lines = smoke.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Json);
  }, 600_000);
  afterAll(() => t?.stop());

  it('generates the stubs and runs the smoke script', ({ expect, skip }) => {
    skip(missing !== undefined, missing);
    expect(generated.code, generated.stderr).toBe(0);
    // a messages module and a gRPC module per .proto file of the contract
    const protos = readdirSync(resolve(__dirname, '../../proto/sourced/v1')).filter((f) => f.endsWith('.proto')).length;
    expect(generated.stdout).toContain(`generated ${2 * protos} modules`);
    expect(smoke.code, smoke.stderr).toBe(0);
    expect(lines[0]).toEqual({ traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01` });
    expect(lines.at(-1)).toEqual({ done: true });
  });

  /** Every check's start and finish reaches Python in order, sequences without gaps, and the summary says ok. */
  it('streams every validation event to Python', ({ expect, skip }) => {
    skip(missing !== undefined, missing);
    const validate = events('validate');
    expect(validate.map((e) => Number(e.sequence))).toEqual(validate.map((_e, i) => i + 1));
    expect(validate.filter((e) => e.check_started).map((e) => e.check_started.check_id)).toEqual(CHECKS);
    const finished = validate.filter((e) => e.check_finished).map((e) => e.check_finished);
    expect(finished.map((c) => c.check_id)).toEqual(CHECKS);
    for (const c of finished) expect(['CHECK_STATUS_PASSED', 'CHECK_STATUS_WARNING', 'CHECK_STATUS_SKIPPED']).toContain(c.status);
    expect(validate.filter((e) => e.report)).toHaveLength(1);
    expect(validate.at(-1)?.summary).toMatchObject({ ok: true, endpoints: 1, connector: 'postgres' });
  });

  /** Discovery reaches Python in batches of 5: the fixture's relations in order, then the summary. */
  it('streams the discovered catalog to Python', ({ expect, skip }) => {
    skip(missing !== undefined, missing);
    const discover = events('discover');
    expect(discover.map((e) => Number(e.sequence))).toEqual(discover.map((_e, i) => i + 1));
    expect(discover[0].schemas).toBeDefined();
    const relations = discover.flatMap((e) => (e.batch?.relations ?? []) as Json[]);
    expect(relations.map((r) => `${r.schema}.${r.name}`)).toEqual(RELATIONS);
    expect(relations.find((r) => r.name === 'customers')?.columns.map((c: Json) => c.name)).toContain('email');
    expect(discover.filter((e) => e.batch).every((e) => e.batch.relations.length <= 5 && e.batch.cursor)).toBe(true);
    expect(discover.at(-1)?.summary).toMatchObject({ relations: RELATIONS.length });
  });

  /** Preview and profile stream to Python: the table's columns as the database lists them, 3 rows, a profile per column. */
  it('previews and profiles a table from Python as the database describes it', async ({ expect, skip }) => {
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
    expect(preview[0].header.table).toEqual(TABLE);
    expect(preview[0].header.columns.map((c: Json) => c.name)).toEqual(columns);
    const rows = preview.flatMap((e) => (e.rows?.rows ?? []) as Json[]);
    expect(rows).toHaveLength(Math.min(3, n));
    for (const row of rows) expect(row.cells).toHaveLength(columns.length);
    expect(preview.at(-1)?.summary).toMatchObject({ rows: Math.min(3, n), limit: 3 });

    const profile = events('profile');
    expect(profile.map((e) => Number(e.sequence))).toEqual(profile.map((_e, i) => i + 1));
    expect(profile[0].header).toMatchObject({ table: TABLE, mode: 'PROFILE_MODE_STATISTICS' });
    expect(profile.filter((e) => e.column).map((e) => e.column.name)).toEqual(columns);
    expect(profile.at(-1)?.summary).toMatchObject({ columns: columns.length });
  });

  /** examples/preview.py and examples/profile.py run as their docstrings say, on a YAML file with the short enum and a secret as a string. */
  it('runs the preview and profile examples on a YAML data-source file', async ({ expect, skip }) => {
    skip(missing !== undefined, missing);
    const dir = mkdtempSync(join(tmpdir(), 'sourced-python-'));
    try {
      const file = join(dir, 'source.yaml');
      writeFileSync(
        file,
        `type: postgres\nlocation: ON_PREM\nprimary: {host: ${pg.host}, port: ${pg.port}, database: ${pg.database}}\n` +
          `credentials:\n  username: ${pg.user}\n  password: ${JSON.stringify(pg.password)}\n`,
        { mode: 0o600 },
      );
      const env = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', SOURCED_ADDRESS: t!.address };
      const preview = await runCommand(PYTHON, ['clients/python/examples/preview.py', file, `${TABLE.schema}.${TABLE.name}`, '2'], '', env);
      const profile = await runCommand(PYTHON, ['clients/python/examples/profile.py', file, `${TABLE.schema}.${TABLE.name}`, 'STATISTICS'], '', env);
      captureText('python examples output', `${preview.stdout}${preview.stderr}${profile.stdout}${profile.stderr}`);
      expect(preview.code, preview.stderr).toBe(0);
      const out = preview.stdout.trim().split('\n');
      expect(out[0]).toMatch(/^id \(/); // the header: each column with its type
      expect(out).toHaveLength(4); // header, 2 rows, summary
      expect(out.at(-1)).toMatch(/^2 rows \(limit 2\)/);
      expect(profile.code, profile.stderr).toBe(0);
      expect(profile.stdout).toContain(`${TABLE.schema}.${TABLE.name}: `);
      expect(profile.stdout).toMatch(/\n  email \(/);
      expect(profile.stdout).toMatch(/columns profiled\n$/);

      // the command line refuses a misspelt file before any call: exit 2, the path and the nearest field
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, `type: postgres\nlocation: ON_PREM\nprimary: {host: ${pg.host}, databse: x}\n`);
      const refused = await runCommand(PYTHON, ['-m', 'sourced_client', 'validate', bad], '', { ...env, PYTHONPATH: resolve(ROOT, 'clients/python') });
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain('primary.databse: unknown field; did you mean "database"?');
      expect(refused.stderr).not.toContain('traceparent');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** The repository's example files read in Python as in the CLI (examples/postgres.json has the short enum ON_PREM). */
  it('reads the examples/ data-source files as the CLI does', async ({ expect, skip }) => {
    skip(missing !== undefined, missing);
    const names = readdirSync(resolve(ROOT, 'examples')).filter((f) => /\.(json|ya?ml)$/.test(f));
    expect(names).toContain('postgres.json');
    const files = names.map((name) => ({ name, text: readFileSync(resolve(ROOT, 'examples', name), 'utf8') }));
    const py = await run(PYTHON, ['-c', PYTHON_READS], JSON.stringify(files));
    expect(py.code, py.stderr).toBe(0);
    const read = JSON.parse(py.stdout) as Json[];
    files.forEach((f, i) => {
      expect(read[i], f.name).toEqual({ ok: true, value: cliReads(f.text, f.name).value });
    });
    expect(read[names.indexOf('postgres.json')].value).toMatchObject({
      location: 'LOCATION_ON_PREM',
      credentials: { password: { reference: 'env://SOURCED_SECRET_LOCAL_PG' } },
    });
  });

  /** Good and bad files, as JSON and YAML: Python accepts what the CLI accepts (the same contract JSON) and refuses the rest with the CLI's words. */
  it('accepts and refuses the same data-source files as the CLI, with the same messages', async ({ expect, skip }) => {
    skip(missing !== undefined, missing);
    const files = [
      ...Object.entries(FORMAT_DOCS).flatMap(([name, doc]) => [
        { name: `${name}.json`, text: JSON.stringify(doc) },
        { name: `${name}.yaml`, text: JSON.stringify(doc, null, 2) },
      ]),
      ...Object.entries(FORMAT_YAML).map(([name, text]) => ({ name: `${name}.yaml`, text })),
    ];
    const py = await run(PYTHON, ['-c', PYTHON_READS], JSON.stringify(files));
    expect(py.code, py.stderr).toBe(0);
    const read = JSON.parse(py.stdout) as Json[];
    const cli = files.map((f) => cliReads(f.text, f.name));
    files.forEach((f, i) => {
      // a YAML syntax error is worded by each YAML parser; the verdict and the place agree
      const syntax = /^(.*? is not valid YAML: )[^]*?(line \d+, column \d+)/.exec(cli[i].message ?? '');
      if (syntax) expect(read[i].message, f.name).toMatch(new RegExp(`^${syntax[1].replace(/[.*+?^${}()|[\]\\$]/g, '\\$&')}.*${syntax[2]}`));
      else expect(read[i], f.name).toEqual(cli[i]);
    });
    // both kinds occur, and the typos name the nearest field
    expect(cli.filter((c) => c.ok).length).toBeGreaterThan(10);
    expect(cli.filter((c) => !c.ok).length).toBeGreaterThan(20);
    expect(read[files.findIndex((f) => f.name === 'a typo in a field.json')].message).toContain('primary.databse: unknown field; did you mean "database"?');
  });

  /** A bad request fails in Python with INVALID_ARGUMENT, and the google.rpc.BadRequest and ErrorInfo are decoded from the trailer. */
  it('decodes the rich error details in Python', ({ expect, skip }) => {
    skip(missing !== undefined, missing);
    const invalid = lines.filter((l) => l.call === 'invalid');
    expect(invalid).toHaveLength(1);
    expect(invalid[0].error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(invalid[0].error.field_violations.map((v: Json) => v.field)).toContain('data_source.primary.host');
    // google.rpc.ErrorInfo: a stable reason in the daemon's domain, and the caller's trace
    expect(invalid[0].error).toMatchObject({ domain: 'sourced.dev', metadata: { trace_id: TRACE_ID } });
    expect(invalid[0].error.reason).toMatch(/^[A-Z_]+$/);
  });

  /** The daemon's SERVER spans of the four streaming calls continue the trace of the Python client's traceparent. */
  it('continues the Python caller trace in the daemon SERVER spans', async ({ expect, skip }) => {
    skip(missing !== undefined, missing);
    const names = ['ValidateDataSource', 'DiscoverDataSource', 'PreviewTable', 'ProfileTable'].map((m) => `sourced.v1.DataSourceService/${m}`);
    const spans = await eventually(
      async () => t!.spans.getFinishedSpans().filter((s) => s.spanContext().traceId === TRACE_ID && s.kind === SpanKind.SERVER),
      (found) => names.every((n) => found.some((s) => s.name === n)) && found.length >= 5,
    );
    for (const name of names) {
      const server = spans.filter((s) => s.name === name);
      expect(server.length, name).toBeGreaterThan(0);
      for (const s of server) expect(s.parentSpanContext?.spanId).toBe(PARENT_SPAN_ID);
    }
    // two validations (the good one and the refused one), one discovery, one preview, one profile
    expect(spans).toHaveLength(5);
  });
});
