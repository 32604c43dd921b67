import { readFileSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  builtinSecretsPlugin,
  CORE_COPY,
  isSourcedPlugin,
  pluginCoreCopy,
  PLUGIN_SDK_VERSION,
  type ConnectorDefinition,
  type DatabaseTokenProvider,
  type Logger,
  type KeyProvider,
  type SecretProvider,
  type SourcedPlugin,
} from '@sourced/core';
import { satisfies, validRange, minVersion } from 'semver';
import { BUILTIN_PLUGINS } from '../config/DaemonConfig';
import type { PluginRecord, PluginRegistry } from './PluginRegistry';

/** What loading needs besides the module specifiers. */
export interface LoadOptions {
  /** Operators' settings by plugin id (config `pluginSettings`), handed to each plugin's register(). */
  settings?: Readonly<Record<string, unknown>>;
  /** Plugin objects to register after the modules (the plugin SDK's test harness, embedding hosts). */
  plugins?: readonly SourcedPlugin[];
}

/** The SDK package a plugin's package.json may name as a (peer) dependency. */
const SDK_PACKAGE = '@sourced/plugin-sdk';

/**
 * Loads each plugin module in order and lets it register through a registrar. A plugin is
 * all or nothing: its registrations take effect only when its `register` returns without
 * error and none of them clashes. A module that fails to import, exports no plugin,
 * declares an API version this daemon cannot host, or throws while registering is recorded
 * as FAILED with the reason, and loading goes on with the next one.
 */
export async function loadPlugins(specifiers: readonly string[], registry: PluginRegistry, logger: Logger, options: LoadOptions = {}): Promise<void> {
  await registerPlugin(builtinSecretsPlugin, '@sourced/core', registry, logger, options);
  for (const specifier of specifiers) {
    const missing = missingBuiltin(specifier);
    if (missing !== undefined) {
      fail(registry, logger, specifier, specifier, missing);
      continue;
    }
    let plugin: SourcedPlugin;
    // Read first: a module that fails to import is still listed with the range its package states.
    const manifest = readManifest(specifier);
    try {
      plugin = findPlugin(await importModule(specifier), specifier);
    } catch (error) {
      fail(registry, logger, specifier, specifier, `could not load module: ${describeThrown(error)}`, undefined, manifest, error);
      continue;
    }
    await registerPlugin(plugin, specifier, registry, logger, options, manifest);
  }
  for (const plugin of options.plugins ?? []) await registerPlugin(plugin, `(object) ${plugin.id}`, registry, logger, options);
}

/**
 * Why a built-in plugin named in `plugins` cannot load when its package is not installed:
 * @sourced/daemon lists the built-ins as optional peer dependencies, so an install of the
 * daemon alone (a plugin's tests, an operator who wants PostgreSQL only) does not carry
 * them, nor their cloud SDKs. Undefined when the specifier is no built-in, or its package
 * resolves (a package that is there but fails to import fails later, with its own error).
 */
export function missingBuiltin(specifier: string): string | undefined {
  if (!BUILTIN_PLUGINS.includes(specifier)) return undefined;
  try {
    require.resolve(specifier);
    return undefined;
  } catch (error) {
    // The package itself is absent, not a file or a dependency inside it.
    const message = error instanceof Error ? error.message : '';
    if ((error as { code?: unknown }).code !== 'MODULE_NOT_FOUND' || !message.startsWith(`Cannot find module '${specifier}'`)) return undefined;
  }
  return (
    `the built-in plugin ${specifier} is not installed (the built-ins are optional peer dependencies of @sourced/daemon): ` +
    `install it next to the daemon (npm install ${specifier}, or its tarball), or leave it out of plugins`
  );
}

/** What a plugin's package.json says about the plugin SDK versions it needs. */
export interface Manifest {
  /** The package.json it came from. */
  file: string;
  /** `sourced.sdk`, else the (peer) dependency range on @sourced/plugin-sdk. */
  sdk?: string;
}

