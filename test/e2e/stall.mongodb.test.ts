/**
 * Issue 24, item 1, for MongoDB: a server that stops answering mid-discovery (the stand-in's
 * `pause()`, which freezes it as SIGSTOP freezes a mongod: connections stay open, nothing is
 * answered, heartbeats included). A HYBRID run fails over to the secondary (a second stand-in
 * serving the same data) and gives exactly the collections an undisturbed run gives; an ON_PREM
 * run ends UNAVAILABLE with the cursor of the last batch received in the error, from which a
 * later call resumes exactly once the server answers again. The stall (freeze to failover or
 * error) is measured and printed; nothing is asserted about time but the configured bound.
 */
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KEEPALIVE_IDLE_MS } from '../../core/src';
import { DEFAULT_CONFIG } from '../../daemon/src/config/DaemonConfig';
import { EndpointRole, Location, SslMode, type Collection, type DataSource, type DiscoverDataSourceResponse } from '@sourced/api';
import { mongoFixture, TEST_USER, VISIBLE_COLLECTIONS } from '../fixtures/mongodb/fixture';
import { startMongoStandIn, type MongoStandIn } from '../harness/mongo/MongoStandIn';
import { mongoSource } from '../harness/mongo/sources';
import { allKeepAlive, cursorBefore, discoverWithFault, discoverWithFaults, failoversOf, keepAliveSeconds, socketsTo } from '../support/hybrid';
import { registerSecret } from '../support/secretScan';
import { richStatusOf, startTestDaemon, type TestDaemon } from '../support/testDaemon';

/** The daemon's bounds here: a read is probed after PROBE_AFTER_MS, and stalled at STALL_MS whatever the probe says. */
const PROBE_AFTER_MS = 1_000;
const STALL_MS = 30_000;
const BATCH = 2;

const collections = (events: DiscoverDataSourceResponse[]): Collection[] =>
  events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.collections : []));
const names = (events: DiscoverDataSourceResponse[]) => collections(events).map((c) => `${c.database}.${c.name}`);
type Failed = Error & { code: number; events: DiscoverDataSourceResponse[] };

