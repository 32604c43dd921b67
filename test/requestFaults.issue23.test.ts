/**
 * Every fault of a request in one INVALID_ARGUMENT (issue 23): the RPC's own options (enum
 * numbers, sizes, the discovery filter and cursor, the preview/profile table and columns) and
 * the data source's faults, all in one google.rpc.BadRequest with exact field paths, in the
 * order the daemon checks them; ErrorInfo.reason follows the documented rule (the faults'
 * reason when they share one, else INVALID_REQUEST with each reason in metadata.reasons), and
 * every reason is a value of the proto's ErrorReason enum. Each request is sent to a daemon and
 * its status decoded from the wire, as any client would.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BinaryCellEncoding, DataSource, DiscoveryStrategy, Location, ProfileMode } from '@sourced/api';
import { documentedReasons } from '../scripts/errorReasons';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

const INVALID_ARGUMENT = 3;
const ENUM_REASONS = new Set(documentedReasons().map((r) => r.reason));

/** A data source with three faults: a location number outside the enum, no host, and a port out of range. */
const badSource = () => DataSource.fromPartial({ type: 'postgres', location: 99 as Location, primary: { host: '', port: 70000, database: 'd' } });

/** The status of a failed call, with the checks every case shares: INVALID_ARGUMENT, domain, reasons from the enum. */
async function faultsOf(call: Promise<unknown>) {
  const status = richStatusOf(await expectFailure(call));
  expect(status.grpcCode).toBe(INVALID_ARGUMENT);
  expect(status.errorInfo?.domain).toBe('sourced.dev');
  const reasons = [status.errorInfo?.reason ?? '', ...(status.errorInfo?.metadata.reasons?.split(',') ?? [])];
  for (const reason of reasons) expect(ENUM_REASONS, `${reason} is a value of ErrorReason`).toContain(reason);
  // the message lists the same faults as the BadRequest
  for (const v of status.badRequest ?? []) expect(status.message).toContain(`${v.field}: ${v.description}`);
  return {
    fields: status.badRequest?.map((v) => v.field),
    reason: status.errorInfo?.reason,
    reasons: status.errorInfo?.metadata.reasons,
    fieldReasons: status.errorInfo?.metadata.field_reasons?.split(','),
    status,
  };
}

