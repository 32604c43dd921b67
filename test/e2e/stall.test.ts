/**
 * Issue 15, item 6, replayed against a `sourced serve` process: a discovery whose source
 * freezes (`SIGSTOP` on the server and its backends) mid-run. A frozen server never fires its
 * own statement timeout and the kernel keeps the TCP connection alive, so before the fix the
 * call sent nothing until the caller's deadline. Now the daemon bounds every catalog read
 * (`discovery.stallTimeoutMs`): an ON_PREM run ends UNAVAILABLE `SOURCE_STALLED` with the
 * cursor of the last batch sent, from which a later call resumes exactly; a HYBRID run fails
 * over and completes as an undisturbed run would. A source that crashes instead ends the call
 * UNAVAILABLE `CONNECTION_LOST`, now with the cursor too.
 */
import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DiscoverDataSourceResponse } from '../../daemon/src/gen/sourced/v1/data_source_service';
import { EndpointRole } from '../../daemon/src/gen/sourced/v1/validation';
import { startPostgres, type PostgresInstance } from '../harness/postgres';
import { freeze } from '../support/freeze';
import { cursorBefore, discoverWithFault, expectUndisturbed, hybridSource, namesOf, seededFilter, seededNames, seedPostgres, singleSource, type SeedShape } from '../support/hybrid';
import { registerSecret } from '../support/secretScan';
import { richStatusOf } from '../support/testDaemon';
import { healthCheck, startConfiguredDaemon, type ConfiguredDaemon } from './support/hardenedDaemon';

const SHAPE: SeedShape = { schemas: 2, tablesPerSchema: 40 };
const ALL = seededNames(SHAPE);
const BATCH = 4;
const STALL_MS = 2_000;

describe('a frozen source (issue 15: 6)', () => {
  let a: PostgresInstance;
  let b: PostgresInstance;
  let d: ConfiguredDaemon;
  let thaw: (() => void) | undefined;
  let reference: DiscoverDataSourceResponse[];

  beforeAll(async () => {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    registerSecret('stall test password', password);
    [a, b, d] = await Promise.all([
      startPostgres({ password }),
      startPostgres({ password }),
      startConfiguredDaemon({ plugins: ['@sourced/plugin-postgres'], discovery: { stallTimeoutMs: STALL_MS } }),
    ]);
    await seedPostgres([a, b], SHAPE);
    const { events } = await discoverWithFault(d, { dataSource: singleSource('postgres', b), filter: seededFilter, batchSize: BATCH }, 1, () => Promise.resolve());
    reference = events;
  });
  afterAll(async () => {
    thaw?.();
    await d?.stop();
    await Promise.all([a?.destroy(), b?.destroy()]);
  });
  beforeEach(async () => {
    thaw?.();
    thaw = undefined;
    await a.start();
  });

  /**
   * ON_PREM: the run ends UNAVAILABLE SOURCE_STALLED soon after the freeze (not at the
   * deadline), the daemon keeps answering health checks, the error carries the cursor of the
   * last batch the client received, and resuming from it once the server thaws gives exactly
   * the rest of the catalog.
   */
  it('ends a stalled ON_PREM run UNAVAILABLE with the cursor to resume after', async () => {
    let frozenAt = 0;
    const error = await discoverWithFault(d, { dataSource: singleSource('postgres', a), filter: seededFilter, batchSize: BATCH }, 2, () => {
      thaw = freeze(a.pid as number);
      frozenAt = Date.now();
      return Promise.resolve();
    }).then(
      () => undefined,
      (e: unknown) => e as Error & { code: number; details: string; events: DiscoverDataSourceResponse[] },
    );
    const endedAfterMs = Date.now() - frozenAt;
    expect(error?.code).toBe(status.UNAVAILABLE);
    expect(await healthCheck(d.daemon.address)).toBe('SERVING');
    const info = richStatusOf(error as never).errorInfo;
    expect(info?.reason).toBe('SOURCE_STALLED');
    expect(info?.metadata?.bound_ms).toBe(String(STALL_MS));
    // The cursor in the error is the last batch the client received.
    const received = error?.events ?? [];
    const resumeAfter = info?.metadata?.resume_after ?? '';
    expect(resumeAfter).toBe(cursorBefore(received, received.length));
    expect(namesOf(received).length).toBeGreaterThanOrEqual(2 * BATCH);
    console.log(`stalled run ended ${endedAfterMs} ms after the freeze (bound ${STALL_MS} ms)`);

    thaw?.();
    thaw = undefined;
    // What the client had received before the error: every batch up to the cursor in the error.
    const { events: rest } = await discoverWithFault(d, { dataSource: singleSource('postgres', a), filter: seededFilter, batchSize: BATCH, resumeAfter }, 1, () => Promise.resolve());
    expect([...namesOf(received), ...namesOf(rest)]).toEqual(ALL);
  });

  /**
   * ON_PREM, the server crashes instead: the call ends UNAVAILABLE CONNECTION_LOST with the
   * cursor of the last batch received in the error (it had none: the client had to find its
   * last batch itself), and resuming from it after the restart gives exactly the rest.
   */
  it('ends an ON_PREM run whose server crashed UNAVAILABLE with the cursor to resume after', async () => {
    const error = await discoverWithFault(d, { dataSource: singleSource('postgres', a), filter: seededFilter, batchSize: BATCH }, 2, () => a.stop({ mode: 'immediate' })).then(
      () => undefined,
      (e: unknown) => e as Error & { code: number; details: string; events: DiscoverDataSourceResponse[] },
    );
    expect(error?.code).toBe(status.UNAVAILABLE);
    const info = richStatusOf(error as never).errorInfo;
    expect(info?.reason).toBe('CONNECTION_LOST');
    const received = error?.events ?? [];
    expect(info?.metadata?.resume_after).toBe(cursorBefore(received, received.length));
    await a.start();
    const { events: rest } = await discoverWithFault(d, { dataSource: singleSource('postgres', a), filter: seededFilter, batchSize: BATCH, resumeAfter: info?.metadata?.resume_after }, 1, () => Promise.resolve());
    expect([...namesOf(received), ...namesOf(rest)]).toEqual(ALL);
  });

  /** HYBRID: the frozen primary is left for the secondary, and the client gets exactly the undisturbed catalog. */
  it('fails a HYBRID run over to the secondary when the primary freezes', async () => {
    const { events, faultAfterEvent } = await discoverWithFault(d, { dataSource: hybridSource('postgres', a, b), filter: seededFilter, batchSize: BATCH }, 3, () => {
      thaw = freeze(a.pid as number);
      return Promise.resolve();
    });
    expectUndisturbed(events, reference, [EndpointRole.ENDPOINT_ROLE_SECONDARY], [faultAfterEvent]);
    const failover = events.find((e) => e.event?.$case === 'failover');
    expect(failover?.event?.$case === 'failover' && failover.event.value.reason).toContain('sent no answer');
    expect(cursorBefore(events, events.indexOf(failover as DiscoverDataSourceResponse))).not.toBe('');
  });
});
