import { inspect, isDeepStrictEqual } from 'node:util';
import type { Metadata } from '@grpc/grpc-js';
import type * as Vitest from 'vitest';
import { decodeRichStatus } from '@sourced/api';
import { PluginState, type Plugin } from '@sourced/api';
import type { TestDaemon } from '../startTestDaemon';

/** The part of vitest's API the kit registers its suites with. */
export type VitestApi = Pick<typeof Vitest, 'describe' | 'it' | 'expect' | 'beforeAll' | 'afterAll'>;

/**
 * vitest's API, taken from the running vitest worker. The SDK is CommonJS, and vitest refuses
 * to be `require`d (its CommonJS entry throws), so a static `import { describe } from 'vitest'`
 * would make `require('@sourced/plugin-sdk/testing')` throw for every caller, inside vitest or
 * not. vitest puts its module namespace on `globalThis.__vitest_index__` in every worker (it is
 * what `import.meta.vitest` reads), so the kit looks it up when a suite is registered. A caller
 * may pass the API itself (`import * as vitest from 'vitest'`; the options' `vitest`), which
 * wins, should a later vitest stop setting the global.
 */
export function vitestApi(given?: VitestApi): VitestApi {
  // The global is whatever the running vitest put there (or nothing): checked before use.
  const api: Partial<VitestApi> | undefined = given ?? (globalThis as { __vitest_index__?: Partial<VitestApi> }).__vitest_index__;
  if (!api?.describe || !api.it) {
    throw new Error('the conformance kit registers vitest suites: call it from a vitest test file (vitest >= 3 is a peer dependency of @sourced/plugin-sdk)');
  }
  // describe and it are there: the rest of vitest's namespace comes with them.
  return api as VitestApi;
}

/** The names of a suite's tests, run as `it.fails` when listed as known failures. */
export function testRegistrar(api: VitestApi, knownFailures: readonly string[] | undefined, timeoutMs: number, rootCause?: RootCause) {
  const known = new Set(knownFailures ?? []);
  const used = new Set<string>();
  let first: string | undefined;
  const test = (name: string, fn: (context: { skip(note?: string): never }) => Promise<void> | void) => {
    used.add(name);
    first ??= name;
    const isFirst = first === name;
    (known.has(name) ? api.it.fails : api.it)(
      name,
      (context) => {
        const ctx = context as unknown as { skip(note?: string): never };
        const cause = rootCause?.get();
        // One failure says why nothing could run; the rest are skipped and point there.
        if (cause !== undefined) return isFirst ? Promise.reject(new ConformanceFailure(cause)) : ctx.skip(`not run: ${cause.split('\n')[0]}`);
        return fn(ctx);
      },
      timeoutMs,
    );
  };
  const skip = (name: string) => {
    used.add(name);
    api.it.skip(name, () => undefined);
  };
  /** Names listed as known failures that no test of the suite has (a typo would otherwise hide nothing). */
  const unknownNames = () => [...known].filter((n) => !used.has(n));
  return { test, skip, unknownNames };
}

/**
 * A failed conformance check, as a person reads it: which check, what (table, column, event)
 * and what was expected against what came. Its stack is the message alone: the kit's own
 * frames and vitest's diff would only hide the point.
 */
export class ConformanceFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConformanceFailure';
    this.stack = `${this.name}: ${message}`;
  }
}

/** A value as a failure shows it: short, on one line where it fits. */
export function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  return inspect(value, { depth: 4, breakLength: 120, maxArrayLength: 20, maxStringLength: 200 });
}

/** What the kit's checks take: vitest's `expect` in shape, a {@link ConformanceFailure} with a plain message when a check fails. */
export interface Check {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toBeDefined(): void;
  toBeTruthy(): void;
  toBeGreaterThan(n: number): void;
  toBeGreaterThanOrEqual(n: number): void;
  toBeLessThanOrEqual(n: number): void;
  toMatch(pattern: RegExp): void;
  toBeInstanceOf(cls: abstract new (...args: never[]) => unknown): void;
  toContainAll(items: readonly unknown[]): void;
  not: { toBe(unexpected: unknown): void };
}

/**
 * The kit's `expect`: `check(got, 'what it is').toBe(expected)` throws a
 * {@link ConformanceFailure} reading `what it is: expected X, got Y` (no diff, no stack).
 */
export function check(got: unknown, what = 'the value'): Check {
  const fail = (expected: string): never => {
    throw new ConformanceFailure(`${what}: expected ${expected}, got ${shown(got)}`);
  };
  const n = (v: unknown) => (typeof v === 'number' || typeof v === 'bigint' ? v : NaN);
  const ensure = (ok: unknown, expected: () => string) => {
    if (!ok) fail(expected());
  };
  return {
    toBe: (expected) => ensure(Object.is(got, expected), () => shown(expected)),
    toEqual: (expected) => ensure(isDeepStrictEqual(got, expected), () => shown(expected)),
    toBeDefined: () => ensure(got !== undefined, () => 'a value'),
    toBeTruthy: () => ensure(got, () => 'a value'),
    toBeGreaterThan: (x) => ensure(n(got) > x, () => `more than ${x}`),
    toBeGreaterThanOrEqual: (x) => ensure(n(got) >= x, () => `at least ${x}`),
    toBeLessThanOrEqual: (x) => ensure(n(got) <= x, () => `at most ${x}`),
    toMatch: (pattern) => ensure(typeof got === 'string' && pattern.test(got), () => `text matching ${String(pattern)}`),
    toBeInstanceOf: (cls) => ensure(got instanceof cls, () => `an instance of ${cls.name}`),
    toContainAll: (items) => ensure(Array.isArray(got) && items.every((i) => got.includes(i)), () => `a list holding ${shown(items)}`),
    not: { toBe: (unexpected) => ensure(!Object.is(got, unexpected), () => `anything but ${shown(unexpected)}`) },
  };
}