describe('every fault of a request together', () => {
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon();
  });
  afterAll(() => t.stop());

  /** The brief's case: batch_size 5000 no longer hides anything, nor does any other request-level fault. */
  it('reports a discovery’s enum, sample size, filter, batch size and cursor faults with the data source’s', async () => {
    const got = await faultsOf(
      t.discover({
        dataSource: badSource(),
        strategy: 42 as DiscoveryStrategy,
        batchSize: 5000,
        sampling: { sampleSize: 1_000_000, maxTimeMs: 0, maxFields: 0 },
        filter: { includeSchemas: ['public', ''], excludeSchemas: [], includeTables: [], excludeTables: ['x'.repeat(300)], includeSystemSchemas: false },
        resumeAfter: 'not-a-cursor',
      }),
    );
    expect(got.fields).toEqual([
      'strategy',
      'sampling.sample_size',
      'filter.include_schemas[1]',
      'filter.exclude_tables[0]',
      'batch_size',
      'resume_after',
      'data_source.location',
      'data_source.primary.port',
      'data_source.primary.host',
    ]);
    expect(got.reason).toBe('INVALID_REQUEST');
    expect(got.reasons).toBe('INVALID_ENUM_VALUE,VALUE_OUT_OF_RANGE,INVALID_FILTER,INVALID_CURSOR,INVALID_DATA_SOURCE');
    // which field has which reason: one per violation, in their order
    expect(Object.fromEntries((got.fields ?? []).map((f, i) => [f, got.fieldReasons?.[i]]))).toEqual({
      strategy: 'INVALID_ENUM_VALUE',
      'sampling.sample_size': 'VALUE_OUT_OF_RANGE',
      'filter.include_schemas[1]': 'INVALID_FILTER',
      'filter.exclude_tables[0]': 'INVALID_FILTER',
      batch_size: 'VALUE_OUT_OF_RANGE',
      resume_after: 'INVALID_CURSOR',
      'data_source.location': 'INVALID_ENUM_VALUE',
      'data_source.primary.port': 'INVALID_DATA_SOURCE',
      'data_source.primary.host': 'INVALID_DATA_SOURCE',
    });
    expect(got.fieldReasons).toHaveLength(got.fields?.length ?? -1);
  });

  /** The example of docs/clients.md ("Every reason"), as written there. */
  it('reports the example docs/clients.md gives', async () => {
    const got = await faultsOf(
      t.discover({
        dataSource: DataSource.fromPartial({ type: 'postgres', primary: { host: '', port: 5432, database: 'd' } }),
        strategy: 99 as DiscoveryStrategy,
        batchSize: 5000,
        filter: { includeSchemas: [''], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false },
        resumeAfter: 'x',
      }),
    );
    expect(got.fields).toEqual(['strategy', 'filter.include_schemas[0]', 'batch_size', 'resume_after', 'data_source.primary.host']);
    expect(got.reason).toBe('INVALID_REQUEST');
    expect(got.reasons).toBe('INVALID_ENUM_VALUE,INVALID_FILTER,VALUE_OUT_OF_RANGE,INVALID_CURSOR,INVALID_DATA_SOURCE');
    const doc = readFileSync(resolve(__dirname, '../docs/clients.md'), 'utf8').replace(/\s+/g, ' ');
    expect(doc).toContain(`(${got.fields?.map((f) => `\`${f}\``).join(', ')})`);
    expect(doc).toContain(`\`${got.reasons}\``);
    expect(doc).toContain(`field_reasons\` gives one reason per violation, in the order of \`field_violations\`: here \`${got.fieldReasons?.join(',')}\``);
  });

  it('reports the discovery’s own faults together when the data source is fine', async () => {
    const dataSource = DataSource.fromPartial({ type: 'postgres', primary: { host: '127.0.0.1', port: 1, database: 'd' } });
    const got = await faultsOf(
      t.discover({
        dataSource,
        batchSize: 5000,
        filter: { includeSchemas: [''], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false },
        resumeAfter: '!!',
      }),
    );
    expect(got.fields).toEqual(['filter.include_schemas[0]', 'batch_size', 'resume_after']);
    expect(got.reason).toBe('INVALID_REQUEST');
    expect(got.reasons).toBe('INVALID_FILTER,VALUE_OUT_OF_RANGE,INVALID_CURSOR');
  });

  it('gives faults of one kind that kind’s reason, without metadata.reasons', async () => {
    const got = await faultsOf(
      t.profile({
        dataSource: DataSource.fromPartial({ type: 'postgres', primary: { host: '127.0.0.1', port: 1, database: 'd' } }),
        table: { schema: 's', name: 't' },
        mode: ProfileMode.PROFILE_MODE_SAMPLE,
        sampleRows: 10_000_000,
        mostCommonLimit: 101,
        histogramBuckets: 101,
      }),
    );
    expect(got.fields).toEqual(['sample_rows', 'most_common_limit', 'histogram_buckets']);
    expect(got.reason).toBe('VALUE_OUT_OF_RANGE');
    expect(got.reasons).toBeUndefined();
  });

  it('reports a profile’s mode, strategy, sizes, columns and binary_cells with the data source’s', async () => {
    const got = await faultsOf(
      t.profile({
        dataSource: badSource(),
        table: { schema: 's', name: 't' },
        columns: ['a', ''],
        mode: 7 as ProfileMode,
        strategy: 9 as DiscoveryStrategy,
        sampleRows: 10_000_000,
        histogramBuckets: 500,
        binaryCells: 3 as BinaryCellEncoding,
      }),
    );
    expect(got.fields).toEqual([
      'strategy',
      'mode',
      'columns[1]',
      'sample_rows',
      'histogram_buckets',
      'binary_cells',
      'data_source.location',
      'data_source.primary.port',
      'data_source.primary.host',
    ]);
    expect(got.reason).toBe('INVALID_REQUEST');
    expect(got.reasons).toBe('INVALID_ENUM_VALUE,INVALID_REQUEST,VALUE_OUT_OF_RANGE,INVALID_DATA_SOURCE');
  });

  it('reports a preview’s strategy, table, columns, limit and binary_cells with a missing data source', async () => {
    const got = await faultsOf(
      t.preview({
        dataSource: undefined,
        table: { schema: '', name: 't' },
        columns: [''],
        limit: 100_000,
        strategy: 77 as DiscoveryStrategy,
        binaryCells: 5 as BinaryCellEncoding,
      }),
    );
    expect(got.fields).toEqual(['strategy', 'table.schema', 'columns[0]', 'limit', 'binary_cells', 'data_source']);
    expect(got.reason).toBe('INVALID_REQUEST');
    expect(got.reasons).toBe('INVALID_ENUM_VALUE,INVALID_REQUEST,VALUE_OUT_OF_RANGE,DATA_SOURCE_REQUIRED');
  });

  it('reports every fault of a validation’s data source', async () => {
    const got = await faultsOf(t.validate({ dataSource: badSource() }));
    expect(got.fields).toEqual(['data_source.location', 'data_source.primary.port', 'data_source.primary.host']);
    expect(got.reason).toBe('INVALID_REQUEST');
    expect(got.reasons).toBe('INVALID_ENUM_VALUE,INVALID_DATA_SOURCE');
  });
});