describe('a MongoDB server that stops answering mid-discovery (issue 24: 1)', () => {
  const password = 'Pa55-stall-mongo';
  let a: MongoStandIn;
  let b: MongoStandIn;
  let t: TestDaemon;
  let reference: DiscoverDataSourceResponse[];

  const facts = (s: MongoStandIn) => ({ host: s.host, port: s.port, user: TEST_USER, password, database: '' }) as Parameters<typeof mongoSource>[0];
  const single = (s: MongoStandIn): DataSource => mongoSource(facts(s));
  const hybrid = (): DataSource =>
    mongoSource(facts(a), {
      location: Location.LOCATION_HYBRID,
      secondary: { host: b.host, port: b.port, database: '' },
      sslConfig: { mode: SslMode.SSL_MODE_DISABLE, ca: '', cert: '', serverName: '' },
    });

  /**
   * Set by a test: the primary freezes on the next `aggregate` it receives (a page's sample),
   * before answering it, so the run is held on the source whatever the client does; `held`
   * resolves then.
   */
  let freezeOnSample: (() => void) | undefined;

  beforeAll(async () => {
    registerSecret('MongoDB stall test password', password);
    const dataset = () => mongoFixture({ test: password, shop: 'Pa55-shop-stall', admin: 'Pa55-admin-stall' });
    [a, b, t] = await Promise.all([
      startMongoStandIn({
        dataset: dataset(),
        onCommand: (command) => {
          if (!freezeOnSample || !('aggregate' in command)) return;
          const held = freezeOnSample;
          freezeOnSample = undefined;
          a.pause();
          held();
        },
      }),
      startMongoStandIn({ dataset: dataset() }),
      startTestDaemon({
        plugins: ['@sourced/plugin-mongodb'],
        discovery: { ...DEFAULT_CONFIG.discovery, stallTimeoutMs: STALL_MS, stallProbeAfterMs: PROBE_AFTER_MS },
      }),
    ]);
    reference = await t.discover({ dataSource: single(b), batchSize: BATCH });
    expect(names(reference)).toEqual(VISIBLE_COLLECTIONS);
  });
  afterAll(async () => {
    await t?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
  });
  beforeEach(() => a.resume());

  it('fails a HYBRID run over to the secondary when the primary stops answering, with exactly the undisturbed catalog', async () => {
    let frozenAt = 0;
    const { events, faultAfterEvent } = await discoverWithFault(t, { dataSource: hybrid(), batchSize: BATCH }, 2, () => {
      a.pause();
      frozenAt = Date.now();
      return Promise.resolve();
    });
    const notices = failoversOf(events);
    console.log(
      `MongoDB HYBRID run: failed over ${notices.length} time(s); completed ${Date.now() - frozenAt} ms after the primary froze (probe after ${PROBE_AFTER_MS} ms, bound ${STALL_MS} ms)`,
    );
    expect(notices.map((n) => n.active)).toEqual([EndpointRole.ENDPOINT_ROLE_SECONDARY]);
    expect(notices[0]?.at).toBeGreaterThanOrEqual(faultAfterEvent);
    expect(notices[0]?.resumeAfter).toBe(cursorBefore(events, notices[0]?.at ?? 0));
    expect(notices[0]?.resumeAfter).not.toBe('');
    expect(events.map((e) => e.sequence)).toEqual(events.map((_e, i) => i + 1));
    expect(names(events)).toEqual(names(reference));
    expect(collections(events)).toEqual(collections(reference));
    expect(events.at(-1)?.event).toMatchObject({ $case: 'summary', value: { failovers: 1, endpoint: EndpointRole.ENDPOINT_ROLE_SECONDARY } });
  });

  /**
   * Issue 24, item 2, for MongoDB: the sockets to both HYBRID servers (the target policy's
   * guard dials them for the driver) have TCP keep-alive after the daemon's idle time, not the
   * kernel's two hours, as `ss -o` shows them while the primary holds the run's first sample
   * (held on the source: a client that stops reading does not hold a catalog this small, the
   * daemon finishes it into the stream's buffers and closes its connections).
   */
  it("keeps the HYBRID sockets to both servers alive with the daemon's idle time", async () => {
    const held = new Promise<void>((resolve) => (freezeOnSample = resolve));
    const run = discoverWithFaults(t, { dataSource: hybrid(), batchSize: BATCH }, {});
    let seen: { a: string[]; b: string[] };
    try {
      await held;
      seen = { a: await socketsTo(a.port, allKeepAlive), b: await socketsTo(b.port, allKeepAlive) };
    } finally {
      freezeOnSample = undefined;
      a.resume();
    }
    // The run goes on once the primary answers (or on the secondary, had the probe found it frozen).
    expect(names((await run).events)).toEqual(names(reference));
    for (const lines of [seen.a, seen.b]) {
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        expect(line).toContain('timer:(keepalive');
        expect(keepAliveSeconds(line)).toBeLessThanOrEqual(KEEPALIVE_IDLE_MS / 1000);
      }
    }
  });

  it('ends an ON_PREM run UNAVAILABLE with the cursor to resume after, and resuming from it once the server answers gives exactly the rest', async () => {
    let frozenAt = 0;
    const error = await discoverWithFault(t, { dataSource: single(a), batchSize: BATCH }, 2, () => {
      a.pause();
      frozenAt = Date.now();
      return Promise.resolve();
    }).then(
      () => undefined,
      (e: unknown) => e as Failed,
    );
    console.log(`MongoDB ON_PREM run ended ${Date.now() - frozenAt} ms after the server froze: ${error?.message}`);
    expect(error?.code).toBe(status.UNAVAILABLE);
    const info = richStatusOf(error).errorInfo;
    // The daemon's probe (SOURCE_STALLED) or the driver's own heartbeat (a lost connection), whichever notices first.
    expect(['SOURCE_STALLED', 'CONNECTION_LOST']).toContain(info?.reason);
    const received = error?.events ?? [];
    const resumeAfter = info?.metadata?.resume_after ?? '';
    expect(resumeAfter).toBe(cursorBefore(received, received.length));
    expect(names(received).length).toBeGreaterThanOrEqual(2 * BATCH);

    a.resume();
    const rest = await t.discover({ dataSource: single(a), batchSize: BATCH, resumeAfter });
    expect([...names(received), ...names(rest)]).toEqual(names(reference));
    expect([...collections(received), ...collections(rest)]).toEqual(collections(reference));
  });
});
