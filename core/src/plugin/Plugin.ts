import { dirname } from 'node:path';
import type { ConnectorDefinition } from '../connector/Connector';
import type { DatabaseTokenProvider } from '../connector/DatabaseTokenProvider';
import type { Logger } from '../logging/Logger';
import type { KeyProvider } from '../secret/KeyProvider';
import type { SecretProvider } from '../secret/SecretProvider';

/**
 * The version of the plugin SDK (the plugin API: everything `@sourced/plugin-sdk` exports)
 * this build of sourced hosts, as semver. A plugin states the SDK versions it works with as a
 * range (`^1.0.0`): in its package.json (`"sourced": { "sdk": "^1.0.0" }`, or its peer
 * dependency on `@sourced/plugin-sdk`) or in {@link PluginOptions.sdk}; the daemon loads it
 * only when this version satisfies the range. A minor release adds to the API; a major one
 * may break it.
 */
export const PLUGIN_SDK_VERSION = '1.5.0';

/**
 * The major version of {@link PLUGIN_SDK_VERSION}, for plugins that declare a numeric
 * {@link PluginOptions.apiVersion} (`1` means `^1.0.0`).
 */
export const PLUGIN_API_VERSION = 1;

/** What a plugin may register, and what it is given to do so. Plugins never see the daemon's container. */
export interface PluginRegistrar {
  /** The plugin SDK version the daemon hosts ({@link PLUGIN_SDK_VERSION} of the daemon's build). */
  readonly sdkVersion: string;
  /**
   * The operator's settings for this plugin: the daemon config's `pluginSettings.<plugin id>`
   * (any JSON value), or undefined. Check them in `register` and throw an Error naming the
   * bad setting: the plugin is then listed as failed with that reason.
   */
  readonly settings: unknown;
  /** A logger whose lines carry the plugin's id. Never log a secret. */
  readonly logger: Logger;
  /** Adds a connector. A type or alias that is already registered is refused with an error naming both plugins. */
  registerConnector(definition: ConnectorDefinition): void;
  /** Adds a secret provider. A scheme that is already registered is refused likewise. */
  registerSecretProvider(provider: SecretProvider): void;
  /** Adds a database token provider (one per cloud); a second one for a cloud is refused likewise. */
  registerDatabaseTokenProvider(provider: DatabaseTokenProvider): void;
  /**
   * Adds a key provider for envelope encryption (`use_encryption`: `local`, `aws-kms`); its id is
   * written into every envelope it wraps. An id that is already registered is refused likewise.
   */
  registerKeyProvider(provider: KeyProvider): void;
}

/** What a plugin author writes; pass it to {@link definePlugin}. */
export interface PluginOptions {
  /** Kebab-case id, unique in a daemon, for example `postgres`. */
  id: string;
  /** The plugin's own version (semver). */
  version: string;
  /**
   * The plugin SDK versions the plugin works with, a semver range such as `^1.0.0`. Write it
   * out (not from a constant: a constant would be read from the daemon's SDK at run time).
   * Optional when the plugin's package.json says it (`"sourced": { "sdk": "^1.0.0" }`, or a
   * peer dependency on `@sourced/plugin-sdk`); when both say it, they must agree.
   */
  sdk?: string;
  /** Older form of {@link sdk}: a major version, `1` meaning `^1.0.0`. */
  apiVersion?: number;
  /** One line on what the plugin provides, shown by `ListPlugins`. */
  description?: string;
  /** Registers the plugin's connectors and secret providers. May be async. */
  register(registrar: PluginRegistrar): void | Promise<void>;
}

/** A plugin, branded so the loader can tell it from any other export. */
export interface SourcedPlugin extends PluginOptions {
  /** The brand {@link isSourcedPlugin} looks for; set by {@link definePlugin}. */
  readonly $$type: '@sourced/plugin';
}

/**
 * Declares a plugin. Export the result as the module's default export (or as `plugin`):
 *
 * ```ts
 * export default definePlugin({
 *   id: 'clickhouse', version: '1.0.0', sdk: '^1.0.0',
 *   register(r) { r.registerConnector(clickhouseConnector); },
 * });
 * ```
 */
export function definePlugin(options: PluginOptions): SourcedPlugin {
  if (!/^[a-z][a-z0-9-]*$/.test(options.id)) {
    throw new Error(`plugin id "${options.id}" must be kebab-case (a-z, 0-9, -)`);
  }
  if (options.sdk !== undefined && (typeof options.sdk !== 'string' || options.sdk.trim() === '')) {
    throw new Error(`plugin "${options.id}": sdk must be a semver range such as ^1.0.0`);
  }
  return Object.freeze({ ...options, $$type: '@sourced/plugin' as const, [PLUGIN_ORIGIN_KEY]: CORE_COPY });
}

/**
 * The key under which {@link definePlugin} stamps the folder of the copy of `@sourced/core`
 * it belongs to (a `Symbol.for` key, the same in every copy), so that the daemon can tell a
 * plugin made with its own copy of the SDK from one that shares the daemon's.
 */
const PLUGIN_ORIGIN_KEY = Symbol.for('sourced.plugin.coreCopy');

/** The folder this copy of `@sourced/core` is installed in (its real path: links are resolved by Node). */
export const CORE_COPY: string = dirname(dirname(__dirname));

/**
 * The folder of the copy of `@sourced/core` whose {@link definePlugin} made a plugin;
 * undefined for a plugin made by an SDK older than 1.4 (which stamped nothing). Compare with
 * {@link CORE_COPY}: a different folder means the plugin brought its own copy of the SDK.
 */
export function pluginCoreCopy(plugin: SourcedPlugin): string | undefined {
  const copy = (plugin as unknown as Record<symbol, unknown>)[PLUGIN_ORIGIN_KEY];
  return typeof copy === 'string' ? copy : undefined;
}

/** Whether a value is a plugin made by {@link definePlugin}. */
export function isSourcedPlugin(value: unknown): value is SourcedPlugin {
  return typeof value === 'object' && value !== null && (value as { $$type?: unknown }).$$type === '@sourced/plugin';
}
