import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../daemon/src/config/DaemonConfig';
import type { DiscoverDataSourceResponse } from '@sourced/api';
import { EndpointRole } from '@sourced/api';
import { startPostgres, startReplica, type PostgresInstance } from './harness/postgres';
import { freeze } from './support/freeze';
import {
  discoverWithFault,
  expectUndisturbed,
  hybridSource,
  namesOf,
  seededCount,
  seededFilter,
  seededNames,
  seedPostgres,
  singleSource,
  sleep,
  type SeedShape,
} from './support/hybrid';
import { registerSecret } from './support/secretScan';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

/**
 * Issue 24: HYBRID as it usually runs, a primary and its streaming replica (`pg_basebackup -R`,
 * the same system identifier), with the faults real outages bring: the primary frozen
 * (SIGSTOP) or crashed mid-discovery. The run fails over to the replica and the client gets
 * exactly what an undisturbed run gives, and the summary names the replica (same cluster id,
 * the replica's port).
 */
const SHAPE: SeedShape = { schemas: 3, tablesPerSchema: 40 };
const ALL = seededNames(SHAPE);
const BATCH = 5;

describe('HYBRID PostgreSQL with a streaming replica as the secondary', () => {
  let primary: PostgresInstance;
  let replica: PostgresInstance;
  let t: TestDaemon;
  let thaw: (() => void) | undefined;
  let reference: DiscoverDataSourceResponse[];

  beforeAll(async () => {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    registerSecret('replica test password', password);
    [primary, t] = await Promise.all([
      startPostgres({ password }),
      startTestDaemon({ plugins: ['@sourced/plugin-postgres'], discovery: { ...DEFAULT_CONFIG.discovery, stallProbeAfterMs: 1_000 } }),
    ]);
    replica = await startReplica(primary);
    await seedPostgres([primary], SHAPE);
    // The replica follows the seed through WAL: wait until it shows every table.
    for (let i = 0; i < 100 && (await seededCount(replica)) < ALL.length; i++) await sleep(100);
    expect(await seededCount(replica)).toBe(ALL.length);
    reference = await t.discover({ dataSource: singleSource('postgres', replica), filter: seededFilter, batchSize: BATCH });
  });
  afterAll(async () => {
    thaw?.();
    await t?.stop();
    await Promise.all([replica?.destroy(), primary?.destroy()]);
  });
  beforeEach(async () => {
    thaw?.();
    thaw = undefined;
    await primary.start();
  });

  /** The replica's catalog is the primary's, and it is one cluster: the same system identifier. */
  it('reads the same catalog from the replica', async () => {
    expect(namesOf(reference)).toEqual(ALL);
    const ids = await Promise.all([primary, replica].map(async (s) => (await s.psql('SELECT system_identifier FROM pg_control_system()')).trim()));
    expect(ids[0]).toBe(ids[1]);
  });

  /** The primary freezes mid-run: one failover to the replica, the exact catalog, and the summary names the replica. */
  it('fails over to the replica when the primary freezes', async () => {
    const { events, faultAfterEvent } = await discoverWithFault(
      t,
      { dataSource: hybridSource('postgres', primary, replica), filter: seededFilter, batchSize: BATCH },
      3,
      () => {
        thaw = freeze(primary.pid as number);
        return Promise.resolve();
      },
    );
    expectUndisturbed(events, reference, [EndpointRole.ENDPOINT_ROLE_SECONDARY], [faultAfterEvent]);
    const summary = events.at(-1)?.event;
    expect(summary?.$case === 'summary' && summary.value.source?.serverPort).toBe(replica.port);
  });

  /**
   * The primary is frozen before the call (it accepts TCP in the kernel but never answers): the
   * run starts on the replica once the connect timeout (2 s here) passes, says why in a
   * STARTED_ON_SECONDARY warning, and gives exactly the undisturbed catalog. The wait is measured
   * and printed, not asserted beyond the run completing.
   */
  it('starts on the replica when the primary is frozen before the call', async () => {
    thaw = freeze(primary.pid as number);
    const source = hybridSource('postgres', primary, replica);
    source.connectionProperties = { ...source.connectionProperties, connect_timeout_seconds: '2' };
    const started = Date.now();
    const events = await t.discover({ dataSource: source, filter: seededFilter, batchSize: BATCH });
    console.log(`primary frozen before the call: the run started on the replica and ended ${Date.now() - started} ms after the call began`);
    expect(events[0].event).toMatchObject({ $case: 'warning', value: { code: 'STARTED_ON_SECONDARY' } });
    expect(events[0].event?.$case === 'warning' && events[0].event.value.message).toContain(`${primary.port}`);
    expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => i + 1));
    expect(namesOf(events)).toEqual(namesOf(reference));
    const summary = events.at(-1)?.event;
    expect(summary).toMatchObject({ $case: 'summary', value: { failovers: 0, endpoint: EndpointRole.ENDPOINT_ROLE_SECONDARY } });
    expect(summary?.$case === 'summary' && summary.value.source?.serverPort).toBe(replica.port);
  });

  /** The primary crashes mid-run: the same. */
  it('fails over to the replica when the primary crashes', async () => {
    const { events, faultAfterEvent } = await discoverWithFault(
      t,
      { dataSource: hybridSource('postgres', primary, replica), filter: seededFilter, batchSize: BATCH },
      3,
      () => primary.stop({ mode: 'immediate' }),
    );
    expectUndisturbed(events, reference, [EndpointRole.ENDPOINT_ROLE_SECONDARY], [faultAfterEvent]);
  });
});