/**
 * Registers one plugin object: checks that this daemon's plugin SDK version satisfies the
 * range the plugin (and its package.json) states, then lets it register.
 */
export async function registerPlugin(
  plugin: SourcedPlugin,
  module: string,
  registry: PluginRegistry,
  logger: Logger,
  options: LoadOptions = {},
  manifest?: Manifest,
): Promise<void> {
  if (registry.list().some((r) => r.id === plugin.id && r.state === 'LOADED')) {
    fail(registry, logger, plugin.id, module, `a plugin with id "${plugin.id}" is already loaded`, plugin);
    return;
  }
  const sdk = sdkRangeOf(plugin, manifest);
  if ('error' in sdk) {
    fail(registry, logger, plugin.id, module, sdk.error, plugin, manifest);
    return;
  }
  const warnings = [...sdk.warnings, ...copyWarnings(plugin, module)];
  for (const warning of warnings) logger.warn('plugin warning', { plugin: plugin.id, module, warning });
  const connectors: ConnectorDefinition[] = [];
  const providers: SecretProvider[] = [];
  const tokenProviders: DatabaseTokenProvider[] = [];
  const keyProviders: KeyProvider[] = [];
  const keyIds = new Set<string>();
  const clouds = new Set<string>();
  const names = new Set<string>();
  const schemes = new Set<string>();
  let open = true;
  try {
    await plugin.register({
      sdkVersion: PLUGIN_SDK_VERSION,
      settings: options.settings?.[plugin.id],
      logger: logger.child({ plugin: plugin.id }),
      registerConnector(definition) {
        if (!open) throw new Error(`plugin "${plugin.id}" called registerConnector after register() returned`);
        for (const n of registry.checkConnector(definition, plugin.id, names)) names.add(n);
        connectors.push(definition);
      },
      registerSecretProvider(provider) {
        if (!open) throw new Error(`plugin "${plugin.id}" called registerSecretProvider after register() returned`);
        registry.checkSecretProvider(provider, plugin.id, schemes);
        provider.schemes.forEach((s) => schemes.add(s));
        providers.push(provider);
      },
      registerDatabaseTokenProvider(provider) {
        if (!open) throw new Error(`plugin "${plugin.id}" called registerDatabaseTokenProvider after register() returned`);
        registry.checkTokenProvider(provider, plugin.id, clouds);
        clouds.add(provider.cloud);
        tokenProviders.push(provider);
      },
      registerKeyProvider(provider) {
        if (!open) throw new Error(`plugin "${plugin.id}" called registerKeyProvider after register() returned`);
        registry.checkKeyProvider(provider, plugin.id, keyIds);
        keyIds.add(provider.id);
        keyProviders.push(provider);
      },
    });
  } catch (error) {
    fail(registry, logger, plugin.id, module, `register() failed: ${describeThrown(error)}`, plugin, manifest, error, warnings);
    return;
  } finally {
    open = false;
  }
  connectors.forEach((c) => registry.commitConnector(c, plugin.id));
  providers.forEach((p) => registry.commitSecretProvider(p, plugin.id));
  tokenProviders.forEach((p) => registry.commitTokenProvider(p, plugin.id));
  keyProviders.forEach((p) => registry.commitKeyProvider(p, plugin.id));
  const record: PluginRecord = {
    id: plugin.id,
    module,
    version: plugin.version,
    apiVersion: sdk.major,
    sdkRange: sdk.range,
    description: plugin.description ?? '',
    state: 'LOADED',
    connectors: connectors.map((c) => c.type),
    secretProviders: providers.flatMap((p) => [...p.schemes]),
    tokenProviders: tokenProviders.map((p) => p.cloud),
    keyProviders: keyProviders.map((p) => p.id),
    capabilities: [...new Set(connectors.flatMap((c) => [...c.capabilities]))],
    warnings,
  };
  registry.addRecord(record);
  logger.info('plugin loaded', { plugin: plugin.id, module, version: plugin.version, connectors: record.connectors, secretProviders: record.secretProviders });
}

