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
import type { DiscoverDataSourceResponse } from '@sourced/api';
import { EndpointRole } from '@sourced/api';
import { startLatencyProxy } from '../harness/latencyProxy';
import { startMariadb, type MariadbInstance } from '../harness/mariadb';
import { startPostgres, type PostgresInstance } from '../harness/postgres';
import { freeze } from '../support/freeze';
import {
  cursorBefore,
  discoverWithFault,
  expectUndisturbed,
  hybridSource,
  namesOf,
  seededFilter,
  seedMariadb,
  seedPostgres,
  singleSource,
  type SeedShape,
} from '../support/hybrid';
import { registerSecret } from '../support/secretScan';
import { richStatusOf } from '../support/testDaemon';
import { healthCheck, startConfiguredDaemon, type ConfiguredDaemon } from './support/hardenedDaemon';

const SHAPE: SeedShape = { schemas: 2, tablesPerSchema: 40 };
const BATCH = 4;
/** The daemon's bounds here: a read is probed after PROBE_AFTER_MS, and stalled at STALL_MS whatever the probe says. */
const PROBE_AFTER_MS = 1_000;
const STALL_MS = 30_000;
/** A view every seeded server has: its definition is read with pg_get_viewdef, which waits for a lock on it. */
const VIEW = 'hyb_00.t_010_v';

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
      startConfiguredDaemon({ plugins: ['@sourced/plugin-postgres'], discovery: { stallTimeoutMs: STALL_MS, stallProbeAfterMs: PROBE_AFTER_MS } }),
    ]);
    await seedPostgres([a, b], SHAPE);
    await Promise.all([a, b].map((s) => s.psql(`SET ROLE ${s.user}; CREATE VIEW ${VIEW} AS SELECT id, code FROM hyb_00.t_010;`)));
    const { events } = await discoverWithFault(d, { dataSource: singleSource('postgres', b), filter: seededFilter, batchSize: BATCH }, 1, () =>
      Promise.resolve(),
    );
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
   * ON_PREM: the run ends UNAVAILABLE SOURCE_STALLED soon after the freeze (when the probe finds
   * the server not answering, not at the deadline), the daemon keeps answering health checks,
   * the error carries the cursor of the last batch the client received, and resuming from it
   * once the server thaws gives exactly the rest of the catalog.
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
    expect(Number(info?.metadata?.bound_ms)).toBeLessThan(STALL_MS); // the probe found it, not the full bound
    // The cursor in the error is the last batch the client received.
    const received = error?.events ?? [];
    const resumeAfter = info?.metadata?.resume_after ?? '';
    expect(resumeAfter).toBe(cursorBefore(received, received.length));
    expect(namesOf(received).length).toBeGreaterThanOrEqual(2 * BATCH);
    console.log(`stalled run ended ${endedAfterMs} ms after the freeze (probe after ${PROBE_AFTER_MS} ms, bound ${STALL_MS} ms)`);

    thaw?.();
    thaw = undefined;
    // What the client had received before the error: every batch up to the cursor in the error.
    const { events: rest } = await discoverWithFault(
      d,
      { dataSource: singleSource('postgres', a), filter: seededFilter, batchSize: BATCH, resumeAfter },
      1,
      () => Promise.resolve(),
    );
    expect([...namesOf(received), ...namesOf(rest)]).toEqual(namesOf(reference));
  });

  /**
   * ON_PREM, the server crashes instead: the call ends UNAVAILABLE CONNECTION_LOST with the
   * cursor of the last batch received in the error (it had none: the client had to find its
   * last batch itself), and resuming from it after the restart gives exactly the rest.
   */
  it('ends an ON_PREM run whose server crashed UNAVAILABLE with the cursor to resume after', async () => {
    const error = await discoverWithFault(d, { dataSource: singleSource('postgres', a), filter: seededFilter, batchSize: BATCH }, 2, () =>
      a.stop({ mode: 'immediate' }),
    ).then(
      () => undefined,
      (e: unknown) => e as Error & { code: number; details: string; events: DiscoverDataSourceResponse[] },
    );
    expect(error?.code).toBe(status.UNAVAILABLE);
    const info = richStatusOf(error as never).errorInfo;
    expect(info?.reason).toBe('CONNECTION_LOST');
    const received = error?.events ?? [];
    expect(info?.metadata?.resume_after).toBe(cursorBefore(received, received.length));
    await a.start();
    const { events: rest } = await discoverWithFault(
      d,
      { dataSource: singleSource('postgres', a), filter: seededFilter, batchSize: BATCH, resumeAfter: info?.metadata?.resume_after },
      1,
      () => Promise.resolve(),
    );
    expect([...namesOf(received), ...namesOf(rest)]).toEqual(namesOf(reference));
  });

  /**
   * A read that waits on a lock is slow, not stalled: the probe finds the server answering, so
   * the run waits for the lock (past PROBE_AFTER_MS) and completes exactly, with no failover.
   */
  it('lets a slow read of a live server go on', async () => {
    const holding = a.psql(`BEGIN; LOCK TABLE ${VIEW} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;`);
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    const { events } = await discoverWithFault(d, { dataSource: hybridSource('postgres', a, b), filter: seededFilter, batchSize: BATCH }, 1, () =>
      Promise.resolve(),
    );
    await holding;
    expect(Date.now() - started).toBeGreaterThan(PROBE_AFTER_MS * 2); // it did wait on the lock
    expect(namesOf(events)).toEqual(namesOf(reference));
    expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { failovers: 0, endpoint: EndpointRole.ENDPOINT_ROLE_PRIMARY } });
  });

  /**
   * HYBRID over a link that starts dropping every packet without closing (a proxy in front of
   * the primary stops forwarding): the probe cannot get through either, so the run fails over
   * and completes exactly.
   */
  it('fails a HYBRID run over when the link to the primary drops packets', async () => {
    const proxy = await startLatencyProxy(a);
    try {
      const { events, faultAfterEvent } = await discoverWithFault(
        d,
        { dataSource: hybridSource('postgres', { ...a, port: proxy.port }, b), filter: seededFilter, batchSize: BATCH },
        3,
        () => {
          proxy.dropping = true;
          return Promise.resolve();
        },
      );
      expectUndisturbed(events, reference, [EndpointRole.ENDPOINT_ROLE_SECONDARY], [faultAfterEvent]);
    } finally {
      await proxy.close();
    }
  });

  /** HYBRID: the frozen primary is left for the secondary, and the client gets exactly the undisturbed catalog. */
  it('fails a HYBRID run over to the secondary when the primary freezes', async () => {
    let frozenAt = 0;
    const { events, faultAfterEvent } = await discoverWithFault(
      d,
      { dataSource: hybridSource('postgres', a, b), filter: seededFilter, batchSize: BATCH },
      3,
      () => {
        thaw = freeze(a.pid as number);
        frozenAt = Date.now();
        return Promise.resolve();
      },
    );
    console.log(`HYBRID run completed ${Date.now() - frozenAt} ms after the primary froze (probe after ${PROBE_AFTER_MS} ms, bound ${STALL_MS} ms)`);
    expectUndisturbed(events, reference, [EndpointRole.ENDPOINT_ROLE_SECONDARY], [faultAfterEvent]);
    const failover = events.find((e) => e.event?.$case === 'failover');
    expect(failover?.event?.$case === 'failover' && failover.event.value.reason).toContain('sent no answer');
    expect(cursorBefore(events, events.indexOf(failover as DiscoverDataSourceResponse))).not.toBe('');
  });
});