/** Expects an empty list of problems; a failure lists every one of them, one a line (vitest would cut the list short). */
export function none(items: readonly string[], what: string): void {
  if (items.length) throw new ConformanceFailure(`${what}:\n  - ${items.join('\n  - ')}`);
}

/** Everything a suite captured that a caller or an operator could see, for the leak check. */
export class Captured {
  private readonly texts: { where: string; text: string }[] = [];

  add(where: string, value: unknown): void {
    this.texts.push({ where, text: typeof value === 'string' ? value : safeJson(value) });
  }

  /** Adds what a failed call showed: its message, details and decoded google.rpc.Status. */
  addError(where: string, error: unknown): void {
    this.add(where, errorText(error));
  }

  /** Where each secret appears (the value is never named), as `label in where`. */
  leaks(secrets: ReadonlyMap<string, string>, extra: { where: string; text: string }[] = []): string[] {
    const out = new Set<string>();
    for (const { where, text } of [...this.texts, ...extra]) {
      for (const [value, label] of secrets) if (value && text.includes(value)) out.add(`${label} appears in ${where}`);
    }
    return [...out];
  }
}

function safeJson(value: unknown): string {
  try {
    // JSON.stringify answers undefined (whatever its declared type says) for undefined, functions and symbols.
    const json = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) as string | undefined;
    return json ?? String(value);
  } catch {
    return String(value);
  }
}

/** What a failed call may have thrown: a ServiceError (whose fields are read only when present), or anything else, undefined and null included. */
type Thrown =
  { message?: unknown; details?: string; metadata?: Partial<Pick<Metadata, 'get' | 'toJSON'>>; attempts?: unknown; violations?: unknown } | null | undefined;

/** A failed call as a caller sees it: message, details, metadata and the decoded google.rpc.Status. */
export function errorText(error: unknown): string {
  const se = error as Thrown;
  const parts = [String(se?.message ?? error), se?.details ?? ''];
  const bin = se?.metadata?.get?.('grpc-status-details-bin')[0];
  if (bin) {
    try {
      parts.push(safeJson(decodeRichStatus(bin as Buffer)));
    } catch (e) {
      parts.push(`(undecodable status details: ${String(e)})`);
    }
  }
  if (se?.metadata?.toJSON) parts.push(safeJson(se.metadata.toJSON()));
  if (se?.attempts) parts.push(safeJson(se.attempts));
  if (se?.violations) parts.push(safeJson(se.violations));
  return parts.join('\n');
}

/**
 * The daemon's plugins, once it is checked that each of them loaded and that `knownFailures`
 * names only tests the kit has (a typo there would hide nothing).
 */
export async function loadedPlugins(t: TestDaemon, unknownNames: readonly string[]): Promise<Plugin[]> {
  none(unknownNames, 'knownFailures names tests this kit does not have');
  const plugins = await t.listPlugins();
  const failed = plugins.filter((p) => p.state !== PluginState.PLUGIN_STATE_LOADED).map((p) => `${p.id} (${p.module}): ${p.loadError}`);
  none(failed, 'plugins that failed to load');
  return plugins;
}

/**
 * Why a suite cannot run at all (the daemon did not start, the plugin did not load, the
 * author's `source()` or `setup()` threw), once: the suite's first test fails with it and
 * every other test is skipped pointing there, instead of each failing with UNAVAILABLE.
 */
export class RootCause {
  private cause: string | undefined;

  /** Records the first cause; later ones are consequences. */
  set(cause: string): void {
    this.cause ??= cause;
  }

  get(): string | undefined {
    return this.cause;
  }

  /**
   * Runs a setup step, recording what it threw as the cause (`what`: the step, for people).
   * Runs even after an earlier step failed, so that what the author's teardown stops was started.
   */
  async step<T>(what: string, run: () => Promise<T> | T): Promise<T | undefined> {
    try {
      return await run();
    } catch (error) {
      this.set(`${what} failed: ${error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error)}`);
      return undefined;
    }
  }

  /** The plugins that failed to load, or a plugin under test that registered nothing the suite needs, as the cause. */
  async checkPlugins(t: TestDaemon, registers: (p: Plugin) => boolean, what: string): Promise<void> {
    if (this.cause) return;
    const plugins = await t.listPlugins();
    const failed = plugins.filter((p) => p.state !== PluginState.PLUGIN_STATE_LOADED).map((p) => `${p.id} (${p.module}): ${p.loadError}`);
    if (failed.length) this.set(`the daemon could not load the plugin under test:\n  - ${failed.join('\n  - ')}`);
    else if (!plugins.some(registers)) {
      this.set(`${what}; loaded: ${plugins.map((p) => `${p.id} [${[...p.connectors, ...p.secretProviders].join(', ')}]`).join('; ')}`);
    }
  }
}

/** Polls `read` until `ok` holds or `ms` pass; returns the last value read. */
export async function pollUntil<T>(read: () => Promise<T> | T, ok: (value: T) => boolean, ms: number): Promise<T> {
  const until = Date.now() + ms;
  let value = await read();
  while (!ok(value) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}

/** `UPPER_SNAKE_CASE`, as every ErrorInfo reason must be. */
export const UPPER_SNAKE_CASE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;

/** Values a suite must never show, by value, each with the label a failure names. */
export function secretLabels(groups: { label: string; values: readonly string[] | undefined }[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const { label, values } of groups) {
    (values ?? []).forEach((v, i) => {
      // Very short values would match by accident (a 3-letter password inside any text).
      if (v && v.length >= 4 && !out.has(v)) out.set(v, `${label}[${i}]`);
    });
  }
  return out;
}
