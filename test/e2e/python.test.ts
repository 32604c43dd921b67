import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { eventually } from '../support/pg';
import { captureText } from '../support/secretScan';
import { startTestDaemon, type TestDaemon } from '../support/testDaemon';
import { CHECKS, RELATIONS, ROOT, TRACE_ID, run as runCommand, type Json, type Run } from '../shared/clientSmoke.behaviour';

/**
 * Debian's interpreter, which sees python3-grpcio and python3-protobuf (installed by
 * scripts/install-test-deps.sh); a pyenv `python3` first on PATH does not.
 */
const PYTHON = '/usr/bin/python3';
/** The made-up caller trace's parent span in clients/python/examples/smoke.py (its trace id is TRACE_ID). */
const PARENT_SPAN_ID = 'ab54a98ceb1f0ad2';
const run = (command: string, args: string[], stdin = ''): Promise<Run> => runCommand(command, args, stdin, { ...process.env, PYTHONDONTWRITEBYTECODE: '1' });

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
        primary: { host: pg.host, port: pg.port, database: pg.database },
        credentials: { username: pg.user, password: { inline_value: pg.password } },
      },
    };
    smoke = await run(PYTHON, ['clients/python/examples/smoke.py'], JSON.stringify(request));
    captureText('python client output', `${smoke.stdout}\n${smoke.stderr}`);
    lines = smoke.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Json);
  });
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

  /** The daemon's SERVER spans of both calls continue the trace of the Python client's traceparent. */
  it('continues the Python caller trace in the daemon SERVER spans', async ({ expect, skip }) => {
    skip(missing !== undefined, missing);
    const names = ['sourced.v1.DataSourceService/ValidateDataSource', 'sourced.v1.DataSourceService/DiscoverDataSource'];
    const spans = await eventually(
      async () => t!.spans.getFinishedSpans().filter((s) => s.spanContext().traceId === TRACE_ID && s.kind === SpanKind.SERVER),
      (found) => names.every((n) => found.some((s) => s.name === n)) && found.length >= 3,
    );
    for (const name of names) {
      const server = spans.filter((s) => s.name === name);
      expect(server.length, name).toBeGreaterThan(0);
      for (const s of server) expect(s.parentSpanContext?.spanId).toBe(PARENT_SPAN_ID);
    }
    // two validations (the good one and the refused one) and one discovery
    expect(spans).toHaveLength(3);
  });
});
