/**
 * Hostile input: thousands of random and mutated requests (random field values, invalid
 * UTF-8, huge strings, deeply nested structs, malformed protobuf bytes, calls dropped
 * mid-stream) against one daemon, while a well-behaved client keeps discovering beside them.
 * The daemon must answer every call with a status, never crash, keep serving the good
 * client, and leave no source connection open. The generator is seeded (SOURCED_FUZZ_SEED
 * replays a run; SOURCED_FUZZ_CALLS sets the count).
 */
import { randomBytes } from 'node:crypto';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_CONFIG } from '../daemon/src';
import { DiscoverDataSourceRequest, ValidateDataSourceRequest } from '@sourced/api';
import { pgSource, superuserQuery } from './support/pg';
import { registerSecret } from './support/secretScan';
import { collect, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

const SEED = Number(process.env.SOURCED_FUZZ_SEED ?? 20261128);
const CALLS = Number(process.env.SOURCED_FUZZ_CALLS ?? 2000);

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
    bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))),
  };
}

type Rng = ReturnType<typeof rng>;

/** A Struct nested `depth` levels deep, as protobuf bytes (Struct{fields: map<string, Value{struct_value}>}). */
function deepStruct(depth: number): Buffer {
  let inner = Buffer.alloc(0);
  for (let i = 0; i < depth; i++) {
    const value = Buffer.concat([Buffer.from([(5 << 3) | 2]), varint(inner.length), inner]); // Value.struct_value = 5
    const entry = Buffer.concat([Buffer.from([0x0a, 0x01, 0x78]), Buffer.from([0x12]), varint(value.length), value]); // key "x", value
    inner = Buffer.concat([Buffer.from([0x0a]), varint(entry.length), entry]); // Struct.fields = 1
  }
  return inner;
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** One hostile request body for a DataSourceService method. */
function hostileBody(r: Rng, valid: Buffer): Buffer {
  switch (r.int(7)) {
    case 0: // random bytes
      return r.bytes(r.int(200));
    case 1: {
      // a valid request with bytes flipped
      const b = Buffer.from(valid);
      for (let i = 0; i < 1 + r.int(8); i++) b[r.int(b.length)] = r.int(256);
      return b;
    }
    case 2: // truncated
      return valid.subarray(0, r.int(valid.length));
    case 3: {
      // a string field holding invalid UTF-8 (field 1: data_source, inside it field 1: id)
      const bad = Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]);
      const ds = Buffer.concat([Buffer.from([0x0a]), varint(bad.length), bad]);
      return Buffer.concat([Buffer.from([0x0a]), varint(ds.length), ds]);
    }
    case 4: {
      // a huge string (1 MiB) in the data source id
      const huge = Buffer.alloc(1 << 20, 0x41);
      const ds = Buffer.concat([Buffer.from([0x0a]), varint(huge.length), huge]);
      return Buffer.concat([Buffer.from([0x0a]), varint(ds.length), ds]);
    }
    case 5: {
      // connection_properties (field 11 of DataSource) nested hundreds of levels deep
      const s = deepStruct(50 + r.int(500));
      const ds = Buffer.concat([Buffer.from([(11 << 3) | 2]), varint(s.length), s]);
      return Buffer.concat([Buffer.from([0x0a]), varint(ds.length), ds]);
    }
    default: {
      // a well-formed request with random field values
      const req = DiscoverDataSourceRequest.fromPartial({
        dataSource: {
          type: r.pick(['postgres', 'mysql', 'mongodb', '', 'nope', '\u0000', 'postgres'.repeat(r.int(50))]),
          primary: { host: r.pick(['127.0.0.1', '', '::::', 'a'.repeat(300), '169.254.169.254']), port: r.int(70000) },
          location: r.int(8),
        },
        batchSize: r.int(5000),
        strategy: r.int(9),
        resumeAfter: r.pick(['', 'garbage', randomBytes(20).toString('base64')]),
        maxEntities: r.int(10),
      });
      return Buffer.from(DiscoverDataSourceRequest.encode(req).finish());
    }
  }
}

