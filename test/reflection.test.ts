import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

const run = promisify(execFile);
const BUF = resolve(__dirname, '../node_modules/.bin/buf');

/** `buf curl`, a real Go reflection client, as an operator would run it: no .proto files. */
async function bufCurl(t: TestDaemon, args: string[]): Promise<string> {
  const { stdout } = await run(BUF, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args], { timeout: 30_000 });
  return stdout;
}

/** Splits buf curl's output (pretty JSON messages one after another) into objects. */
function messages(stdout: string): Record<string, unknown>[] {
  return stdout
    .split(/\n(?=\{)/)
    .filter((s) => s.trim())
    .map((s) => JSON.parse(s) as Record<string, unknown>);
}

describe('server reflection', () => {
  const pg = inject('postgres');
  let t: TestDaemon;
  beforeAll(async () => {
    process.env.SOURCED_SECRET_REFLECTION_PG = pg.password;
    t = await startTestDaemon();
  });
  afterAll(() => t.stop());

  it('lists every service, health included', async () => {
    const out = await bufCurl(t, ['--list-methods', `http://${t.address}`]);
    expect(out.trim().split('\n').sort()).toEqual([
      'grpc.health.v1.Health/Check',
      'grpc.health.v1.Health/List',
      'grpc.health.v1.Health/Watch',
      'sourced.v1.DataSourceService/DiscoverDataSource',
      'sourced.v1.DataSourceService/PreviewTable',
      'sourced.v1.DataSourceService/ProfileTable',
      'sourced.v1.DataSourceService/ValidateDataSource',
      'sourced.v1.PluginService/GetPlugin',
      'sourced.v1.PluginService/ListPlugins',
      'sourced.v1.SecretService/EncryptSecret',
      'sourced.v1.SecretService/ReencryptSecret',
    ]);
  });

  it('answers the health check', async () => {
    const out = await bufCurl(t, [`http://${t.address}/grpc.health.v1.Health/Check`]);
    expect(JSON.parse(out)).toEqual({ status: 'SERVING' });
  });

  const dataSource = () => ({
    type: 'postgres',
    primary: { host: pg.host, port: pg.port, database: pg.database },
    credentials: { username: pg.user, password: { reference: 'env://SOURCED_SECRET_REFLECTION_PG' } },
  });

  /** Both streaming RPCs work from JSON typed by hand, as the README shows. */
  it('calls ValidateDataSource with JSON', async () => {
    const out = await bufCurl(t, ['-d', JSON.stringify({ data_source: dataSource() }), `http://${t.address}/sourced.v1.DataSourceService/ValidateDataSource`]);
    const events = messages(out);
    expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => String(i + 1)));
    const finished = events.flatMap((e) => (e.checkFinished ? [e.checkFinished as { checkId: string; status: string }] : []));
    expect(finished.find((c) => c.checkId === 'authenticate')?.status).toBe('CHECK_STATUS_PASSED');
    expect(events.at(-1)).toHaveProperty('summary');
  });

  /** PreviewTable from JSON typed by hand, as the README shows: a header, rows of lossless cells, a summary. */
  it('calls PreviewTable with JSON', async () => {
    const out = await bufCurl(t, [
      '-d',
      JSON.stringify({ data_source: dataSource(), table: { schema: 'sales', name: 'customers' }, columns: ['id', 'email'], limit: 2 }),
      `http://${t.address}/sourced.v1.DataSourceService/PreviewTable`,
    ]);
    const events = messages(out);
    const header = events[0].header as { columns: { name: string; dataType: string }[] };
    expect(header.columns.map((c) => c.name)).toEqual(['id', 'email']);
    const rows = events.flatMap((e) => (e.rows as { rows: { cells: Record<string, unknown>[] }[] } | undefined)?.rows ?? []);
    expect(rows.map((r) => r.cells[0])).toEqual([{ integer: '1' }, { integer: '2' }]);
    expect(events.at(-1)).toMatchObject({ summary: { rows: 2, truncated: true, limit: 2 } });
  });

  /** ProfileTable from JSON typed by hand, as the README shows: a header, one event per column, a summary. */
  it('calls ProfileTable with JSON', async () => {
    const out = await bufCurl(t, [
      '-d',
      JSON.stringify({
        data_source: dataSource(),
        table: { schema: 'sales', name: 'customers' },
        columns: ['country_code'],
        mode: 'PROFILE_MODE_SAMPLE',
        sample_rows: 50,
      }),
      `http://${t.address}/sourced.v1.DataSourceService/ProfileTable`,
    ]);
    const events = messages(out);
    expect(events[0]).toHaveProperty('header');
    const column = events[1].column as { name: string; nullFraction: number; distinctCount: number; distinctExact?: boolean; methods?: Record<string, string> };
    // 50 of the table's 1,000 rows: the distinct count is the sample's estimate, and says so (issue 16).
    expect(column).toMatchObject({ name: 'country_code', nullFraction: 0, distinctCount: 4, methods: { distinctCount: 'FIGURE_METHOD_SAMPLED' } });
    expect(column.distinctExact ?? false).toBe(false);
    expect(events.at(-1)).toMatchObject({ summary: { columns: 1 } });
  });

  it('calls DiscoverDataSource with JSON', async () => {
    const out = await bufCurl(t, [
      '-d',
      JSON.stringify({ data_source: dataSource(), filter: { include_schemas: ['sales'], include_tables: ['orders'] } }),
      `http://${t.address}/sourced.v1.DataSourceService/DiscoverDataSource`,
    ]);
    const events = messages(out);
    const batch = events.find((e) => e.batch)?.batch as { relations: { schema: string; name: string; columns: unknown[] }[] };
    expect(batch.relations.map((r) => `${r.schema}.${r.name}`)).toEqual(['sales.orders']);
    expect(batch.relations[0].columns.length).toBe(7);
    expect(events.at(-1)).toHaveProperty('summary');
  });
});
