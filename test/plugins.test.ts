import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeDataSource } from '@sourced/core';
import { DEFAULT_CONFIG } from '../daemon/src';
import { DataSource } from '@sourced/api';
import { PluginState, type ListPluginsResponse } from '@sourced/api';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

const fixture = (name: string) => resolve(__dirname, 'fixtures/plugins', name);

describe('plugin loading', () => {
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon({
      plugins: [
        fixture('throws-on-import.cjs'),
        fixture('type-error-on-import'),
        '@sourced/plugin-postgres',
        fixture('old-api.cjs'),
        fixture('throws-in-register.cjs'),
        fixture('duplicate-postgres.cjs'),
        'sourced-plugin-that-is-not-installed',
        fixture('no-version.cjs'),
        fixture('future-sdk'),
        fixture('peer-sdk'),
      ],
      pluginSettings: { greeting: { value: 'hello from the settings' } },
      secrets: { ...DEFAULT_CONFIG.secrets, allowedReferences: ['greeting://*'] },
    });
  });
  afterAll(() => t.stop());

  const list = () => new Promise<ListPluginsResponse>((ok, fail) => t.plugins.listPlugins({}, (e, r) => (e ? fail(e) : ok(r))));

  /** Broken plugins are listed as failed with the reason; the daemon serves everything else. */
  it('lists every plugin in load order, failed ones with the reason', async () => {
    const { plugins } = await list();
    expect(plugins.map((p) => [p.id, p.state === PluginState.PLUGIN_STATE_LOADED ? 'loaded' : 'failed'])).toEqual([
      ['builtin-secrets', 'loaded'],
      [fixture('throws-on-import.cjs'), 'failed'],
      [fixture('type-error-on-import'), 'failed'],
      ['postgres', 'loaded'],
      ['old-api', 'failed'],
      ['half-done', 'failed'],
      ['imposter', 'failed'],
      ['sourced-plugin-that-is-not-installed', 'failed'],
      ['no-version', 'failed'],
      ['future', 'failed'],
      ['greeting', 'loaded'],
    ]);
    const error = (id: string) => plugins.find((p) => p.id === id)?.loadError;
    expect(error(fixture('throws-on-import.cjs'))).toBe('could not load module: this plugin is broken on purpose');
    // An import-time error keeps its type, and the failed plugin its package's SDK range.
    expect(error(fixture('type-error-on-import'))).toBe("could not load module: TypeError: Cannot read properties of undefined (reading 'connect')");
    expect(plugins.find((p) => p.id === fixture('type-error-on-import'))?.sdkRange).toBe('^1.2.0');
    expect(error('old-api')).toBe('the plugin needs plugin SDK ^99.0.0 (apiVersion 99); this daemon hosts plugin SDK 1.5.0');
    expect(error('no-version')).toBe(
      'the plugin states no plugin SDK version: set sdk: "^1.5.0" in definePlugin, or "sourced": { "sdk": "^1.5.0" } in its package.json',
    );
    // Every range the plugin states is listed (definePlugin says ^1.0.0, its package.json ^1.6.0), not the first alone.
    expect(plugins.find((p) => p.id === 'future')).toMatchObject({ sdkRange: '^1.0.0 ^1.6.0', apiVersion: 1 });
    expect(error('future')).toBe(`the plugin needs plugin SDK ^1.6.0 (${fixture('future-sdk/package.json')}); this daemon hosts plugin SDK 1.5.0`);
    expect(error('half-done')).toBe('register() failed: registration failed on purpose');
    expect(error('imposter')).toBe('register() failed: connector type "postgresql" of plugin "imposter" is already registered by plugin "postgres"');
    expect(error('sourced-plugin-that-is-not-installed')).toMatch(/^could not load module: Error \[ERR_MODULE_NOT_FOUND\]: Cannot find (package|module)/);
    const pg = plugins.find((p) => p.id === 'postgres');
    expect(pg).toMatchObject({ connectors: ['postgres'], capabilities: ['validate', 'discover', 'preview', 'profile'], module: '@sourced/plugin-postgres' });
  });

  /**
   * The SDK range comes from the plugin's package.json (here its peer dependency on
   * @sourced/plugin-sdk) and is listed with the daemon's own SDK version; the plugin got its
   * settings from pluginSettings and serves with them.
   */
  it('checks the plugin SDK range and hands each plugin its settings', async () => {
    const response = await list();
    expect(response.sdkVersion).toBe('1.5.0');
    expect(response.plugins.find((p) => p.id === 'greeting')).toMatchObject({
      sdkRange: '^1.0.0',
      apiVersion: 1,
      secretProviders: ['greeting'],
      version: '1.2.3',
    });
    expect(response.plugins.find((p) => p.id === 'postgres')).toMatchObject({ sdkRange: '^1.3.0', apiVersion: 1, warnings: [] });
    const { secretChain, pluginRegistry } = t.daemon.container.cradle;
    const source = normalizeDataSource({ type: 'postgres', primary: { host: 'localhost' } }, pluginRegistry);
    const secret = await secretChain.resolveInput(
      { kind: 'reference', reference: 'greeting://hello', field: 'data_source.credentials.password' },
      source,
      new AbortController().signal,
    );
    expect(secret.reveal()).toBe('hello from the settings');
    expect(t.logs.some((l) => l.includes('"greeting configured"') && l.includes('"plugin":"greeting"'))).toBe(true);
  });

  /** A plugin whose register() threw leaves nothing behind: its connector type is unknown. */
  it('keeps nothing from a plugin whose register() failed', async () => {
    const error = await expectFailure(t.validate({ dataSource: DataSource.fromPartial({ type: 'half', primary: { host: 'localhost', port: 1 } }) }));
    const status = richStatusOf(error);
    expect(status.badRequest).toContainEqual({ field: 'data_source.type', description: 'unknown connector type "half"; loaded connectors: postgres' });
  });

  it('finds a plugin by id or module, and says NOT_FOUND otherwise', async () => {
    const get = (id: string) => new Promise((ok, fail) => t.plugins.getPlugin({ id }, (e, r) => (e ? fail(e) : ok(r))));
    await expect(get('postgres')).resolves.toMatchObject({ plugin: { id: 'postgres' } });
    await expect(get('@sourced/plugin-postgres')).resolves.toMatchObject({ plugin: { id: 'postgres' } });
    const missing = richStatusOf(await expectFailure(get('nope')));
    expect(missing.grpcCode).toBe(5);
    expect(missing.errorInfo?.reason).toBe('PLUGIN_NOT_FOUND');
  });
});
