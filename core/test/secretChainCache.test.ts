import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  normalizeDataSource,
  NotFoundError,
  SecretChain,
  SecretErrorReason,
  SecretResolutionError,
  UnavailableError,
  type DataSourceInput,
  type SecretChainOptions,
  type SecretProvider,
  type SecretReference,
} from '../src';

/**
 * The chain's cache as callers see it: what is reused and for how long, what is served while a
 * provider is down, which look-ups share one provider call, and what a cancelled caller does to
 * the others. The provider is an in-process one (our own plugin interface), answering when the
 * test says so.
 */

const resolver = { resolve: (t: string) => (t === 'postgres' ? t : undefined), known: () => ['postgres'] };
const policy = { allowedReferences: ['held://*'], dynamicStrategies: false };
const never = new AbortController().signal;

function request(reference: string, extra: Partial<DataSourceInput> = {}) {
  const source = normalizeDataSource({ type: 'postgres', primary: { host: 'h' }, credentials: { password: { reference } }, ...extra }, resolver);
  return { input: source.password, propertyKeys: ['password'], label: 'password', field: 'data_source.credentials.password', source };
}
const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One provider call, held open until the test answers it; records the signal it was given. */
interface HeldCall {
  reference: SecretReference;
  signal: AbortSignal;
  answer(value: string): void;
  fail(error: unknown): void;
}

/** A provider whose calls wait for the test, or answer at once with `answers` when given. */
function heldProvider(options: { honoursSignal?: boolean } = {}) {
  const calls: HeldCall[] = [];
  const waiters: ((call: HeldCall) => void)[] = [];
  const provider: SecretProvider = {
    id: 'held',
    schemes: ['held'],
    resolve: (reference, context) =>
      new Promise<string>((resolve, reject) => {
        if (options.honoursSignal !== false) {
          context.signal.addEventListener('abort', () => reject(new UnavailableError(SecretErrorReason.UNREACHABLE, 'the request was aborted')), {
            once: true,
          });
        }
        const call = { reference, signal: context.signal, answer: resolve, fail: reject };
        calls.push(call);
        waiters.shift()?.(call);
      }),
  };
  /** The next call the provider receives (or the one it already has at `index`). */
  const call = (index: number) => (calls[index] ? Promise.resolve(calls[index]) : new Promise<HeldCall>((r) => waiters.push(r)));
  return { provider, calls, call };
}

const chainOf = (provider: SecretProvider, options: Partial<SecretChainOptions> = {}) => new SecretChain({ providers: [provider], policy, ...options });