describe('a frozen MariaDB primary (issue 24: 1)', () => {
  let a: MariadbInstance;
  let b: MariadbInstance;
  let d: ConfiguredDaemon;
  let thaw: (() => void) | undefined;

  beforeAll(async () => {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    registerSecret('stall test MariaDB password', password);
    [a, b, d] = await Promise.all([
      startMariadb({ password }),
      startMariadb({ password }),
      startConfiguredDaemon({ plugins: ['@sourced/plugin-mysql'], discovery: { stallTimeoutMs: STALL_MS, stallProbeAfterMs: PROBE_AFTER_MS } }),
    ]);
    await seedMariadb([a, b], SHAPE);
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

  /** The frozen primary is left for the secondary well before the stall bound, and the catalog is exact. */
  it('fails a HYBRID run over to the secondary when the primary freezes', async () => {
    const { events: reference } = await discoverWithFault(d, { dataSource: singleSource('mysql', b), filter: seededFilter, batchSize: BATCH }, 1, () =>
      Promise.resolve(),
    );
    let frozenAt = 0;
    const { events, faultAfterEvent } = await discoverWithFault(
      d,
      { dataSource: hybridSource('mysql', a, b), filter: seededFilter, batchSize: BATCH },
      3,
      () => {
        thaw = freeze(a.pid as number);
        frozenAt = Date.now();
        return Promise.resolve();
      },
    );
    console.log(`MariaDB HYBRID run completed ${Date.now() - frozenAt} ms after the primary froze (probe after ${PROBE_AFTER_MS} ms, bound ${STALL_MS} ms)`);
    expectUndisturbed(events, reference, [EndpointRole.ENDPOINT_ROLE_SECONDARY], [faultAfterEvent]);
  });

  /**
   * ON_PREM (issue 24: 1): the run ends UNAVAILABLE SOURCE_STALLED with the cursor of the last
   * batch received in the error, and resuming from it once the server thaws gives exactly the rest.
   */
  it('ends a stalled ON_PREM run UNAVAILABLE with the cursor to resume after', async () => {
    const { events: reference } = await discoverWithFault(d, { dataSource: singleSource('mysql', b), filter: seededFilter, batchSize: BATCH }, 1, () =>
      Promise.resolve(),
    );
    let frozenAt = 0;
    const error = await discoverWithFault(d, { dataSource: singleSource('mysql', a), filter: seededFilter, batchSize: BATCH }, 2, () => {
      thaw = freeze(a.pid as number);
      frozenAt = Date.now();
      return Promise.resolve();
    }).then(
      () => undefined,
      (e: unknown) => e as Error & { code: number; events: DiscoverDataSourceResponse[] },
    );
    console.log(`MariaDB ON_PREM run ended ${Date.now() - frozenAt} ms after the freeze (probe after ${PROBE_AFTER_MS} ms, bound ${STALL_MS} ms)`);
    expect(error?.code).toBe(status.UNAVAILABLE);
    const info = richStatusOf(error as never).errorInfo;
    expect(info?.reason).toBe('SOURCE_STALLED');
    expect(info?.metadata?.hint).toBeTruthy();
    const received = error?.events ?? [];
    const resumeAfter = info?.metadata?.resume_after ?? '';
    expect(resumeAfter).toBe(cursorBefore(received, received.length));
    expect(namesOf(received).length).toBeGreaterThanOrEqual(2 * BATCH);

    thaw?.();
    thaw = undefined;
    const { events: rest } = await discoverWithFault(d, { dataSource: singleSource('mysql', a), filter: seededFilter, batchSize: BATCH, resumeAfter }, 1, () =>
      Promise.resolve(),
    );
    expect([...namesOf(received), ...namesOf(rest)]).toEqual(namesOf(reference));
  });
});
