import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { toTimestamp } from '../daemon/src/grpc/mapping';
import { pgSource, superuserQuery } from './support/pg';
import { startTestDaemon, type TestDaemon } from './support/testDaemon';

/**
 * Types other languages expect (issue 23): a google.protobuf.Timestamp beside the RFC 3339
 * strings of the contract, holding the same instant at full precision.
 */
describe('Timestamps beside the strings', () => {
  const pg = inject('postgres');
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon();
  });
  afterAll(() => t.stop());

  it("gives SourceIdentity.started_time as the server's own start time, to the precision of started_at", async () => {
    const events = await t.discover({
      dataSource: pgSource(pg),
      filter: { includeSchemas: ['sales'], excludeSchemas: [], includeTables: ['customers'], excludeTables: [], includeSystemSchemas: false },
    });
    const summary = events.at(-1)?.event;
    if (summary?.$case !== 'summary') throw new Error('no summary');
    const source = summary.value.source!;
    expect(source.startedAt).not.toBe('');
    const [{ epoch }] = await superuserQuery<{ epoch: string }>(pg, 'SELECT extract(epoch FROM pg_postmaster_start_time())::text AS epoch');
    const [whole, fraction = ''] = epoch.split('.');
    const micros = BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, '0'));
    const time = source.startedTime!;
    // started_at carries milliseconds (the daemon reads the start time into a JS Date), and
    // started_time the same instant: the server's start time truncated to the millisecond
    expect(source.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$/);
    const timeMicros = BigInt(time.seconds) * 1_000_000n + BigInt(time.nanos / 1000);
    expect(timeMicros).toBe(BigInt(Date.parse(source.startedAt)) * 1000n);
    // node-pg computes the milliseconds as 1000 * parseFloat('.xxxxxx'), which can land just
    // under a whole millisecond: truncated, or one millisecond less
    expect(micros - timeMicros >= 0n && micros - timeMicros < 2000n, `${micros} vs ${timeMicros}`).toBe(true);
  });

  it.each([
    ['2024-03-01T09:30:00.123456+00:00', { seconds: Date.UTC(2024, 2, 1, 9, 30) / 1000, nanos: 123_456_000 }],
    ['2024-03-01T11:30:00.5+02:00', { seconds: Date.UTC(2024, 2, 1, 9, 30) / 1000, nanos: 500_000_000 }],
    ['2024-03-01T09:30:00Z', { seconds: Date.UTC(2024, 2, 1, 9, 30) / 1000, nanos: 0 }],
    ['infinity', undefined],
    ['+10000-01-01T00:00:00+00:00', undefined],
    ['0000-00-00', undefined],
    ['', undefined],
  ])('maps %j', (text, expected) => {
    expect(toTimestamp(text)).toEqual(expected);
  });
});
