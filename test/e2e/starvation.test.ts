/**
 * Issue 15, item 7, replayed against a `sourced serve` process with authentication off: one
 * client (another peer address, 127.0.0.2 through a relay) fills its call budget with calls to
 * a tarpit asking for an hour-long connect and check timeout. Another client (127.0.0.1) is
 * still served, the flooding client's next call is refused with RESOURCE_EXHAUSTED and
 * RetryInfo, and the tarpit calls end at the daemon's maximum connect timeout rather than at
 * their deadlines.
 */
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { startBlackHole } from '../harness/blackHole';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from '@sourced/api';
import { DataSourceServiceClient } from '@sourced/api';
import { richStatusOf } from '../support/testDaemon';
import { listPlugins, relayFrom, startConfiguredDaemon, type ConfiguredDaemon } from './support/hardenedDaemon';

const HOUR = 3_600_000;

/** Resolves with how a stream ended ('OK' or the status name), or 'still running' after `ms`. */
function endOf(stream: NodeJS.ReadableStream & { cancel(): void }, ms: number): Promise<{ end: string; error?: ServiceError }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      stream.cancel();
      resolve({ end: 'still running' });
    }, ms);
    stream.on('data', () => undefined);
    stream.on('error', (error: ServiceError) => {
      clearTimeout(timer);
      resolve({ end: status[error.code], error });
    });
    stream.on('end', () => {
      clearTimeout(timer);
      resolve({ end: 'OK' });
    });
  });
}

describe('starvation (a daemon process, authentication off)', () => {
  let d: ConfiguredDaemon;
  let pit: Awaited<ReturnType<typeof startBlackHole>>;
  let relay: Awaited<ReturnType<typeof relayFrom>>;

  beforeAll(async () => {
    pit = await startBlackHole();
    d = await startConfiguredDaemon({ limits: { maxConcurrentCallsPerPrincipal: 4, maxConnectTimeoutMs: 1_500, maxCheckTimeoutMs: 2_000 } });
    relay = await relayFrom(d.daemon.address, '127.0.0.2');
  });
  afterAll(async () => {
    await relay?.close();
    await d?.stop();
    await pit?.close();
  });

  it("one client's hour-long connects to a tarpit neither starve another client nor outlive the daemon's maximum", async () => {
    const attacker = new DataSourceServiceClient(relay.address, credentials.createInsecure());
    const source = DataSource.fromPartial({
      type: 'postgres',
      primary: { host: '127.0.0.1', port: pit.port, database: 'x' },
      credentials: { username: 'u', password: { source: { $case: 'inlineValue', value: 'not-a-real-password' } } },
      connectionProperties: { connect_timeout_ms: String(HOUR) },
    });
    const deadline = { deadline: Date.now() + 120_000 };
    try {
      const held = [
        attacker.discoverDataSource({ dataSource: source, strategy: 0, batchSize: 0, resumeAfter: '', maxEntities: 0, maxDurationMs: 0 }, deadline),
        attacker.discoverDataSource({ dataSource: source, strategy: 0, batchSize: 0, resumeAfter: '', maxEntities: 0, maxDurationMs: 0 }, deadline),
        attacker.validateDataSource({ dataSource: source, checkTimeoutMs: HOUR }, deadline),
        attacker.validateDataSource({ dataSource: source, checkTimeoutMs: HOUR }, deadline),
      ];
      const ends = held.map((s) => endOf(s, 20_000));
      await new Promise((r) => setTimeout(r, 400)); // all four admitted and connecting

      // The attacker's budget is full: its next call is refused, with RetryInfo.
      const fifth = await endOf(
        attacker.discoverDataSource({ dataSource: source, strategy: 0, batchSize: 0, resumeAfter: '', maxEntities: 0, maxDurationMs: 0 }, deadline),
        5_000,
      );
      expect(fifth.end).toBe('RESOURCE_EXHAUSTED');
      expect(richStatusOf(fifth.error!).retryDelayMs).toBeGreaterThan(0);

      // Another client is served meanwhile.
      expect((await listPlugins(d.daemon.address)).plugins.length).toBeGreaterThan(0);

      // The tarpit calls end at the daemon's maximum connect timeout (1.5 s here), long before their two-minute deadline.
      const outcomes = await Promise.all(ends);
      expect(outcomes.map((o) => o.end)).toEqual(['UNAVAILABLE', 'UNAVAILABLE', 'OK', 'OK']);
      expect(outcomes[0].error?.details).toContain('1500 ms');
    } finally {
      attacker.close();
    }
  });
});
