/**
 * Issue 24, item 1: the stall bound is set per strategy. A daemon with no
 * `discovery.stallTimeoutMs`/`stallProbeAfterMs` of its own runs each discovery under its
 * strategy's probe delay and backstop; a HYBRID PostgreSQL primary frozen mid-run (SIGSTOP on the
 * server and its backends) is left for the secondary within that strategy's bound (BALANCED:
 * the 10 s), and the client gets exactly what an undisturbed run gives. The stall is
 * measured and reported; the only time assertion is "within the configured bound".
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DiscoveryStrategy, EndpointRole, type DiscoverDataSourceResponse } from '@sourced/api';
import { frozenServerBoundMs, stallBoundOf, type DiscoveryStrategy as StrategyName } from '@sourced/core';
import { startPostgres, type PostgresInstance } from './harness/postgres';
import { freeze } from './support/freeze';
import { discoverWithFault, expectUndisturbed, hybridSource, seededFilter, seedPostgres, singleSource, type SeedShape } from './support/hybrid';
import { registerSecret } from './support/secretScan';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

const SHAPE: SeedShape = { schemas: 2, tablesPerSchema: 40 };
const BATCH = 4;
const STRATEGIES: [StrategyName, DiscoveryStrategy][] = [
  ['BALANCED', DiscoveryStrategy.DISCOVERY_STRATEGY_BALANCED],
  ['AGGRESSIVE', DiscoveryStrategy.DISCOVERY_STRATEGY_AGGRESSIVE],
];

/** The milliseconds the daemon says a read went unanswered, from a failover's reason (`sent no answer to a read for N ms`). */
function stalledMs(reason: string): number {
  const m = /sent no answer to a read for (\d+) ms/.exec(reason);
  return m ? Number(m[1]) : Number.NaN;
}

describe('the stall bound of each strategy, against a frozen primary (issue 24: 1)', () => {
  let a: PostgresInstance;
  let b: PostgresInstance;
  let d: TestDaemon;
  let thaw: (() => void) | undefined;
  let reference: DiscoverDataSourceResponse[];

  beforeAll(async () => {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    registerSecret('stall strategy test password', password);
    // No stall settings: every strategy's own bound applies.
    [a, b, d] = await Promise.all([startPostgres({ password }), startPostgres({ password }), startTestDaemon({ plugins: ['@sourced/plugin-postgres'] })]);
    await seedPostgres([a, b], SHAPE);
    ({ events: reference } = await discoverWithFault(d, { dataSource: singleSource('postgres', b), filter: seededFilter, batchSize: BATCH }, 1, () =>
      Promise.resolve(),
    ));
  });
  afterAll(async () => {
    thaw?.();
    await d?.stop();
    await Promise.all([a?.destroy(), b?.destroy()]);
  });
  beforeEach(() => {
    thaw?.();
    thaw = undefined;
  });

  /**
   * The frozen primary is left within the strategy's bound (its probe delay, the probe's 3 s and
   * 2 s to switch; BALANCED 10 s, the issue's), from the freeze to the failover as the client
   * sees it, and the run completes on the secondary exactly as an undisturbed run.
   */
  it.each(STRATEGIES)('fails a frozen primary over within the %s bound', async (name, strategy) => {
    const boundMs = frozenServerBoundMs(stallBoundOf(name, 'discovery'));
    let frozenAt = 0;
    let failoverAt = 0;
    const timed = {
      dataSources: {
        discoverDataSource: (...args: Parameters<TestDaemon['dataSources']['discoverDataSource']>) => {
          const stream = d.dataSources.discoverDataSource(...args);
          stream.on('data', (e: DiscoverDataSourceResponse) => {
            if (e.event?.$case === 'failover' && !failoverAt) failoverAt = Date.now();
          });
          return stream;
        },
      },
    } as unknown as Pick<TestDaemon, 'dataSources'>;
    const { events, faultAfterEvent } = await discoverWithFault(
      timed,
      { dataSource: hybridSource('postgres', a, b), filter: seededFilter, batchSize: BATCH, strategy },
      3,
      () => {
        thaw = freeze(a.pid as number);
        frozenAt = Date.now();
        return Promise.resolve();
      },
    );
    const failover = events.find((e) => e.event?.$case === 'failover');
    const reason = failover?.event?.$case === 'failover' ? failover.event.value.reason : '';
    const stalled = stalledMs(reason);
    console.log(
      `${name}: the failover reached the client ${failoverAt - frozenAt} ms after the primary froze; the daemon found the read unanswered after ${stalled} ms (bound ${boundMs} ms: probe after ${stallBoundOf(name, 'discovery').stallProbeAfterMs} ms + 3 s probe + 2 s to switch)`,
    );
    expectUndisturbed(events, reference, [EndpointRole.ENDPOINT_ROLE_SECONDARY], [faultAfterEvent]);
    // The configured bound (BALANCED: the 10 s), from the freeze to the failover as the client saw it. The
    // daemon's own figure counts from the read's start, which may be before the freeze (a slow read probed alive first).
    expect(reason).toContain('sent no answer');
    expect(failoverAt - frozenAt).toBeLessThanOrEqual(boundMs);
  });
});
