import type { ConnectorDefinition } from '../connector/Connector';
import type { DatabaseTokenProvider } from '../connector/DatabaseTokenProvider';
import type { SecretProvider } from '../secret/SecretProvider';

/**
 * The plugin API version this build of sourced hosts. A plugin declares the version it
 * was written against; the daemon refuses one whose version it cannot host.
 */
export const PLUGIN_API_VERSION = 1;

/** The plugin API versions this daemon can host. */
export const SUPPORTED_PLUGIN_API_VERSIONS: readonly number[] = [1];

/** What a plugin may register. Plugins never see the daemon's container. */
export interface PluginRegistrar {
  /** Adds a connector. A type or alias that is already registered is refused with an error naming both plugins. */
  registerConnector(definition: ConnectorDefinition): void;
  /** Adds a secret provider. A scheme that is already registered is refused likewise. */
  registerSecretProvider(provider: SecretProvider): void;
  /** Adds a database token provider (one per cloud); a second one for a cloud is refused likewise. */
  registerDatabaseTokenProvider(provider: DatabaseTokenProvider): void;
}

/** What a plugin author writes; pass it to {@link definePlugin}. */
export interface PluginOptions {
  /** Kebab-case id, unique in a daemon, for example `postgres`. */
  id: string;
  /** The plugin's own version (semver). */
  version: string;
  /** The plugin API version it was written against: {@link PLUGIN_API_VERSION}. */
  apiVersion: number;
  description?: string;
  /** Registers the plugin's connectors and secret providers. May be async. */
  register(registrar: PluginRegistrar): void | Promise<void>;
}

/** A plugin, branded so the loader can tell it from any other export. */
export interface SourcedPlugin extends PluginOptions {
  readonly $$type: '@sourced/plugin';
}

/**
 * Declares a plugin. Export the result as the module's default export (or as `plugin`):
 *
 * ```ts
 * export default definePlugin({
 *   id: 'clickhouse', version: '1.0.0', apiVersion: PLUGIN_API_VERSION,
 *   register(r) { r.registerConnector(clickhouseConnector); },
 * });
 * ```
 */
export function definePlugin(options: PluginOptions): SourcedPlugin {
  if (!/^[a-z][a-z0-9-]*$/.test(options.id)) {
    throw new Error(`plugin id "${options.id}" must be kebab-case (a-z, 0-9, -)`);
  }
  return Object.freeze({ ...options, $$type: '@sourced/plugin' as const });
}

/** Whether a value is a plugin made by {@link definePlugin}. */
export function isSourcedPlugin(value: unknown): value is SourcedPlugin {
  return typeof value === 'object' && value !== null && (value as { $$type?: unknown }).$$type === '@sourced/plugin';
}