describe('hostile input', () => {
  const pg = inject('postgres');
  const role = `sourced_fuzz_${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  let t: TestDaemon;

  beforeAll(async () => {
    registerSecret('the fuzz role password', password);
    await superuserQuery(pg, `CREATE ROLE ${role} LOGIN PASSWORD '${password}' IN ROLE pg_read_all_data`);
    t = await startTestDaemon({
      plugins: ['@sourced/plugin-postgres', '@sourced/plugin-mysql'],
      limits: { ...DEFAULT_CONFIG.limits, maxMessageBytes: 2 << 20 },
    });
  });
  afterAll(async () => {
    await t?.stop();
    await superuserQuery(pg, `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  });

  it('answers bytes that are not a request message with INVALID_ARGUMENT, not INTERNAL', async () => {
    const raw = new Client(t.address, credentials.createInsecure());
    const error = await new Promise<ServiceError>((resolve) => {
      const call = raw.makeServerStreamRequest(
        '/sourced.v1.DataSourceService/DiscoverDataSource',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0xff, 0xff]),
        new Metadata(),
      );
      call.on('data', () => undefined);
      call.on('error', resolve);
    });
    raw.close();
    const rich = richStatusOf(error);
    expect(rich).toMatchObject({ grpcCode: status.INVALID_ARGUMENT, errorInfo: { reason: 'MALFORMED_REQUEST' } });
    expect(rich.badRequest?.[0]?.field).toBe('request');
    expect(rich.badRequest?.[0]?.description).toMatch(/^is not a valid request message for sourced\.v1\.DataSourceService\/DiscoverDataSource \(/);
  });

  it(`answers ${CALLS} hostile calls with a status, keeps serving a good client, and leaks nothing (seed ${SEED})`, async () => {
    const r = rng(SEED);
    const good = pgSource(pg, { credentials: { username: role, password: { source: { $case: 'inlineValue', value: password } } } });
    const validDiscover = Buffer.from(DiscoverDataSourceRequest.encode(DiscoverDataSourceRequest.fromPartial({ dataSource: good, batchSize: 2 })).finish());
    const validValidate = Buffer.from(ValidateDataSourceRequest.encode(ValidateDataSourceRequest.fromPartial({ dataSource: good })).finish());
    const raw = new Client(t.address, credentials.createInsecure(), { 'grpc.max_send_message_length': 8 << 20 });

    // the well-behaved client, discovering in a loop while the fuzzer runs
    let fuzzing = true;
    let goodRuns = 0;
    const goodClient = (async () => {
      while (fuzzing) {
        const events = await collect(
          t.dataSources.discoverDataSource({ dataSource: good, strategy: 0, batchSize: 3, resumeAfter: '', maxEntities: 0, maxDurationMs: 0 }, new Metadata(), {
            deadline: Date.now() + 20_000,
          }),
        );
        expect(events.at(-1)?.event?.$case).toBe('summary');
        goodRuns += 1;
      }
    })();

    const codes = new Map<number, number>();
    const samples = new Set<string>();
    const one = (i: number) =>
      new Promise<void>((resolve) => {
        const method = r.pick(['DiscoverDataSource', 'ValidateDataSource'] as const);
        const body = hostileBody(r, method === 'DiscoverDataSource' ? validDiscover : validValidate);
        const dropAfter = r.int(4) === 0 ? r.int(3) : -1; // every fourth call is dropped mid-stream
        const call = raw.makeServerStreamRequest(
          `/sourced.v1.DataSourceService/${method}`,
          (b: Buffer) => b,
          (b: Buffer) => b,
          body,
          new Metadata(),
          {
            deadline: Date.now() + 15_000,
          },
        );
        let seen = 0;
        call.on('data', () => {
          if (++seen > dropAfter && dropAfter >= 0) call.cancel();
        });
        // A call ends once: with an error status, or with its end (grpc-js may emit 'end'
        // after 'error' for a cancelled stream; the first one counts).
        let settled = false;
        const settle = (code: number) => {
          if (settled) return;
          settled = true;
          codes.set(code, (codes.get(code) ?? 0) + 1);
          resolve();
        };
        call.on('error', (e: ServiceError) => {
          if (e.code === status.INTERNAL || e.code === status.UNKNOWN) samples.add(`${e.code} ${e.details.slice(0, 120)}`);
          settle(e.code);
        });
        call.on('status', (s: { code: number }) => settle(s.code));
        if (i % 50 === 0 && dropAfter === 0) call.cancel(); // some before any answer
      });

    // a few dozen at a time
    for (let i = 0; i < CALLS; i += 40) await Promise.all(Array.from({ length: Math.min(40, CALLS - i) }, (_, k) => one(i + k)));
    fuzzing = false;
    await goodClient;
    raw.close();

    const answered = [...codes.values()].reduce((a, b) => a + b, 0);
    expect(answered).toBe(CALLS);
    // nothing crashed inside: no call ended INTERNAL or UNKNOWN (the messages, if one did)
    expect({ internal: codes.get(status.INTERNAL) ?? 0, unknown: codes.get(status.UNKNOWN) ?? 0, messages: [...samples].slice(0, 5) }).toEqual({
      internal: 0,
      unknown: 0,
      messages: [],
    });
    expect(codes.get(status.INVALID_ARGUMENT) ?? 0).toBeGreaterThan(0);
    expect(goodRuns).toBeGreaterThan(0);
    // every connection the fuzzer made the daemon open is closed again
    const open = async () => (await superuserQuery<{ n: string }>(pg, `SELECT count(*) AS n FROM pg_stat_activity WHERE usename = $1`, [role]))[0].n;
    let n = await open();
    for (let i = 0; i < 50 && n !== '0'; i++) {
      await new Promise((res) => setTimeout(res, 100));
      n = await open();
    }
    expect(n).toBe('0');
  }, 240_000);
});