function fail(
  registry: PluginRegistry,
  logger: Logger,
  id: string,
  module: string,
  reason: string,
  plugin?: SourcedPlugin,
  manifest?: Manifest,
  error?: unknown,
  warnings: string[] = [],
): void {
  const range = statedRange(plugin, manifest);
  registry.addRecord({
    id,
    module,
    version: plugin?.version ?? '',
    apiVersion: (range ? minVersion(range)?.major : undefined) ?? plugin?.apiVersion ?? 0,
    sdkRange: range,
    description: plugin?.description ?? '',
    state: 'FAILED',
    loadError: reason,
    connectors: [],
    secretProviders: [],
    tokenProviders: [],
    capabilities: [],
    warnings,
  });
  // The stack goes to the log only (it names files of the plugin, not the caller's business).
  const stack = error instanceof Error ? error.stack : undefined;
  logger.error('plugin failed to load', { plugin: id, module, reason, ...(stack ? { stack } : {}) });
}

/**
 * A thrown value as a load error shows it, keeping its type: `TypeError: x is not a
 * function`, `Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'y'`; a plain `Error`
 * without a code is its message alone.
 */
export function describeThrown(error: unknown): string {
  if (!(error instanceof Error)) return `thrown ${typeof error}: ${String(error)}`;
  const code = (error as { code?: unknown }).code;
  const label = `${error.name}${typeof code === 'string' && code ? ` [${code}]` : ''}`;
  return label === 'Error' ? error.message : `${label}: ${error.message}`;
}

/**
 * Every SDK range a plugin states, as one semver range (space-separated ranges must all
 * hold); empty when it states none. What ListPlugins shows, loaded or failed.
 */
function statedRange(plugin: SourcedPlugin | undefined, manifest: Manifest | undefined): string {
  const ranges = [plugin?.sdk, manifest?.sdk].filter((r): r is string => typeof r === 'string' && r.trim() !== '');
  if (ranges.length === 0 && typeof plugin?.apiVersion === 'number') return `^${plugin.apiVersion}.0.0`;
  return [...new Set(ranges.map((r) => r.trim()))].join(' ');
}

/**
 * Warnings when the plugin was made with another copy of `@sourced/core` than the daemon's
 * (a copied, not linked, `@sourced/plugin-sdk` in the plugin's own node_modules). Its errors
 * still keep their meaning (they are recognised by brand), but the copy may be another
 * version than the one the daemon hosts, and its module state (caches, registries) is not
 * the daemon's.
 */
function copyWarnings(plugin: SourcedPlugin, module: string): string[] {
  const copy = pluginCoreCopy(plugin) ?? coreResolvedFrom(module);
  if (copy === undefined || sameFolder(copy, CORE_COPY)) return [];
  return [
    `the plugin uses its own copy of the plugin SDK (@sourced/core at ${copy}), not the daemon's (${CORE_COPY}): ` +
      `declare @sourced/plugin-sdk as a peer dependency and install the plugin next to the daemon, so that it shares the daemon's copy (a copy may be another SDK version than the ${PLUGIN_SDK_VERSION} this daemon hosts)`,
  ];
}

/** For a plugin of an SDK before 1.4 (no stamp): the folder of `@sourced/core` as the plugin's SDK resolves it. */
function coreResolvedFrom(module: string): string | undefined {
  try {
    const main = require.resolve(module);
    const sdk = require.resolve(`${SDK_PACKAGE}/package.json`, { paths: [dirname(main)] });
    return dirname(require.resolve('@sourced/core/package.json', { paths: [dirname(sdk)] }));
  } catch {
    return undefined;
  }
}

function sameFolder(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return a === b;
  }
}

/**
 * The SDK range a plugin needs, from `definePlugin({ sdk })`, its package.json, or the older
 * numeric `apiVersion`; an error naming what is wrong when none is stated, one is not a
 * range, or this daemon's SDK version satisfies not all of them.
 */
