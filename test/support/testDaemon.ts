import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { DaemonConfig } from '../../daemon/src';
import type { DiscoverDataSourceRequest, DiscoverDataSourceResponse } from '@sourced/api';
import { decodeRichStatus } from '@sourced/api';
import { collect as collectStream, startTestDaemon as startSdkTestDaemon, type TestDaemon } from '../../sdk/src/testing';
import { eventually } from './pg';
import { captureSource, captureText, spansText } from './secretScan';

export { richStatusOf } from '../../sdk/src/testing';
export type { CallOptions, TestDaemon } from '../../sdk/src/testing';

/**
 * Starts a daemon with the built-in plugins (or `config.plugins`) on 127.0.0.1:0 through the
 * plugin SDK's harness, and hands what it emits (log lines, spans, stream events) to the
 * run-wide secret scan.
 */
export async function startTestDaemon(config: Partial<DaemonConfig> = {}): Promise<TestDaemon> {
  const t = await startSdkTestDaemon({ builtins: config.plugins === undefined, config });
  captureSource('daemon log lines', () => t.logs.join('\n'));
  captureSource('exported spans', () => spansText(t.spans.getFinishedSpans()));
  return {
    ...t,
    validate: (request, o) => capture(t.validate(request, o)),
    discover: (request, o) => capture(t.discover(request, o)),
  };
}

/** Hands a finished stream's events to the secret scan. */
async function capture<T>(call: Promise<T[]>): Promise<T[]> {
  const out = await call;
  captureSource('stream events', () => JSON.stringify(out));
  return out;
}

/** Reads a whole server stream (its events go to the secret scan); rejects with the call's ServiceError. */
export async function collect<T>(stream: ClientReadableStream<T>): Promise<T[]> {
  return capture(collectStream(stream));
}

/** Runs a call that must fail, returning its error (its status goes to the secret scan). */
export async function expectFailure(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (error) {
    const se = error as ServiceError;
    const bin = se.metadata?.get('grpc-status-details-bin')[0];
    captureText('error statuses', `${se.message} ${bin ? JSON.stringify(decodeRichStatus(bin as Buffer)) : ''}`);
    return se;
  }
  throw new Error('the call succeeded but was expected to fail');
}

/**
 * Runs a discovery and counts the connections the daemon opened for it: the
 * `sourced.connection.open` spans under its SERVER span.
 */
export async function discoverCountingConnections(
  t: TestDaemon,
  request: Partial<DiscoverDataSourceRequest>,
): Promise<{ events: DiscoverDataSourceResponse[]; connections: number }> {
  const since = Date.now();
  const events = await t.discover(request);
  // The SERVER span ends just after the client has seen the end of the stream.
  const ours = (all: ReadableSpan[]) =>
    all.find((s) => s.name === 'sourced.v1.DataSourceService/DiscoverDataSource' && s.startTime[0] * 1000 + s.startTime[1] / 1e6 >= since - 1);
  const spans = await eventually(
    async () => t.spans.getFinishedSpans(),
    (all) => ours(all) !== undefined,
  );
  const server = ours(spans);
  const connections = spans.filter((s) => s.name === 'sourced.connection.open' && s.spanContext().traceId === server?.spanContext().traceId).length;
  return { events, connections };
}
