/**
 * Issue 15, item 10, replayed against a `sourced serve` process with bearer tokens and an
 * audit file: a flood of calls with a bad token from one peer (127.0.0.2, through a relay) is
 * refused before authentication once the peer has used up its failures (RESOURCE_EXHAUSTED
 * with RetryInfo), a caller with a good token from another address is served meanwhile, and
 * the audit log holds a few aggregated lines for the flood, not one per call, in a chain that
 * still verifies.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListPluginsRequest, PluginServiceClient } from '@sourced/api';
import { hashToken } from '../../daemon/src/security/authenticate';
import { registerSecret } from '../support/secretScan';
import { richStatusOf } from '../support/testDaemon';
import { runCli } from './support/processes';
import { bearer, listPlugins, relayFrom, startConfiguredDaemon, type ConfiguredDaemon } from './support/hardenedDaemon';

const FLOOD = 600;

describe('unauthenticated floods (a daemon process)', () => {
  let d: ConfiguredDaemon;
  let relay: Awaited<ReturnType<typeof relayFrom>>;
  const good = `good-${randomBytes(12).toString('hex')}`;
  const bad = `bad-${randomBytes(12).toString('hex')}`;

  beforeAll(async () => {
    registerSecret('the good token', good);
    registerSecret('the bad token', bad);
    d = await startConfiguredDaemon({
      auth: { tokens: [{ principal: 'platform-ci', sha256: hashToken(good) }] },
      rbac: { roles: { viewer: { rpcs: ['sourced.v1.PluginService/*'] } }, bindings: { 'platform-ci': ['viewer'] } },
      audit: { file: 'audit.log', aggregateFailuresMs: 60_000 },
      limits: { authFailureBurst: 10, authFailuresPerMinute: 60 },
    });
    relay = await relayFrom(d.daemon.address, '127.0.0.2');
  });
  afterAll(async () => {
    await relay?.close();
    await d?.stop();
  });

  it('rate-limits a peer that keeps failing before authentication, serves others, and aggregates the failures in the audit log', async () => {
    const codes = new Map<string, number>();
    let retryDelayMs: number | undefined;
    // At most 50 calls in flight, FLOOD in all, over one connection.
    const attacker = new PluginServiceClient(relay.address, credentials.createInsecure());
    const call = () =>
      new Promise((resolve, reject) =>
        attacker.listPlugins(ListPluginsRequest.fromPartial({}), bearer(bad), { deadline: Date.now() + 10_000 }, (e, r) => (e ? reject(e) : resolve(r))),
      );
    let next = 0;
    const worker = async () => {
      while (next < FLOOD) {
        next += 1;
        try {
          await call();
          codes.set('OK', (codes.get('OK') ?? 0) + 1);
        } catch (error) {
          const name = status[(error as ServiceError).code];
          codes.set(name, (codes.get(name) ?? 0) + 1);
          if (name === 'RESOURCE_EXHAUSTED') retryDelayMs ??= richStatusOf(error as ServiceError).retryDelayMs;
        }
      }
    };
    const flood = Promise.all(Array.from({ length: 50 }, worker));
    // Meanwhile, a caller with a good token from another address.
    expect((await listPlugins(d.daemon.address, bearer(good))).plugins.length).toBeGreaterThan(0);
    await flood;
    attacker.close();
    expect(codes.get('OK')).toBeUndefined();
    // The burst of 10, and at most a few more refilled (one a second) while the flood ran.
    expect(codes.get('UNAUTHENTICATED')).toBeGreaterThanOrEqual(10);
    expect(codes.get('UNAUTHENTICATED')).toBeLessThan(30);
    expect(codes.get('RESOURCE_EXHAUSTED')).toBe(FLOOD - codes.get('UNAUTHENTICATED')!);
    expect(retryDelayMs).toBeGreaterThan(0);
    expect((await listPlugins(d.daemon.address, bearer(good))).plugins.length).toBeGreaterThan(0);

    await d.daemon.terminate();
    const file = join(d.dir, 'audit.log');
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const flooded = lines.filter((l) => l.peer === '127.0.0.2');
    // One line per RPC and code for the first failure, one more with the count of the rest.
    expect(flooded.length).toBeLessThanOrEqual(4);
    expect(flooded.reduce((n, l) => n + ((l.count as number | undefined) ?? 1), 0)).toBe(FLOOD);
    expect(lines.filter((l) => l.principal === 'platform-ci')).toHaveLength(2);
    expect(lines.length).toBeLessThan(10);
    const verified = await runCli(['audit', 'verify', file]);
    expect(verified.code).toBe(0);
  });
});