function sdkRangeOf(plugin: SourcedPlugin, manifest: Manifest | undefined): { range: string; major: number; warnings: string[] } | { error: string } {
  const stated: { range: string; where: string }[] = [];
  if (plugin.sdk !== undefined) stated.push({ range: plugin.sdk, where: 'definePlugin({ sdk })' });
  if (manifest?.sdk !== undefined) stated.push({ range: manifest.sdk, where: manifest.file });
  if (stated.length === 0 && typeof plugin.apiVersion === 'number')
    stated.push({ range: `^${plugin.apiVersion}.0.0`, where: `apiVersion ${plugin.apiVersion}` });
  if (stated.length === 0) {
    return {
      error: `the plugin states no plugin SDK version: set sdk: "^${PLUGIN_SDK_VERSION}" in definePlugin, or "sourced": { "sdk": "^${PLUGIN_SDK_VERSION}" } in its package.json`,
    };
  }
  for (const { range, where } of stated) {
    if (!validRange(range)) return { error: `"${range}" (${where}) is not a semver range; write for example ^${PLUGIN_SDK_VERSION}` };
    if (!satisfies(PLUGIN_SDK_VERSION, range)) {
      return { error: `the plugin needs plugin SDK ${range} (${where}); this daemon hosts plugin SDK ${PLUGIN_SDK_VERSION}` };
    }
  }
  // Every stated range must hold, so all of them are listed (`^1.0.0 ^1.5.0`), not the first alone.
  const range = statedRange(plugin, manifest);
  const distinct = new Set(stated.map((s) => s.range.trim()));
  const warnings =
    distinct.size > 1
      ? [`the plugin states different plugin SDK ranges: ${stated.map((s) => `${s.range} (${s.where})`).join(', ')}; state one range in both places`]
      : [];
  return { range, major: minVersion(range)?.major ?? 0, warnings };
}

/**
 * The package.json nearest to the module a specifier resolves to (a path, or a package
 * name resolved from the daemon), with the SDK range it states; undefined when there is none
 * to be found (an ES module package that cannot be resolved with require).
 */
function readManifest(specifier: string): Manifest | undefined {
  let resolved: string;
  try {
    resolved = require.resolve(specifier);
  } catch {
    return undefined;
  }
  for (let dir = dirname(resolved); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      const pkg = JSON.parse(text) as { sourced?: { sdk?: unknown }; peerDependencies?: Record<string, string>; dependencies?: Record<string, string> };
      // A dependency may be written as a path or a tag (file:../sdk, workspace:*): only a range says a version.
      const dependency = [pkg.peerDependencies?.[SDK_PACKAGE], pkg.dependencies?.[SDK_PACKAGE]].find((r) => r !== undefined && validRange(r) !== null);
      const sdk = typeof pkg.sourced?.sdk === 'string' ? pkg.sourced.sdk : dependency;
      return { file, sdk };
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Imports a plugin module: a package name as Node resolves it from the daemon; an absolute
 * path to a file, or to a package folder (its package.json `main`, else index.js).
 */
async function importModule(specifier: string): Promise<unknown> {
  if (!isAbsolute(specifier)) return import(specifier);
  let file = specifier;
  try {
    file = require.resolve(specifier);
  } catch {
    // not resolvable as CommonJS (an ES module file, say): import the path as given
  }
  return import(pathToFileURL(file).href);
}

/** Finds the plugin among a module's exports: `default` (also CommonJS-wrapped) or `plugin`. */
function findPlugin(mod: unknown, specifier: string): SourcedPlugin {
  // A third-party module: its exports may be anything, null included.
  const m = mod as Record<string, unknown> | null | undefined;
  const candidates = [m?.default, (m?.default as Record<string, unknown> | undefined)?.default, m?.plugin, mod];
  const found = candidates.find(isSourcedPlugin);
  if (!found) throw new Error(`${specifier} exports no plugin; export default definePlugin({...}) from @sourced/plugin-sdk`);
  return found;
}