describe('SecretChain cache: cancellation of a shared look-up', () => {
  /**
   * The live bug of issue 17: a shared in-flight look-up ran under the first caller's signal, so
   * when that caller cancelled, every other caller of the same reference failed with its
   * "the client cancelled the call". The cancelled caller alone gets CANCELLED, the others the value.
   */
  it("one caller's cancel neither fails nor stops the others' shared look-up", async () => {
    const held = heldProvider();
    const chain = chainOf(held.provider);
    const a = new AbortController();
    const b = new AbortController();
    const first = errorOf(chain.resolve(request('held://db'), a.signal));
    const second = chain.resolve(request('held://db'), b.signal);
    const call = await held.call(0);
    a.abort(new AbortedError('the client cancelled the call'));
    const aError = await first;
    expect(aError).toBeInstanceOf(AbortedError);
    expect((aError as AbortedError).reason).toBe('CANCELLED');
    // The look-up goes on for the caller still waiting: its signal never fired.
    expect(call.signal.aborted).toBe(false);
    call.answer('the-value');
    const b2 = await second;
    expect(b2.secret.reveal()).toBe('the-value');
    expect(held.calls).toHaveLength(1);
  });

  /** A cancelled caller leaves at once, even while the provider ignores cancellation. */
  it('a cancelling caller gets CANCELLED without waiting for the provider', async () => {
    const held = heldProvider({ honoursSignal: false });
    const chain = chainOf(held.provider);
    const a = new AbortController();
    const first = errorOf(chain.resolve(request('held://slow'), a.signal));
    const second = chain.resolve(request('held://slow'), never);
    const call = await held.call(0);
    a.abort(new AbortedError('the client cancelled the call'));
    expect(await first).toBeInstanceOf(AbortedError);
    call.answer('v');
    expect((await second).secret.reveal()).toBe('v');
  });

  /** When every waiting caller has cancelled, the provider's call is cancelled, and the next caller fetches anew. */
  it('cancels the provider call once every caller has cancelled', async () => {
    const held = heldProvider();
    const chain = chainOf(held.provider);
    const a = new AbortController();
    const b = new AbortController();
    const first = errorOf(chain.resolve(request('held://db'), a.signal));
    const second = errorOf(chain.resolve(request('held://db'), b.signal));
    const call = await held.call(0);
    a.abort(new AbortedError('the client cancelled the call'));
    expect(await first).toBeInstanceOf(AbortedError);
    expect(call.signal.aborted).toBe(false);
    b.abort(new AbortedError('the deadline passed', { deadline: true }));
    const bError = (await second) as AbortedError;
    expect(bError).toBeInstanceOf(AbortedError);
    expect(bError.reason).toBe('DEADLINE_EXCEEDED');
    expect(call.signal.aborted).toBe(true);

    const third = chain.resolve(request('held://db'), never);
    (await held.call(1)).answer('fresh');
    expect((await third).secret.reveal()).toBe('fresh');
    expect(held.calls).toHaveLength(2);
  });

  /** A caller whose signal fired before it asked gets CANCELLED and starts no provider call. */
  it('starts nothing for a caller already cancelled', async () => {
    const held = heldProvider();
    const chain = chainOf(held.provider);
    const gone = new AbortController();
    gone.abort(new AbortedError('the client cancelled the call'));
    expect(await errorOf(chain.resolve(request('held://db'), gone.signal))).toBeInstanceOf(AbortedError);
    expect(held.calls).toHaveLength(0);
  });
});

describe('SecretChain cache: reuse, expiry, eviction', () => {
  /** Concurrent look-ups of one reference and identity share one call; different references do not. */
  it('de-duplicates concurrent look-ups per reference', async () => {
    const held = heldProvider();
    const chain = chainOf(held.provider);
    const xs = Array.from({ length: 5 }, () => chain.resolve(request('held://x'), never));
    const y = chain.resolve(request('held://y'), never);
    const callX = await held.call(0);
    const callY = await held.call(1);
    expect([callX.reference.uri, callY.reference.uri]).toEqual(['held://x', 'held://y']);
    callX.answer('x-value');
    callY.answer('y-value');
    expect((await Promise.all(xs)).map((r) => [r.secret.reveal(), r.cached])).toEqual(Array.from({ length: 5 }, () => ['x-value', false]));
    expect((await y).secret.reveal()).toBe('y-value');
    expect(held.calls).toHaveLength(2);
    // The JSON path is applied per caller to the one cached value.
    const again = await chain.resolve(request('held://x'), never);
    expect(again).toMatchObject({ cached: true, link: 'held://x' });
  });

  /** A value is reused until its TTL has passed, then fetched again. */
  it('expires entries after the TTL', async () => {
    let n = 0;
    const provider: SecretProvider = { id: 'held', schemes: ['held'], resolve: async () => `v${++n}` };
    const chain = chainOf(provider, { cacheTtlMs: 30 });
    expect((await chain.resolve(request('held://x'), never)).secret.reveal()).toBe('v1');
    const hit = await chain.resolve(request('held://x'), never);
    expect([hit.secret.reveal(), hit.cached]).toEqual(['v1', true]);
    await sleep(50);
    const refetched = await chain.resolve(request('held://x'), never);
    expect([refetched.secret.reveal(), refetched.cached]).toEqual(['v2', false]);
  });

  /** cacheTtlMs 0 caches nothing, but concurrent look-ups still share a call. */
  it('with a TTL of 0 fetches every time, still de-duplicating', async () => {
    const held = heldProvider();
    const chain = chainOf(held.provider, { cacheTtlMs: 0 });
    const both = [chain.resolve(request('held://x'), never), chain.resolve(request('held://x'), never)];
    (await held.call(0)).answer('one');
    expect((await Promise.all(both)).map((r) => r.secret.reveal())).toEqual(['one', 'one']);
    const next = chain.resolve(request('held://x'), never);
    (await held.call(1)).answer('two');
    expect(await next).toMatchObject({ cached: false });
    expect((await next).secret.reveal()).toBe('two');
  });

  /** At most cacheMaxEntries references are kept; the least recently used goes first. */
  it('evicts the least recently used entry beyond the maximum', async () => {
    const fetched: string[] = [];
    const provider: SecretProvider = {
      id: 'held',
      schemes: ['held'],
      resolve: async (ref) => {
        fetched.push(ref.uri);
        return ref.uri;
      },
    };
    const chain = chainOf(provider, { cacheMaxEntries: 2 });
    for (const r of ['held://a', 'held://b', 'held://a', 'held://c', 'held://a', 'held://b']) await chain.resolve(request(r), never);
    // a stays (used last before c came), b was the least recently used when c arrived.
    expect(fetched).toEqual(['held://a', 'held://b', 'held://c', 'held://b']);
  });
});

