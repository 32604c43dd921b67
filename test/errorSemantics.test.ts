import { Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudProvider, DataSource, DiscoveryStrategy, Location, ProfileMode, ProfileTableRequest, SslMode, type ProfileTableResponse } from '@sourced/api';
import { documentedReasons } from '../scripts/errorReasons';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

/**
 * Error semantics a client codes against (issue 23): every fault of a request in one
 * google.rpc.BadRequest, an ErrorInfo.reason specific to the fault, and an enum number outside
 * its enum reported with the number and the enum's value names, the same for every enum field.
 */
const INVALID_ARGUMENT = 3;
const pg = (extra: Partial<DataSource> = {}): DataSource => DataSource.fromPartial({ type: 'postgres', primary: { host: '127.0.0.1', port: 1 }, ...extra });
/** Every value name of a generated enum, as "NAME (number)". */
const namesOf = (values: Record<string, string | number>) =>
  Object.entries(values)
    .filter(([, n]) => typeof n === 'number' && n >= 0)
    .map(([name, n]) => `${name} (${n})`);

function profile(t: TestDaemon, request: object): Promise<unknown> {
  return new Promise((done, fail) => {
    const stream: ClientReadableStream<ProfileTableResponse> = t.dataSources.profileTable(
      ProfileTableRequest.fromPartial(request as Partial<ProfileTableRequest>),
      new Metadata(),
    );
    stream.on('data', () => undefined);
    stream.on('error', fail);
    stream.on('end', done);
  });
}

describe('error semantics', () => {
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon();
  });
  afterAll(() => t.stop());

  it('reports the request-level and the data source faults of one request together', async () => {
    const request = {
      dataSource: pg({ primary: { host: '', port: 5432, database: '' }, location: 99 as Location }),
      batchSize: 5000,
      strategy: 42 as DiscoveryStrategy,
    };
    const status = richStatusOf(await expectFailure(t.discover(request)));
    expect(status.grpcCode).toBe(INVALID_ARGUMENT);
    expect(status.badRequest?.map((v) => v.field)).toEqual(['strategy', 'batch_size', 'data_source.location', 'data_source.primary.host']);
    // several kinds of fault: INVALID_REQUEST, and each kind in the order found
    expect(status.errorInfo?.reason).toBe('INVALID_REQUEST');
    expect(status.errorInfo?.metadata.reasons).toBe('INVALID_ENUM_VALUE,VALUE_OUT_OF_RANGE,INVALID_DATA_SOURCE');
  });

  it.each([
    ['a missing data source', {}, 'DATA_SOURCE_REQUIRED'],
    ['a missing host', { dataSource: pg({ primary: { host: '', port: 1, database: '' } }) }, 'INVALID_DATA_SOURCE'],
    ['a batch size over the maximum', { dataSource: pg(), batchSize: 5000 }, 'VALUE_OUT_OF_RANGE'],
    ['an unknown strategy', { dataSource: pg(), strategy: 99 }, 'INVALID_ENUM_VALUE'],
  ])('gives %s its own reason', async (_name, request, reason) => {
    const status = richStatusOf(await expectFailure(t.discover(request as never)));
    expect(status.errorInfo?.reason).toBe(reason);
    expect(status.errorInfo?.metadata.reasons).toBeUndefined();
  });

  it.each([
    ['data_source.location', { location: 99 }, Location, 'Location'],
    ['data_source.cloud_provider', { cloudProvider: 99 }, CloudProvider, 'CloudProvider'],
    ['data_source.ssl_config.mode', { sslConfig: { mode: 99, ca: '', cert: '', serverName: '' } }, SslMode, 'SslMode'],
  ])('reports the number sent and the value names for %s', async (field, extra, values, name) => {
    const status = richStatusOf(await expectFailure(t.validate({ dataSource: pg(extra as Partial<DataSource>) })));
    expect(status.errorInfo?.reason).toBe('INVALID_ENUM_VALUE');
    expect(status.badRequest).toEqual([{ field, description: `99 is not a value of sourced.v1.${name}; send one of ${namesOf(values).join(', ')}` }]);
    expect(status.message).not.toContain('UNRECOGNIZED');
  });

  it('reports an unknown strategy and profile mode the same way', async () => {
    const strategy = richStatusOf(await expectFailure(t.discover({ dataSource: pg(), strategy: 99 as DiscoveryStrategy })));
    expect(strategy.badRequest).toEqual([
      { field: 'strategy', description: `99 is not a value of sourced.v1.DiscoveryStrategy; send one of ${namesOf(DiscoveryStrategy).join(', ')}` },
    ]);
    const mode = richStatusOf(await expectFailure(profile(t, { dataSource: pg(), table: { schema: 's', name: 't' }, mode: 99 as ProfileMode })));
    expect(mode.errorInfo?.reason).toBe('INVALID_ENUM_VALUE');
    expect(mode.badRequest).toEqual([
      { field: 'mode', description: `99 is not a value of sourced.v1.ProfileMode; send one of ${namesOf(ProfileMode).join(', ')}` },
    ]);
  });
});

describe('a missing env:// secret', () => {
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon({ secrets: { allowedReferences: ['env://SOURCED_SECRET_*'] } } as never);
  });
  afterAll(() => t.stop());

  it('fails the discovery with the code and reason the error table documents', async () => {
    const dataSource = pg({ credentials: { username: 'u', password: { source: { $case: 'reference', value: 'env://SOURCED_SECRET_P23_NOT_SET' } } } });
    const status = richStatusOf(await expectFailure(t.discover({ dataSource })));
    expect({ code: status.grpcCode, reason: status.errorInfo?.reason }).toEqual({ code: 9, reason: 'SECRET_NOT_RESOLVED' });
    // and the generated table says so (it once said NOT_FOUND / SECRET_NOT_FOUND)
    expect(documentedReasons().find((r) => r.reason === 'SECRET_NOT_RESOLVED')?.code).toBe('FAILED_PRECONDITION');
  });
});
