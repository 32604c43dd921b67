import { randomBytes } from 'node:crypto';
import { KEEPALIVE_IDLE_MS } from '@sourced/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DiscoverDataSourceResponse } from '@sourced/api';
import { CheckStatus, EndpointRole } from '@sourced/api';
import { startMariadb, type MariadbInstance } from './harness/mariadb';
import { registerSecret } from './support/secretScan';
import {
  discoverWithFault,
  discoverWithFaults,
  expectUndisturbed,
  failoversOf,
  hybridSource,
  kindsOf,
  namesOf,
  seededFilter,
  seededNames,
  seedMariadb,
  seededCount,
  singleSource,
  sleep,
  waitUntilHeld,
  type SeedShape,
  allKeepAlive,
  keepAliveSeconds,
  socketsTo,
} from './support/hybrid';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

const SHAPE: SeedShape = { schemas: 4, tablesPerSchema: 75 };
const BATCH = 10;
const { ENDPOINT_ROLE_PRIMARY: PRIMARY, ENDPOINT_ROLE_SECONDARY: SECONDARY } = EndpointRole;
const ALL = seededNames(SHAPE);

/** The daemon's sockets to a port, as the kernel sees them (`ss -o` shows a keepalive timer on sockets with SO_KEEPALIVE). */

describe('HYBRID MySQL (MariaDB): primary, secondary, failover', () => {
  let a: MariadbInstance; // primary
  let b: MariadbInstance; // secondary
  let t: TestDaemon;
  let reference: DiscoverDataSourceResponse[];

  beforeAll(async () => {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    registerSecret('HYBRID test password', password);
    // performance_schema for session_connect_attrs (the program_name connection attribute).
    const options = { password, extraArgs: ['--performance-schema=ON'] };
    [a, b, t] = await Promise.all([startMariadb(options), startMariadb(options), startTestDaemon({ plugins: ['@sourced/plugin-mysql'] })]);
    await seedMariadb([a, b], SHAPE);
    reference = await t.discover({ dataSource: singleSource('mysql', b), filter: seededFilter, batchSize: BATCH });
  });
  afterAll(async () => {
    await t?.stop();
    await Promise.all([a?.destroy(), b?.destroy()]);
  });
  beforeEach(async () => {
    await Promise.all([a.start(), b.start()]);
    // Whatever an earlier test crashed, both servers hold the whole seed (asked of the servers themselves).
    expect(await Promise.all([seededCount(a), seededCount(b)])).toEqual([ALL.length, ALL.length]);
  });

  /** The reference run (the secondary alone) holds every seeded table in order, over many batches. */
  it('has a reference catalog spanning many batches', () => {
    expect(namesOf(reference)).toEqual(ALL);
    expect(kindsOf(reference).filter((k) => k === 'batch').length).toBe(ALL.length / BATCH);
  });

  /**
   * The primary crashes while a page is being read: the client sees one failover to the
   * secondary, then exactly the entities of an undisturbed run (none missing, none twice),
   * with continuous sequence numbers, and the summary counts one failover.
   */
  it('fails over when the primary crashes during a read', async () => {
    const { events, faultAfterEvent } = await discoverWithFault(t, { dataSource: hybridSource('mysql', a, b), filter: seededFilter, batchSize: BATCH }, 3, () =>
      a.stop({ mode: 'immediate' }),
    );
    expectUndisturbed(events, reference, [SECONDARY], [faultAfterEvent]);
  });

  /**
   * The primary crashes while the run waits on a slow client (its connection idle between
   * pages): the next read finds it dead, fails over, and the catalog is still exact.
   */
  it('fails over when the primary crashes while its connection is idle', async () => {
    const { events, faultAfterEvent } = await discoverWithFault(t, { dataSource: hybridSource('mysql', a, b), filter: seededFilter, batchSize: 4 }, 3, async () => {
      await waitUntilHeld(a); // the daemon runs ahead until back-pressure holds it, its connection idle
      await a.stop({ mode: 'immediate' });
    });
    expectUndisturbed(events, reference, [SECONDARY], [faultAfterEvent]);
    expect(failoversOf(events)[0].at).toBeGreaterThan(faultAfterEvent + 5); // the daemon was held well past the fault's batch
  });

  /**
   * Two faults in one run: the primary crashes and comes back, later the secondary crashes;
   * the run fails over to the secondary and back to the primary, and the catalog is still exact.
   */
  it('fails back to the primary when the secondary crashes later', async () => {
    const { events, faultAfterEvent } = await discoverWithFaults(t, { dataSource: hybridSource('mysql', a, b), filter: seededFilter, batchSize: 2 }, {
      3: async () => {
        await a.stop({ mode: 'immediate' });
        await a.start();
      },
      60: () => b.stop({ mode: 'immediate' }),
    });
    expectUndisturbed(events, reference, [SECONDARY, PRIMARY], [faultAfterEvent[3], faultAfterEvent[60]]);
  });

  /**
   * The standby connection opened at the start dies while it waits (the secondary restarts);
   * when the primary then crashes, the failover opens the secondary afresh instead of
   * reading from the dead connection, and the catalog is still exact.
   */
  it('fails over to a secondary whose standby connection died meanwhile', async () => {
    const { events, faultAfterEvent } = await discoverWithFaults(t, { dataSource: hybridSource('mysql', a, b), filter: seededFilter, batchSize: BATCH }, {
      2: async () => {
        await b.stop({ mode: 'immediate' });
        await b.start();
      },
      4: () => a.stop({ mode: 'immediate' }),
    });
    expectUndisturbed(events, reference, [SECONDARY], [faultAfterEvent[4]]);
  });

  /** With the primary down at the start, the run starts on the secondary with a warning and completes. */
  it('starts on the secondary when the primary is down', async () => {
    await a.stop({ mode: 'immediate' });
    const events = await t.discover({ dataSource: hybridSource('mysql', a, b), filter: seededFilter, batchSize: BATCH });
    expect(events[0].event).toMatchObject({ $case: 'warning', value: { code: 'STARTED_ON_SECONDARY' } });
    expect(namesOf(events)).toEqual(ALL);
    expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => i + 1));
    const summary = events.at(-1)?.event;
    expect(summary).toMatchObject({ $case: 'summary', value: { failovers: 0, warnings: 1, endpoint: EndpointRole.ENDPOINT_ROLE_SECONDARY } });
  });

  /** With the secondary down at the start, the run goes on on the primary and says it has no failover protection (NO_STANDBY, with the reason). */
  it('warns that a run has no failover protection when the secondary is down at the start', async () => {
    await b.stop({ mode: 'immediate' });
    const events = await t.discover({ dataSource: hybridSource('mysql', a, b), filter: seededFilter, batchSize: BATCH });
    const warnings = events.flatMap((e) => (e.event?.$case === 'warning' ? [e.event.value] : []));
    expect(warnings.map((w) => w.code)).toEqual(['NO_STANDBY']);
    expect(warnings[0].message).toContain(`127.0.0.1:${b.port}`);
    expect(namesOf(events)).toEqual(ALL);
    expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { failovers: 0, warnings: 1, endpoint: PRIMARY } });
  });

  /** With both endpoints down, the call fails UNAVAILABLE and the message names both causes. */
  it('fails UNAVAILABLE naming both endpoints when both are down', async () => {
    await Promise.all([a.stop({ mode: 'immediate' }), b.stop({ mode: 'immediate' })]);
    const error = await expectFailure(t.discover({ dataSource: hybridSource('mysql', a, b), filter: seededFilter, batchSize: BATCH }));
    expect(error.code).toBe(14); // UNAVAILABLE
    const status = richStatusOf(error);
    expect(status.errorInfo?.reason).toBe('ALL_ENDPOINTS_UNAVAILABLE');
    expect(error.details).toMatch(/primary: .*127\.0\.0\.1:\d+/);
    expect(error.details).toMatch(/secondary: .*127\.0\.0\.1:\d+/);
    expect(error.details).toContain(String(a.port));
    expect(error.details).toContain(String(b.port));
  });

  /** Validation of a HYBRID source reports each endpoint with its role; a down endpoint fails, the other passes. */
  it('validates both endpoints, each reported with its role', async () => {
    await a.stop({ mode: 'immediate' });
    const events = await t.validate({ dataSource: hybridSource('mysql', a, b) });
    const reports = events.flatMap((e) => (e.event?.$case === 'report' ? [e.event.value] : []));
    expect(reports.map((r) => [r.endpoint, r.address, r.ok])).toEqual([
      [EndpointRole.ENDPOINT_ROLE_PRIMARY, `127.0.0.1:${a.port}`, false],
      [EndpointRole.ENDPOINT_ROLE_SECONDARY, `127.0.0.1:${b.port}`, true],
    ]);
    const tcp = events.flatMap((e) => (e.event?.$case === 'checkFinished' && e.event.value.checkId === 'tcp' ? [e.event.value] : []));
    expect(tcp.map((c) => [c.endpoint, c.status])).toEqual([
      [EndpointRole.ENDPOINT_ROLE_PRIMARY, CheckStatus.CHECK_STATUS_FAILED],
      [EndpointRole.ENDPOINT_ROLE_SECONDARY, CheckStatus.CHECK_STATUS_PASSED],
    ]);
    expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { ok: false, endpoints: 2 } });
  });

  /**
   * HYBRID sessions, primary and standby alike, carry the connection attribute
   * program_name=sourced (seen in performance_schema.session_connect_attrs of each server)
   * and TCP keep-alive (the kernel shows a keepalive timer on the daemon's sockets to both).
   */
  it('opens both endpoints with a program name and TCP keep-alive', async () => {
    let seen: { a: string[]; b: string[]; socketsA: string[]; socketsB: string[] } | undefined;
    const attrs = (s: MariadbInstance) =>
      s
        .sql(
          `SELECT a.ATTR_VALUE FROM performance_schema.session_connect_attrs a
             JOIN information_schema.PROCESSLIST p ON p.ID = a.PROCESSLIST_ID
            WHERE a.ATTR_NAME = 'program_name' AND p.USER = '${s.user}'`,
        )
        .then((o) => o.split('\n').filter(Boolean));
    await discoverWithFault(t, { dataSource: hybridSource('mysql', a, b), filter: seededFilter, batchSize: BATCH }, 2, async () => {
      seen = { a: await attrs(a), b: await attrs(b), socketsA: await socketsTo(a.port, allKeepAlive), socketsB: await socketsTo(b.port, allKeepAlive) };
    });
    expect(seen?.a).toEqual(['sourced']);
    expect(seen?.b).toEqual(['sourced']);
    expect(seen?.socketsA).toHaveLength(1);
    expect(seen?.socketsB).toHaveLength(1);
    expect(seen?.socketsA[0]).toContain('timer:(keepalive');
    expect(seen?.socketsB[0]).toContain('timer:(keepalive');
    // ... with the daemon's idle time, not the kernel's two hours (issue 24: it showed 119min)
    for (const line of [seen?.socketsA[0] ?? '', seen?.socketsB[0] ?? '']) expect(keepAliveSeconds(line)).toBeLessThanOrEqual(KEEPALIVE_IDLE_MS / 1000);

    // The control: an ON_PREM session has no keep-alive, so the timer above is HYBRID's doing.
    let onPrem: string[] = [];
    await discoverWithFault(t, { dataSource: singleSource('mysql', a), filter: seededFilter, batchSize: BATCH }, 2, async () => {
      onPrem = await socketsTo(a.port); // one sample, while the run is held at its second batch
    });
    expect(onPrem).toHaveLength(1);
    expect(onPrem[0]).not.toContain('keepalive');
  });
});
