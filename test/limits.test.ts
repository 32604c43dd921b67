/**
 * The daemon's limits through real grpc-js clients: calls in flight overall and per principal
 * (RESOURCE_EXHAUSTED with google.rpc.RetryInfo), request size, default and maximum
 * deadlines, entities per discovery and sample size. Calls are held in flight by a source
 * that accepts connections and never answers.
 */
import { randomBytes } from 'node:crypto';
import { Metadata, status } from '@grpc/grpc-js';
import { startBlackHole } from './harness/blackHole';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_CONFIG } from '../daemon/src';
import { DataSource } from '@sourced/api';
import { ListPluginsRequest } from '@sourced/api';
import { hashToken } from '../daemon/src/security/authenticate';
import { pgSource } from './support/pg';
import { registerSecret } from './support/secretScan';
import { collect, expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

const hanging = (port: number, connectTimeoutMs = 4000) =>
  DataSource.fromPartial({
    type: 'postgres',
    primary: { host: '127.0.0.1', port, database: 'x' },
    credentials: { username: 'u', password: { source: { $case: 'inlineValue', value: 'not-a-real-password' } } },
    connectionProperties: { connect_timeout_ms: String(connectTimeoutMs) },
  });

function discoverCall(t: TestDaemon, dataSource: DataSource, metadata = new Metadata(), deadline?: number) {
  return collect(
    t.dataSources.discoverDataSource(
      { dataSource, strategy: 0, batchSize: 0, resumeAfter: '', maxEntities: 0, maxDurationMs: 0 },
      metadata,
      deadline ? { deadline } : {},
    ),
  );
}

function listPlugins(t: TestDaemon, metadata = new Metadata()) {
  return new Promise((resolve, reject) => t.plugins.listPlugins(ListPluginsRequest.fromPartial({}), metadata, (e, r) => (e ? reject(e) : resolve(r))));
}

describe('limits', () => {
  const pg = inject('postgres');
  let hole: Awaited<ReturnType<typeof startBlackHole>>;
  beforeAll(async () => {
    hole = await startBlackHole();
  });
  afterAll(() => hole?.close());

  it('refuses calls past the per-principal limit with RetryInfo, and serves others meanwhile', async () => {
    const tokens = { a: `a-${randomBytes(8).toString('hex')}`, b: `b-${randomBytes(8).toString('hex')}` };
    for (const v of Object.values(tokens)) registerSecret('a limits token', v);
    const t = await startTestDaemon({
      plugins: ['@sourced/plugin-postgres'],
      limits: { ...DEFAULT_CONFIG.limits, maxConcurrentCallsPerPrincipal: 2 },
      auth: {
        tokens: [
          { principal: 'team-a', sha256: hashToken(tokens.a) },
          { principal: 'team-b', sha256: hashToken(tokens.b) },
        ],
      },
      rbac: { roles: { all: { rpcs: ['*'], connectors: ['*'], hosts: ['*'], secrets: ['*'] } }, bindings: { '*': ['all'] } },
    });
    const as = (who: 'a' | 'b') => {
      const m = new Metadata();
      m.set('authorization', `Bearer ${tokens[who]}`);
      return m;
    };
    try {
      const held = [discoverCall(t, hanging(hole.port), as('a')), discoverCall(t, hanging(hole.port), as('a'))];
      held.forEach((p) => p.catch(() => undefined));
      await new Promise((r) => setTimeout(r, 300)); // both admitted and connecting
      const refused = richStatusOf(await expectFailure(listPlugins(t, as('a'))));
      expect(refused).toMatchObject({ grpcCode: status.RESOURCE_EXHAUSTED, retryDelayMs: 1000 });
      expect(refused.errorInfo).toMatchObject({
        reason: 'TOO_MANY_CALLS_FOR_PRINCIPAL',
        metadata: { limit: 'limits.maxConcurrentCallsPerPrincipal', principal: 'team-a' },
      });
      // another principal is not held back by team-a's calls
      await listPlugins(t, as('b'));
      // once team-a's calls end (their connects time out), team-a may call again
      await Promise.allSettled(held);
      await listPlugins(t, as('a'));
    } finally {
      await t.stop();
    }
  }, 30_000);

  it('refuses calls past the overall limit', async () => {
    const t = await startTestDaemon({ plugins: ['@sourced/plugin-postgres'], limits: { ...DEFAULT_CONFIG.limits, maxConcurrentCalls: 1 } });
    try {
      const held = discoverCall(t, hanging(hole.port, 2000));
      held.catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      const refused = richStatusOf(await expectFailure(listPlugins(t)));
      expect(refused).toMatchObject({ grpcCode: status.RESOURCE_EXHAUSTED, retryDelayMs: 1000, errorInfo: { reason: 'TOO_MANY_CALLS' } });
      await held.catch(() => undefined);
      await listPlugins(t);
    } finally {
      await t.stop();
    }
  }, 30_000);

  it('enforces the request size, the deadlines, the entity cap and the sample size', async () => {
    const t = await startTestDaemon({
      plugins: ['@sourced/plugin-postgres'],
      limits: { ...DEFAULT_CONFIG.limits, maxMessageBytes: 64 * 1024, maxDeadlineMs: 1500, maxEntities: 3, maxSampleSize: 1000 },
    });
    try {
      // a request larger than allowed is refused by the transport, and the daemon goes on serving
      const huge = pgSource(pg, { id: 'x'.repeat(100 * 1024) });
      expect((await expectFailure(discoverCall(t, huge))).code).toBe(status.RESOURCE_EXHAUSTED);
      await listPlugins(t);

      // no deadline asked, a 10 s connect: the daemon's maximum (1.5 s) ends it
      expect((await expectFailure(discoverCall(t, hanging(hole.port, 10_000)))).code).toBe(status.DEADLINE_EXCEEDED);

      // the entity cap applies when the request asks for none, and when it asks for more
      for (const maxEntities of [0, 5]) {
        const events = await collect(
          t.dataSources.discoverDataSource(
            { dataSource: pgSource(pg), strategy: 0, batchSize: 0, resumeAfter: '', maxEntities, maxDurationMs: 0 },
            new Metadata(),
          ),
        );
        const summary = events.at(-1)?.event;
        expect(summary?.$case === 'summary' && summary.value).toMatchObject({ relations: 3, stoppedEarly: true, stopReason: 'MAX_ENTITIES' });
      }

      const sampled = await expectFailure(
        collect(
          t.dataSources.discoverDataSource(
            {
              dataSource: pgSource(pg),
              strategy: 0,
              batchSize: 0,
              resumeAfter: '',
              maxEntities: 0,
              maxDurationMs: 0,
              sampling: { sampleSize: 5000, maxTimeMs: 0, maxFields: 0 },
            },
            new Metadata(),
          ),
        ),
      );
      expect(richStatusOf(sampled)).toMatchObject({ grpcCode: status.INVALID_ARGUMENT, badRequest: [{ field: 'sampling.sample_size' }] });
    } finally {
      await t.stop();
    }
  }, 30_000);
});
