import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  builtinSecretsPlugin,
  describeError,
  isSourcedPlugin,
  SUPPORTED_PLUGIN_API_VERSIONS,
  type ConnectorDefinition,
  type DatabaseTokenProvider,
  type Logger,
  type SecretProvider,
  type SourcedPlugin,
} from '@sourced/core';
import type { PluginRecord, PluginRegistry } from './PluginRegistry';

/**
 * Loads each plugin module in order and lets it register through a registrar. A plugin is
 * all or nothing: its registrations take effect only when its `register` returns without
 * error and none of them clashes. A module that fails to import, exports no plugin,
 * declares an API version this daemon cannot host, or throws while registering is recorded
 * as FAILED with the reason, and loading goes on with the next one.
 */
export async function loadPlugins(specifiers: readonly string[], registry: PluginRegistry, logger: Logger): Promise<void> {
  await registerPlugin(builtinSecretsPlugin, '@sourced/core', registry, logger);
  for (const specifier of specifiers) {
    let plugin: SourcedPlugin;
    try {
      plugin = findPlugin(await importModule(specifier), specifier);
    } catch (error) {
      fail(registry, logger, specifier, specifier, `could not load module: ${describeError(error)}`);
      continue;
    }
    await registerPlugin(plugin, specifier, registry, logger);
  }
}

/** Registers one plugin object (also used by tests and the plugin SDK's harness). */
export async function registerPlugin(plugin: SourcedPlugin, module: string, registry: PluginRegistry, logger: Logger): Promise<void> {
  if (registry.list().some((r) => r.id === plugin.id && r.state === 'LOADED')) {
    fail(registry, logger, plugin.id, module, `a plugin with id "${plugin.id}" is already loaded`, plugin);
    return;
  }
  if (!SUPPORTED_PLUGIN_API_VERSIONS.includes(plugin.apiVersion)) {
    fail(
      registry,
      logger,
      plugin.id,
      module,
      `plugin API version ${String(plugin.apiVersion)} is not supported; this daemon hosts version ${SUPPORTED_PLUGIN_API_VERSIONS.join(', ')}`,
      plugin,
    );
    return;
  }
  const connectors: ConnectorDefinition[] = [];
  const providers: SecretProvider[] = [];
  const tokenProviders: DatabaseTokenProvider[] = [];
  const clouds = new Set<string>();
  const names = new Set<string>();
  const schemes = new Set<string>();
  let open = true;
  try {
    await plugin.register({
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
    });
  } catch (error) {
    fail(registry, logger, plugin.id, module, `register() failed: ${describeError(error)}`, plugin);
    return;
  } finally {
    open = false;
  }
  connectors.forEach((c) => registry.commitConnector(c, plugin.id));
  providers.forEach((p) => registry.commitSecretProvider(p, plugin.id));
  tokenProviders.forEach((p) => registry.commitTokenProvider(p, plugin.id));
  const record: PluginRecord = {
    id: plugin.id,
    module,
    version: plugin.version,
    apiVersion: plugin.apiVersion,
    description: plugin.description ?? '',
    state: 'LOADED',
    connectors: connectors.map((c) => c.type),
    secretProviders: providers.flatMap((p) => [...p.schemes]),
    tokenProviders: tokenProviders.map((p) => p.cloud),
    capabilities: [...new Set(connectors.flatMap((c) => [...c.capabilities]))],
  };
  registry.addRecord(record);
  logger.info('plugin loaded', { plugin: plugin.id, module, version: plugin.version, connectors: record.connectors, secretProviders: record.secretProviders });
}

function fail(registry: PluginRegistry, logger: Logger, id: string, module: string, reason: string, plugin?: SourcedPlugin): void {
  registry.addRecord({
    id,
    module,
    version: plugin?.version ?? '',
    apiVersion: plugin?.apiVersion ?? 0,
    description: plugin?.description ?? '',
    state: 'FAILED',
    loadError: reason,
    connectors: [],
    secretProviders: [],
    tokenProviders: [],
    capabilities: [],
  });
  logger.error('plugin failed to load', { plugin: id, module, reason });
}

async function importModule(specifier: string): Promise<unknown> {
  const target = isAbsolute(specifier) ? pathToFileURL(specifier).href : specifier;
  return import(target);
}

/** Finds the plugin among a module's exports: `default` (also CommonJS-wrapped) or `plugin`. */
function findPlugin(mod: unknown, specifier: string): SourcedPlugin {
  const m = mod as Record<string, unknown>;
  const candidates = [m?.default, (m?.default as Record<string, unknown> | undefined)?.default, m?.plugin, mod];
  const found = candidates.find(isSourcedPlugin);
  if (!found) throw new Error(`${specifier} exports no plugin; export default definePlugin({...}) from @sourced/core`);
  return found;
}
