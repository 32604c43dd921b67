import { inspect } from 'node:util';
import {
  AbortedError,
  builtinSecretsPlugin,
  InputError,
  normalizeDataSource,
  parseSecretReference,
  Secret,
  SecretResolutionError,
  type DataSource as CoreDataSource,
  type SecretProvider,
  type SecretProviderContext,
  type SourcedPlugin,
} from '@sourced/core';
import { DEFAULT_CONFIG, toDataSourceInput } from '@sourced/daemon';
import { DataSource } from '@sourced/api';
import { PluginState } from '@sourced/api';
import { startTestDaemon, type TestDaemon } from '../startTestDaemon';
import { Captured, check, none, RootCause, secretLabels, testRegistrar, vitestApi, loadedPlugins } from './shared';
import type { SecretProviderConformanceOptions, SecretProviderFixture } from './types';

/** Test names of the secret provider suite, as a plugin author reads them in a failure (and lists them in `knownFailures`). */
export const SECRET_PROVIDER_TESTS = {
  listed: 'is listed by ListPlugins as LOADED, with its scheme',
  existing: "resolves the existing reference through the daemon's secret chain to exactly its value, as a Secret that prints no value",
  missing: 'fails the missing reference with a SecretResolutionError whose provider reason is SECRET_NOT_FOUND, the same twice',
  malformed: 'refuses the malformed reference as an InputError naming a field',
  slow: 'a look-up cancelled after about 100 ms rejects promptly, well before the store answers',
  noLeaks: 'the value appears in no log line, span or error message',
} as const;

const FIELD = 'data_source.credentials.password';
const CANCEL_AFTER_MS = 100;

/** The built-in env:// and file:// plugin: every daemon loads it, so the kit never loads it twice. */
const isBuiltinSecrets = (plugin: SourcedPlugin | string) => plugin === builtinSecretsPlugin || plugin === '@sourced/core';

/** A connector-type resolver that accepts any type: a provider suite may load no connector. */
const ANY_TYPE = { resolve: (type: string) => type, known: () => [], addressing: () => 'network' as const };

/** The fixture's data source (or a minimal one) in the shape the chain and providers read. */
function coreSource(ds: DataSource | undefined): CoreDataSource {
  const wire = DataSource.fromPartial(ds ?? {});
  if (!wire.type) wire.type = 'conformance';
  if (!wire.primary?.host) wire.primary = { host: 'conformance.invalid', port: wire.primary?.port || 1, database: wire.primary?.database ?? '' };
  return normalizeDataSource(toDataSourceInput(wire), ANY_TYPE);
}

/** What a failure looks like from outside: name, message, reason, attempts and violations (never a value). */
function describeFailure(error: unknown): string {
  // Anything may have been thrown, undefined and null included.
  const e = error as { name?: string; message?: string; reason?: string; attempts?: unknown; violations?: unknown } | null | undefined;
  return JSON.stringify({ name: e?.name, message: e?.message ?? String(error), reason: e?.reason, attempts: e?.attempts, violations: e?.violations });
}

/**
 * Registers a vitest `describe` block that checks a secret provider against what every
 * provider of sourced must do, through a real daemon started in-process with the plugin and
 * its scheme allowed by the secret policy (`secrets.allowedReferences` gets `<scheme>://*`).
 * Look-ups go through the daemon's own secret chain (`container.cradle.secretChain.resolve`,
 * as connectors resolve a password), so policy, cache, time limits and tracing all apply:
 *
 * - the plugin loads, and ListPlugins lists its scheme;
 * - the existing reference resolves to exactly its value, as a `Secret` that prints
 *   `[REDACTED]` through `String()`, templates, `JSON.stringify` and `util.inspect`;
 * - the missing reference fails with a `SecretResolutionError` whose provider attempt has the
 *   reason `SECRET_NOT_FOUND`, the same on a second try;
 * - the malformed reference (optional) is refused: the provider throws an `InputError` naming
 *   a field, and the chain fails with that reason;
 * - the slow reference (optional): a look-up whose signal is aborted after about 100 ms rejects
 *   promptly through the chain, and the provider itself stops (it honours its signal);
 * - the value appears in no log line, span or error message.
 *
 * The built-in `env://`/`file://` plugin (`builtinSecretsPlugin`, module `@sourced/core`) is
 * always loaded by the daemon; pass it as `plugin` to test it, and the kit does not load it twice.
 */