describe('SecretChain cache: stale-if-error', () => {
  const flaky = (failures: unknown[]) => {
    let calls = 0;
    const provider: SecretProvider = {
      id: 'held',
      schemes: ['held'],
      resolve: async () => {
        calls += 1;
        if (calls === 1) return 'good';
        const failure = failures[Math.min(calls - 2, failures.length - 1)];
        throw failure;
      },
    };
    return { provider, calls: () => calls };
  };
  const down = new UnavailableError(SecretErrorReason.UNREACHABLE, 'held is down');

  /** While the provider is unavailable, the last value within staleIfErrorMs is served, marked stale, and each look-up tries the provider again. */
  it('serves the last value, marked stale, while the provider is unavailable', async () => {
    const f = flaky([down]);
    const chain = chainOf(f.provider, { cacheTtlMs: 1, staleIfErrorMs: 60_000 });
    await chain.resolve(request('held://x'), never);
    await sleep(5);
    for (const expected of [2, 3]) {
      const stale = await chain.resolve(request('held://x'), never);
      expect(stale).toMatchObject({ stale: true, cached: true, link: 'held://x (stale)' });
      expect(stale.secret.reveal()).toBe('good');
      expect(f.calls()).toBe(expected);
    }
  });

  /** A value older than staleIfErrorMs is never served, whatever the error. */
  it('fails once the value is older than staleIfErrorMs', async () => {
    const f = flaky([down]);
    const chain = chainOf(f.provider, { cacheTtlMs: 1, staleIfErrorMs: 20 });
    await chain.resolve(request('held://x'), never);
    await sleep(40);
    const error = (await errorOf(chain.resolve(request('held://x'), never))) as SecretResolutionError;
    expect(error).toBeInstanceOf(SecretResolutionError);
    expect(error.attempts).toEqual([{ link: 'held://x', outcome: 'held is down', reason: SecretErrorReason.UNREACHABLE }]);
  });

  /** Only an outage serves a stale value: a secret that is gone (or access that was revoked) fails. */
  it('does not serve a stale value when the provider answers "not found"', async () => {
    const f = flaky([new NotFoundError(SecretErrorReason.NOT_FOUND, 'held://x was deleted'), down]);
    const chain = chainOf(f.provider, { cacheTtlMs: 1, staleIfErrorMs: 60_000 });
    await chain.resolve(request('held://x'), never);
    await sleep(5);
    const error = (await errorOf(chain.resolve(request('held://x'), never))) as SecretResolutionError;
    expect(error.attempts[0]).toMatchObject({ reason: SecretErrorReason.NOT_FOUND });
    // The earlier value is still there for an outage that follows.
    expect(await chain.resolve(request('held://x'), never)).toMatchObject({ stale: true });
  });

  /** Without staleIfErrorMs an outage fails the look-up. */
  it('is off by default', async () => {
    const f = flaky([down]);
    const chain = chainOf(f.provider, { cacheTtlMs: 1 });
    await chain.resolve(request('held://x'), never);
    await sleep(5);
    expect(await errorOf(chain.resolve(request('held://x'), never))).toBeInstanceOf(SecretResolutionError);
  });
});
