/**
 * The small pieces behind issue 15's items 7, 10 and 12, one by one: the timeout caps, peer
 * addresses, the authentication-failure bucket, the audit aggregation of refused calls, and
 * checkpoint signatures (the suites in test/e2e replay the attacks against daemon processes).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResourceExhaustedError } from '@sourced/core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { AuditLog } from '../src/audit/AuditLog';
import { FailureAggregator } from '../src/audit/FailureAggregator';
import { verifyAuditLog } from '../src/audit/verifyAuditLog';
import { AuthFailureLimiter } from '../src/security/authFailureLimiter';
import { capConnectTimeout, cappedTimeout, peerAddress } from '../src/security/limits';

describe('timeout caps', () => {
  /** A caller's connect timeout never passes the daemon's maximum, in milliseconds or seconds. */
  it('caps connect_timeout_ms and connect_timeout_seconds, and bounds the default', () => {
    const props = (p: Record<string, unknown>) => capConnectTimeout({ connectionProperties: p }, 30_000).connectionProperties;
    expect(props({ connect_timeout_ms: '3600000', other: 'x' })).toEqual({ connect_timeout_ms: '30000', other: 'x' });
    expect(props({ connect_timeout_seconds: 3600 })).toEqual({ connect_timeout_ms: '30000' });
    expect(props({ connect_timeout_ms: '2000' })).toEqual({ connect_timeout_ms: '2000' });
    expect(props({ connect_timeout_ms: 'soon' })).toEqual({ connect_timeout_ms: '10000' });
    expect(capConnectTimeout({ connectionProperties: {} }, 1_500).connectionProperties).toEqual({ connect_timeout_ms: '1500' });
    expect(capConnectTimeout({ connectionProperties: { connect_timeout_ms: '9' } }, 0).connectionProperties).toEqual({ connect_timeout_ms: '9' });
    expect([cappedTimeout(0, 5_000, 60_000), cappedTimeout(3_600_000, 5_000, 60_000), cappedTimeout(10, 5_000, 0)]).toEqual([5_000, 60_000, 10]);
  });

  it('names a peer by its address without the port', () => {
    expect(['127.0.0.1:5000', '::ffff:10.0.0.1:5000', '::1:5000', '[2001:db8::1]:443', 'unknown'].map(peerAddress)).toEqual([
      '127.0.0.1',
      '10.0.0.1',
      '::1',
      '2001:db8::1',
      'unknown',
    ]);
  });
});

describe('AuthFailureLimiter', () => {
  /** A peer fails `burst` times, then at the refill rate; other peers are not affected. */
  it('refuses a peer past its failures with a retry delay, refills, and keeps peers apart', () => {
    vi.useFakeTimers();
    try {
      const limiter = new AuthFailureLimiter(3, 60);
      for (let i = 0; i < 3; i++) {
        limiter.check('10.0.0.1');
        limiter.failed('10.0.0.1');
      }
      let refused: unknown;
      try {
        limiter.check('10.0.0.1');
      } catch (error) {
        refused = error;
      }
      expect(refused).toBeInstanceOf(ResourceExhaustedError);
      expect((refused as ResourceExhaustedError).reason).toBe('TOO_MANY_AUTH_FAILURES');
      expect((refused as ResourceExhaustedError).retryAfterMs).toBe(1_000);
      expect(() => limiter.check('10.0.0.2')).not.toThrow();
      vi.advanceTimersByTime(1_000);
      expect(() => limiter.check('10.0.0.1')).not.toThrow();
      expect(() => new AuthFailureLimiter(0, 0).check('10.0.0.1')).not.toThrow();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('audit aggregation and checkpoints', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sourced-hardening-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const lines = (file: string) =>
    readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  /** 1,000 refused calls of one peer are two lines: the first, and one with the count of the rest. */
  it('aggregates refused calls per peer, RPC and code', async () => {
    const file = join(dir, 'aggregated.log');
    const log = await AuditLog.open({ file });
    const failures = new FailureAggregator(log, 60_000);
    for (let i = 0; i < 1_000; i++) failures.record({ principal: 'anonymous', rpc: 'r', code: 16, durationMs: 1, peer: '10.0.0.9' });
    failures.record({ principal: 'anonymous', rpc: 'r', code: 16, durationMs: 1, peer: '10.0.0.8' });
    failures.close();
    await log.close();
    expect(lines(file).map((l) => [l.peer, l.count, l.outcome])).toEqual([
      ['10.0.0.9', undefined, 'UNAUTHENTICATED'],
      ['10.0.0.8', undefined, 'UNAUTHENTICATED'],
      ['10.0.0.9', 999, 'UNAUTHENTICATED'],
    ]);
    expect((await verifyAuditLog(file)).ok).toBe(true);
  });

  /** The log opens and closes with a checkpoint and signs every N lines; the key verifies it, another does not. */
  it('signs checkpoints that verify with the key only', async () => {
    const file = join(dir, 'signed.log');
    const key = Buffer.from('k'.repeat(32));
    const log = await AuditLog.open({ file }, { signingKey: key, checkpointEveryLines: 2, checkpointEveryMs: 0 });
    for (let i = 0; i < 5; i++) log.record({ principal: 'p', rpc: 'r', code: 0, durationMs: 1 });
    await log.close();
    expect(lines(file).map((l) => (l.checkpoint as { reason?: string } | undefined)?.reason ?? 'call')).toEqual([
      'open',
      'call',
      'call',
      'interval',
      'call',
      'call',
      'interval',
      'call',
      'close',
    ]);
    expect(await verifyAuditLog(file, { key })).toMatchObject({ ok: true, checkpoints: 4, signedThrough: 9 });
    expect(await verifyAuditLog(file, { key: Buffer.from('x'.repeat(32)) })).toMatchObject({ ok: false, line: 1 });
    // Reopened: the next run starts after the signed close.
    const again = await AuditLog.open({ file }, { signingKey: key, checkpointEveryMs: 0 });
    await again.close();
    expect(
      lines(file)
        .slice(-2)
        .map((l) => l.checkpoint),
    ).toMatchObject([{ reason: 'open', after: 'close' }, { reason: 'close' }]);
    expect((await verifyAuditLog(file, { key })).ok).toBe(true);
  });
});