export function describeSecretProviderConformance(options: SecretProviderConformanceOptions): void {
  const { describe, beforeAll, afterAll } = vitestApi(options.vitest);
  // The kit's own checks: a failure reads "what: expected X, got Y", without vitest's diff and stack.
  const expect = check;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const rootCause = new RootCause();
  const { test, unknownNames } = testRegistrar(vitestApi(options.vitest), options.knownFailures, timeoutMs, rootCause);
  const T = SECRET_PROVIDER_TESTS;
  const scheme = options.scheme.toLowerCase();

  describe(`secret provider conformance: ${scheme}://`, () => {
    let t: TestDaemon | undefined;
    // Set by beforeAll (from the author's setup): undefined until then.
    let fixture: SecretProviderFixture | undefined;
    const captured = new Captured();

    const daemon = (): TestDaemon => {
      if (!t) throw new Error('the daemon did not start (see the error of beforeAll)');
      return t;
    };
    const theFixture = (): SecretProviderFixture => {
      if (!fixture) throw new Error('the fixture was not set up (see the error of beforeAll)');
      return fixture;
    };
    const chain = () => daemon().daemon.container.cradle.secretChain;

    /** The provider the daemon registered for the scheme (for the checks the chain's wrapping would hide). */
    function provider(): SecretProvider {
      const found = daemon()
        .daemon.container.cradle.pluginRegistry.secretProviders()
        .find((p) => p.schemes.includes(scheme));
      if (!found) throw new Error(`no secret provider is registered for ${scheme}://`);
      return found;
    }

    /** Resolves a reference as a connector resolves a password. */
    async function resolve(reference: string, signal: AbortSignal = new AbortController().signal, ds = theFixture().dataSource): Promise<Secret> {
      try {
        const resolved = await chain().resolve(
          { input: { kind: 'reference', reference, field: FIELD }, propertyKeys: [], label: 'password', field: FIELD, source: coreSource(ds) },
          signal,
        );
        return resolved.secret;
      } catch (error) {
        captured.add(`the error of resolving ${reference}`, describeFailure(error));
        throw error;
      }
    }

    /** Calls the provider itself, with the context the chain would give it. */
    async function resolveDirectly(reference: string, signal: AbortSignal, ds = theFixture().dataSource): Promise<string | Uint8Array> {
      const ref = parseSecretReference(reference);
      if (!ref) throw new Error(`"${reference}" is not a secret reference (scheme://target)`);
      const source = coreSource(ds);
      const p = provider();
      const context: SecretProviderContext = {
        signal,
        source,
        logger: daemon().daemon.container.cradle.logger.child({ secret_provider: p.id }),
        resolveSecret: (input) => chain().resolveInput(input, source, signal),
      };
      try {
        return await p.resolve(ref, context);
      } catch (error) {
        captured.add(`the provider's error for ${reference}`, describeFailure(error));
        throw error;
      }
    }

    async function failure(call: Promise<unknown>, what: string): Promise<unknown> {
      try {
        await call;
      } catch (error) {
        return error;
      }
      throw new Error(`${what} succeeded, but it must fail`);
    }

    beforeAll(
      async () => {
        const base = options.config?.secrets ?? DEFAULT_CONFIG.secrets;
        const secrets = { ...DEFAULT_CONFIG.secrets, ...base, allowedReferences: [...base.allowedReferences, `${scheme}://*`] };
        // A daemon or plugin that cannot start is one root cause, reported once by the first test.
        t = await rootCause.step('starting the daemon with the plugin', () =>
          startTestDaemon({
            plugins: isBuiltinSecrets(options.plugin) ? [] : [options.plugin],
            config: { ...options.config, secrets },
          }),
        );
        if (t) await rootCause.checkPlugins(t, (p) => p.secretProviders.includes(scheme), `no loaded plugin registers the ${scheme} scheme`);
        fixture = await rootCause.step('setup()', () => options.setup());
      },
      Math.max(timeoutMs, 60_000),
    );

    afterAll(
      async () => {
        try {
          await t?.stop();
        } finally {
          await options.teardown?.();
        }
      },
      Math.max(timeoutMs, 60_000),
    );

    test(T.listed, async () => {
      const plugins = await loadedPlugins(daemon(), unknownNames());
      const record = plugins.find((p) => p.secretProviders.includes(scheme));
      expect(
        record,
        `no loaded plugin registers the ${scheme} scheme; loaded: ${plugins.map((p) => `${p.id} [${p.secretProviders.join(', ')}]`).join('; ')}`,
      ).toBeDefined();
      expect(record?.state, `the state of plugin ${record?.id}`).toBe(PluginState.PLUGIN_STATE_LOADED);
    });

    test(T.existing, async () => {
      const existing = theFixture().existing;
      const secret = await resolve(existing.reference);
      expect(secret, 'the chain returned no Secret').toBeInstanceOf(Secret);
      // Compared as booleans: a failure message must not print the value.
      expect(secret.reveal() === existing.value, 'the resolved value is exactly the stored one').toBe(true);
      const shown = [
        String(secret),
        // eslint-disable-next-line @typescript-eslint/restrict-template-expressions -- the check itself: a Secret in a template must print no value
        `${secret}`,
        JSON.stringify(secret),
        JSON.stringify({ secret }),
        inspect(secret),
        inspect({ secret }, { depth: 5, showHidden: true }),
      ];
      expect(
        shown.some((text) => text.includes(existing.value)),
        'a printed form of the Secret shows its value',
      ).toBe(false);
      captured.add('printed forms of the resolved Secret', shown);
      // A second look-up (from the cache) gives the same value.
      expect((await resolve(existing.reference)).reveal() === existing.value, 'the second look-up gives the same value').toBe(true);
    });

    test(T.missing, async () => {
      const reasons: (string | undefined)[] = [];
      for (const attempt of [1, 2]) {
        const error = await failure(resolve(theFixture().missing), `resolving the missing reference (try ${attempt})`);
        expect(error, describeFailure(error)).toBeInstanceOf(SecretResolutionError);
        const attempts = (error as SecretResolutionError).attempts;
        reasons.push(attempts.find((a) => a.link.startsWith(`${scheme}://`))?.reason);
      }
      expect(reasons, `the ${scheme}:// provider's reason in the two look-ups of the missing reference`).toEqual(['SECRET_NOT_FOUND', 'SECRET_NOT_FOUND']);
    });

    test(T.malformed, async (context) => {
      const malformed = theFixture().malformed;
      if (malformed === undefined) return context.skip('the fixture has no malformed reference');
      const direct = await failure(resolveDirectly(malformed, new AbortController().signal), 'the provider resolving the malformed reference');
      expect(direct, `the provider threw ${describeFailure(direct)}`).toBeInstanceOf(InputError);
      const violations = (direct as InputError).violations;
      expect(violations.length, 'field violations of the InputError').toBeGreaterThan(0);
      none(
        violations.filter((v) => !v.field.trim() || !v.description.trim()).map((v) => JSON.stringify(v)),
        'violations without a field or a description',
      );
      // Through the chain it stays the caller's mistake (INVALID_ARGUMENT), now naming the request
      // field the reference came from; a chain that records it as a failed link is accepted too.
      const viaChain = await failure(resolve(malformed), 'resolving the malformed reference');
      if (viaChain instanceof InputError) {
        expect(viaChain.reason, 'the reason the chain reports for the malformed reference').toBe((direct as InputError).reason);
        expect(
          viaChain.violations.map((v) => v.field),
          'the request field the chain names',
        ).toEqual([FIELD]);
      } else {
        expect(viaChain, describeFailure(viaChain)).toBeInstanceOf(SecretResolutionError);
        const reason = (viaChain as SecretResolutionError).attempts.find((a) => a.link.startsWith(`${scheme}://`))?.reason;
        expect(reason, 'the reason the chain reports for the malformed reference').toBe((direct as InputError).reason);
      }
    });

    test(T.slow, async (context) => {
      const slow = theFixture().slow;
      if (!slow) return context.skip('the fixture has no slow reference');
      // Generous: the store holds the answer for holdMs; a cancelled look-up must end long before.
      const bound = CANCEL_AFTER_MS + Math.min(2000, slow.holdMs / 2);
      const ds = slow.dataSource ?? theFixture().dataSource;
      const settle = async (call: (signal: AbortSignal) => Promise<unknown>) => {
        const controller = new AbortController();
        const cancel = setTimeout(() => controller.abort(), CANCEL_AFTER_MS);
        let late: NodeJS.Timeout | undefined;
        const outcome = await Promise.race([
          call(controller.signal).then(
            () => ({ kind: 'resolved' as const, error: undefined }),
            (error: unknown) => ({ kind: 'rejected' as const, error }),
          ),
          new Promise<{ kind: 'still pending'; error: undefined }>((r) => (late = setTimeout(() => r({ kind: 'still pending', error: undefined }), bound))),
        ]);
        clearTimeout(cancel);
        clearTimeout(late);
        return outcome;
      };
      const viaChain = await settle((signal) => resolve(slow.reference, signal, ds));
      expect(viaChain.kind, `the chain look-up ${bound} ms after it started (cancelled after ${CANCEL_AFTER_MS} ms; the store holds ${slow.holdMs} ms)`).toBe(
        'rejected',
      );
      const e = viaChain.error as Error | undefined;
      expect(e instanceof AbortedError || e?.name === 'AbortError', `the chain rejected with ${describeFailure(e)}, not a cancellation`).toBe(true);
      const direct = await settle((signal) => resolveDirectly(slow.reference, signal, ds));
      expect(
        direct.kind,
        `the provider itself ${bound} ms after it started (its signal fired after ${CANCEL_AFTER_MS} ms; the store holds ${slow.holdMs} ms)`,
      ).toBe('rejected');
    });

    test(T.noLeaks, () => {
      const secrets = secretLabels([
        { label: 'the existing value', values: fixture ? [fixture.existing.value] : [] },
        { label: 'fixture.secrets', values: fixture?.secrets },
      ]);
      none(captured.leaks(secrets, [{ where: 'daemon log lines and spans', text: daemon().emitted() }]), 'secrets that leaked (by label, never the value)');
    });
  });
}
