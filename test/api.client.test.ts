import { credentials, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { parse } from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '@sourced/api';
import {
  createClients,
  decodeRichStatus,
  decodeStatusDetails,
  encodeRichStatus,
  ListPluginsRequest,
  PluginState,
  ValidateDataSourceRequest,
  type ListPluginsResponse,
  type MessageFns,
  type SourcedClients,
} from '@sourced/api';
import { collect, startTestDaemon, type TestDaemon } from './support/testDaemon';

/**
 * @sourced/api's own parts: the google.rpc status codec, read back by protobufjs from the
 * published google.rpc definitions (an independent decoder, not ours), and the client factory
 * against a real daemon.
 */

// google/rpc/status.proto and the three details of google/rpc/error_details.proto sourced sends,
// as googleapis defines them (field numbers and types).
const googleRpc = parse(`
  syntax = "proto3";
  package google.rpc;
  message Any { string type_url = 1; bytes value = 2; }
  message Status { int32 code = 1; string message = 2; repeated Any details = 3; }
  message Duration { int64 seconds = 1; int32 nanos = 2; }
  message RetryInfo { Duration retry_delay = 1; }
  message ErrorInfo { string reason = 1; string domain = 2; map<string, string> metadata = 3; }
  message BadRequest {
    message FieldViolation { string field = 1; string description = 2; }
    repeated FieldViolation field_violations = 1;
  }
`).root;
const type = (name: string) => googleRpc.lookupType(`google.rpc.${name}`);
const plain = (name: string, bytes: Uint8Array) => type(name).toObject(type(name).decode(bytes), { longs: Number, defaults: true }) as Record<string, unknown>;

describe('@sourced/api google.rpc status codec', () => {
  const status = {
    code: GrpcStatus.INVALID_ARGUMENT,
    message: 'data_source.primary.port: must be 1-65535',
    errorInfo: { reason: 'INVALID_REQUEST', domain: 'sourced.dev', metadata: { field: 'data_source.primary.port', hint: 'ünïcode ✓' } },
    badRequest: [
      { field: 'data_source.primary.port', description: 'must be 1-65535' },
      { field: 'strategy', description: 'is not a DiscoveryStrategy' },
    ],
    retryDelayMs: 2_750,
  };

  it('writes a google.rpc.Status that a protobuf library reads back detail by detail', () => {
    const decoded = plain('Status', encodeRichStatus(status));
    expect(decoded.code).toBe(status.code);
    expect(decoded.message).toBe(status.message);
    const details = decoded.details as { typeUrl: string; value: Uint8Array }[];
    expect(details.map((d) => d.typeUrl)).toEqual([
      'type.googleapis.com/google.rpc.ErrorInfo',
      'type.googleapis.com/google.rpc.BadRequest',
      'type.googleapis.com/google.rpc.RetryInfo',
    ]);
    expect(plain('ErrorInfo', details[0].value)).toEqual(status.errorInfo);
    expect(plain('BadRequest', details[1].value)).toEqual({ fieldViolations: status.badRequest });
    expect(plain('RetryInfo', details[2].value)).toEqual({ retryDelay: { seconds: 2, nanos: 750_000_000 } });
  });

  it('reads a google.rpc.Status a protobuf library wrote, skipping details it does not know', () => {
    const any = (name: string, value: object) => ({
      typeUrl: `type.googleapis.com/google.rpc.${name}`,
      value: type(name).encode(type(name).fromObject(value)).finish(),
    });
    const bytes = type('Status')
      .encode(
        type('Status').fromObject({
          code: GrpcStatus.RESOURCE_EXHAUSTED,
          message: 'too many calls',
          details: [
            any('RetryInfo', { retryDelay: { seconds: 1, nanos: 500_000_000 } }),
            { typeUrl: 'type.googleapis.com/google.rpc.DebugInfo', value: Uint8Array.from([10, 1, 120]) },
            any('ErrorInfo', { reason: 'RATE_LIMITED', domain: 'sourced.dev', metadata: { limit: '4' } }),
          ],
        }),
      )
      .finish();
    expect(decodeRichStatus(bytes)).toEqual({
      code: GrpcStatus.RESOURCE_EXHAUSTED,
      message: 'too many calls',
      retryDelayMs: 1_500,
      errorInfo: { reason: 'RATE_LIMITED', domain: 'sourced.dev', metadata: { limit: '4' } },
    });
  });

  it('decodeStatusDetails reads the grpc-status-details-bin trailer of an error, and nothing else', () => {
    const metadata = new Metadata();
    metadata.set('grpc-status-details-bin', Buffer.from(encodeRichStatus(status)));
    expect(decodeStatusDetails({ code: status.code, metadata })).toEqual(status);
    expect(decodeStatusDetails({ code: GrpcStatus.UNAVAILABLE, metadata: new Metadata() })).toBeUndefined();
    expect(decodeStatusDetails(new Error('not a gRPC error'))).toBeUndefined();
    expect(decodeStatusDetails(undefined)).toBeUndefined();
  });
});

describe('@sourced/api exports', () => {
  it('every generated message codec is a MessageFns of its message (checked by tsc), and the root exports them by name', () => {
    const codecs: MessageFns<api.DataSource>[] = [api.DataSource];
    const more: [
      MessageFns<api.DiscoverDataSourceRequest>,
      MessageFns<api.ColumnProfile>,
      MessageFns<api.Cell>,
      MessageFns<api.Plugin>,
      MessageFns<api.CheckFinished>,
      MessageFns<api.Struct>,
    ] = [api.DiscoverDataSourceRequest, api.ColumnProfile, api.Cell, api.Plugin, api.CheckFinished, api.Struct];
    const fromPartial = api.DataSource.fromPartial({ type: 'postgres', primary: { host: 'db', port: 5432 } });
    expect(api.DataSource.decode(codecs[0].encode(fromPartial).finish())).toEqual(fromPartial);
    expect(more.every((c) => typeof c.fromPartial === 'function')).toBe(true);
    expect(typeof api.DataSourceServiceClient).toBe('function');
    expect(api.DataSourceServiceService.validateDataSource.path).toBe('/sourced.v1.DataSourceService/ValidateDataSource');
  });
});

describe('@sourced/api createClients', () => {
  let t: TestDaemon;
  let clients: SourcedClients;
  beforeAll(async () => {
    t = await startTestDaemon();
    clients = createClients(t.address, credentials.createInsecure());
  });
  afterAll(async () => {
    clients?.close();
    await t?.stop();
  });

  it('calls both services over one channel', async () => {
    expect(clients.plugins.getChannel()).toBe(clients.dataSources.getChannel());
    const listed = await new Promise<ListPluginsResponse>((resolve, reject) =>
      clients.plugins.listPlugins(ListPluginsRequest.create(), (error, response) => (error ? reject(error) : resolve(response))),
    );
    // The same plugins, in the same states, as the daemon's own clients see.
    const expected = await t.listPlugins();
    expect(listed.plugins.map((p) => [p.id, p.state])).toEqual(expected.map((p) => [p.id, p.state]));
    expect(listed.plugins.some((p) => p.id === 'postgres' && p.state === PluginState.PLUGIN_STATE_LOADED)).toBe(true);
  });

  it('a refused request decodes to its field violation through decodeStatusDetails', async () => {
    const error = await collect(clients.dataSources.validateDataSource(ValidateDataSourceRequest.create(), new Metadata())).then(
      () => undefined,
      (e: ServiceError) => e,
    );
    expect(error?.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    const rich = decodeStatusDetails(error);
    expect(rich?.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(rich?.badRequest).toEqual([{ field: 'data_source', description: 'is required' }]);
  });
});
