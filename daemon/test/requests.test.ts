/**
 * DataSourceService's requests parsed once at the edge (daemon/src/services/requests.ts): the
 * first mistake reported is the same as before the parser existed (the RPC's own fields, then
 * the data source), the checked request carries the compiled filter, the decoded cursor and the
 * effective sizes, and the engines run a checked request without checking it again.
 * test/badInput.test.ts and test/fuzz.test.ts pin the statuses end to end.
 */
import { trace } from '@opentelemetry/api';
import { DataSource, DiscoveryStrategy, ProfileMode } from '@sourced/api';
import { DiscoveryEngine, encodeCursor, InputError, PreviewEngine, ProfileEngine, type Connector, type ConnectorTypeResolver } from '@sourced/core';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../src/config/DaemonConfig';
import { RequestParser } from '../src/services/requests';

const tracer = trace.getTracer('test');
const config = structuredClone(DEFAULT_CONFIG);
config.limits.maxEntities = 1_000;
const previewEngine = new PreviewEngine(tracer, { ...config.preview, maxRows: 50 });
const profileEngine = new ProfileEngine(tracer, { ...config.profile, maskColumns: [], maskTypes: [], allowSystemSchemas: false, maskCredentialColumns: true });
const types: ConnectorTypeResolver = { resolve: (t) => (t === 'postgres' ? 'postgres' : undefined), known: () => ['postgres'] };
const parser = new RequestParser({ config, pluginRegistry: types, previewEngine, profileEngine });

const source = DataSource.fromPartial({ id: 'orders', type: 'postgres', primary: { host: 'db.internal', port: 5432, database: 'app' } });
const discover = (extra: Record<string, unknown>) =>
  parser.discover({
    dataSource: source,
    strategy: 0,
    batchSize: 0,
    resumeAfter: '',
    maxEntities: 0,
    maxDurationMs: 0,
    filter: undefined,
    sampling: undefined,
    ...extra,
  } as never);

/** The field violations of what `run` throws (undefined when it throws something else or nothing). */
function violations(run: () => unknown): { field: string; description: string }[] | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof InputError) return error.violations.map((v) => ({ field: v.field, description: v.description }));
    throw error;
  }
  return undefined;
}

describe('requests parsed once at the edge', () => {
  it('reports the RPC fields before the data source, in the order the handlers always did', () => {
    expect(violations(() => discover({ dataSource: undefined, strategy: 99 }))?.[0].field).toBe('strategy');
    expect(
      violations(() =>
        discover({
          dataSource: undefined,
          filter: { includeSchemas: [''], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false },
        }),
      )?.[0].field,
    ).toMatch(/^filter\./);
    expect(violations(() => discover({ dataSource: undefined, resumeAfter: 'not a cursor' }))?.[0].field).toBe('resume_after');
    expect(violations(() => discover({ dataSource: undefined }))).toEqual([{ field: 'data_source', description: 'is required' }]);
    expect(violations(() => parser.preview({ dataSource: undefined, strategy: 0, table: undefined, columns: [], limit: 0 } as never))?.[0].field).toBe('table');
    expect(
      violations(() => parser.preview({ dataSource: source, strategy: 0, table: { schema: 'public', name: 'orders' }, columns: [], limit: 51 } as never)),
    ).toEqual([{ field: 'limit', description: "51 is more than this daemon's maximum of 50 rows (preview.maxRows)" }]);
    expect(violations(() => parser.profile({ dataSource: undefined, strategy: 0, mode: 77, table: undefined } as never))?.[0].field).toBe('mode');
    expect(violations(() => parser.validate({ dataSource: undefined, checkTimeoutMs: 0 }))).toEqual([{ field: 'data_source', description: 'is required' }]);
  });

  it('hands the handler a checked request: strategy, compiled filter, decoded cursor, capped sizes, normalized source', () => {
    const cursor = encodeCursor({ schema: 'public', name: 'orders' });
    const call = discover({
      strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_AGGRESSIVE,
      resumeAfter: cursor,
      filter: { includeSchemas: ['sales_*'], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false },
    });
    expect(call.request.strategy).toBe('AGGRESSIVE');
    expect(call.request.checked.after).toEqual({ schema: 'public', name: 'orders' });
    expect(call.request.checked.filter.schemaMatches('sales_2024')).toBe(true);
    expect(call.request.checked.filter.schemaMatches('hr')).toBe(false);
    expect(call.request.maxEntities).toBe(1_000); // the daemon's cap when the caller asks for none
    expect(call.source).toMatchObject({ type: 'postgres', primary: { host: 'db.internal', port: 5432 } });
    expect(call.source.connectionProperties.connect_timeout_ms).toBeDefined();

    expect(discover({}).request.strategy).toBe(config.discovery.defaultStrategy);
    const preview = parser.preview({ dataSource: source, strategy: 0, table: { schema: 'public', name: 'orders' }, columns: ['id'], limit: 0 } as never);
    expect(preview.request.checked.limit).toBe(config.preview.defaultRows);
    const profile = parser.profile({
      dataSource: source,
      strategy: 0,
      mode: ProfileMode.PROFILE_MODE_SAMPLE,
      table: { schema: 'public', name: 'orders' },
      columns: [],
      sampleRows: 0,
      mostCommonLimit: 0,
      histogramBuckets: 3,
    } as never);
    expect(profile.request).toMatchObject({
      mode: 'SAMPLE',
      checked: { sampleRows: config.profile.defaultSampleRows, mostCommonLimit: 10, histogramBuckets: 3 },
    });
    expect(parser.validate({ dataSource: source, checkTimeoutMs: 10 ** 9 }).checkTimeoutMs).toBe(config.limits.maxCheckTimeoutMs);
  });

  /** The engines take the parser's result as checked: what they would refuse is not checked again (and not compiled again). */
  it('the engines run a checked request without checking it again', async () => {
    const initialized: string[] = [];
    const connector = {
      source: { type: 'fake' },
      initialize: async () => {
        initialized.push('initialize');
        throw new Error('stop here');
      },
      close: async () => undefined,
    } as unknown as Connector;
    // A limit past the maximum: checkRequest refuses it, run with a checked request does not.
    const preview = {
      ...previewEngine.checkRequest({ table: { schema: 'public', name: 'orders' }, columns: [], limit: 5, strategy: 'BALANCED' }),
      limit: 10_000,
    };
    await expect(previewEngine.run(connector, preview, new AbortController().signal).next()).rejects.toThrow(/cannot preview/);
    expect(() => previewEngine.checkRequest(preview)).toThrow(InputError);
    // An unparseable cursor: the checked one is used, the run gets as far as the connector.
    const discovery = {
      ...DiscoveryEngine.checkRequest({
        filter: { includeSchemas: [], excludeSchemas: [], includeTables: [], excludeTables: [], includeSystemSchemas: false },
        strategy: 'BALANCED',
        batchSize: 0,
        resumeAfter: '',
      }),
      resumeAfter: 'not a cursor',
    };
    await expect(new DiscoveryEngine(tracer).run(connector, discovery, new AbortController().signal).next()).rejects.toThrow();
    expect(initialized).toEqual(['initialize']);
  });
});
