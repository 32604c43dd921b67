import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource, Location } from '@sourced/api';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

const INVALID_ARGUMENT = 3;
const pg = (extra: Partial<DataSource> = {}): DataSource => DataSource.fromPartial({ type: 'postgres', primary: { host: '127.0.0.1', port: 1 }, ...extra });

describe('bad input', () => {
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon();
  });
  afterAll(() => t.stop());

  /** The error shape a client sees: status, message, BadRequest field violations and ErrorInfo. */
  it('rejects a request without a data source, naming the field', async () => {
    const status = richStatusOf(await expectFailure(t.validate({})));
    expect({ ...status, errorInfo: { ...status.errorInfo, metadata: Object.keys(status.errorInfo?.metadata ?? {}) } }).toMatchInlineSnapshot(`
      {
        "badRequest": [
          {
            "description": "is required",
            "field": "data_source",
          },
        ],
        "code": 3,
        "errorInfo": {
          "domain": "sourced.dev",
          "metadata": [
            "trace_id",
          ],
          "reason": "DATA_SOURCE_REQUIRED",
        },
        "grpcCode": 3,
        "message": "invalid request: data_source: is required",
      }
    `);
  });

  it.each([
    [
      'an unknown connector type',
      { dataSource: pg({ type: 'oracle' }) },
      'data_source.type',
      'unknown connector type "oracle"; loaded connectors: mongodb, mysql, postgres',
    ],
    [
      'a missing host',
      { dataSource: pg({ primary: { host: '', port: 5432, database: '' } }) },
      'data_source.primary.host',
      'is required (or connection_properties.host)',
    ],
    [
      'HYBRID without a secondary',
      { dataSource: pg({ location: Location.LOCATION_HYBRID }) },
      'data_source.secondary',
      expect.stringContaining('is required when location is HYBRID'),
    ],
    [
      'a port out of range',
      { dataSource: pg({ primary: { host: 'h', port: 70000, database: '' } }) },
      'data_source.primary.port',
      '70000 is not a TCP port (1-65535)',
    ],
    [
      'a malformed reference',
      { dataSource: pg({ credentials: { username: 'u', password: { source: { $case: 'reference', value: 'nope' } } } }) },
      'data_source.credentials.password.reference',
      expect.stringContaining('is not a secret reference'),
    ],
  ])('validate rejects %s', async (_name, request, field, description) => {
    const status = richStatusOf(await expectFailure(t.validate(request as never)));
    expect(status.grpcCode).toBe(INVALID_ARGUMENT);
    expect(status.badRequest).toContainEqual({ field, description });
  });

  it.each([
    [
      'an empty filter pattern',
      { filter: { includeSchemas: [''], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false } },
      'filter.include_schemas[0]',
      'INVALID_FILTER',
    ],
    ['a batch size over the maximum', { batchSize: 5000 }, 'batch_size', 'VALUE_OUT_OF_RANGE'],
    ['a cursor it did not make', { resumeAfter: 'garbage' }, 'resume_after', 'INVALID_CURSOR'],
    ['an unknown strategy', { strategy: 42 }, 'strategy', 'INVALID_ENUM_VALUE'],
  ])('discover rejects %s before connecting', async (_name, extra, field, reason) => {
    const status = richStatusOf(await expectFailure(t.discover({ dataSource: pg(), ...extra } as never)));
    expect(status.grpcCode).toBe(INVALID_ARGUMENT);
    expect(status.badRequest?.map((v) => v.field)).toEqual([field]);
    expect(status.errorInfo?.reason).toBe(reason);
  });

  /** After every bad request above, the daemon still answers well-formed calls. */
  it('keeps serving', async () => {
    const plugins = await new Promise<unknown>((ok, fail) => t.plugins.listPlugins({}, new Metadata(), (e, r) => (e ? fail(e) : ok(r))));
    expect(plugins).toHaveProperty('plugins');
    const events = await t.validate({ dataSource: pg() });
    expect(events.at(-1)?.event?.$case).toBe('summary');
  });
});
