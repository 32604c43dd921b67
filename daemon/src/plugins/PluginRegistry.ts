import type { ConnectorDefinition, ConnectorTypeResolver, DatabaseTokenProvider, KeyProvider, SecretProvider } from '@sourced/core';
import { NotFoundError } from '@sourced/core';

/** A plugin as the daemon saw it at start: loaded with what it registered, or failed with why. */
export interface PluginRecord {
  id: string;
  module: string;
  version: string;
  /** Major of the plugin SDK version it needs. */
  apiVersion: number;
  /** The plugin SDK versions it needs, a semver range (`^1.0.0`; every range it states, space-separated); empty when unknown. */
  sdkRange: string;
  description: string;
  state: 'LOADED' | 'FAILED';
  loadError?: string;
  connectors: string[];
  secretProviders: string[];
  /** Clouds whose database tokens it mints. */
  tokenProviders: string[];
  /** Key providers of envelope encryption it registered (absent: none). */
  keyProviders?: string[];
  capabilities: string[];
  /**
   * What the operator should know about a plugin that loaded (or failed) anyway: it brought
   * its own copy of the plugin SDK, it states different SDK ranges in two places. Absent: none.
   */
  warnings?: string[];
}

/**
 * What the plugins registered, and the record of every plugin the daemon tried to load,
 * in load order. A connector type, alias or secret scheme belongs to exactly one plugin:
 * a second registration of it is refused, never silently replaces the first.
 */
export class PluginRegistry implements ConnectorTypeResolver {
  private readonly records: PluginRecord[] = [];
  private readonly connectors = new Map<string, { definition: ConnectorDefinition; pluginId: string }>();
  private readonly aliases = new Map<string, string>();
  private readonly providers: { provider: SecretProvider; pluginId: string }[] = [];
  private readonly tokenProviders = new Map<string, { provider: DatabaseTokenProvider; pluginId: string }>();
  private readonly keys = new Map<string, { provider: KeyProvider; pluginId: string }>();

  /** How a connector type's sources are addressed: `file` for file-based connectors, else `network`. */
  addressing(type: string): 'network' | 'file' {
    return this.connectors.get(type)?.definition.addressing ?? 'network';
  }

  /** Every plugin, loaded or failed, in load order. */
  list(): readonly PluginRecord[] {
    return this.records;
  }

  /** A plugin by id or by module specifier. */
  get(idOrModule: string): PluginRecord {
    const found = this.records.find((r) => r.id === idOrModule || r.module === idOrModule);
    if (!found) {
      throw new NotFoundError('PLUGIN_NOT_FOUND', `no plugin "${idOrModule}"; plugins: ${this.records.map((r) => r.id).join(', ') || '(none)'}`, {
        metadata: { plugin: idOrModule },
      });
    }
    return found;
  }

  addRecord(record: PluginRecord): void {
    this.records.push(record);
  }

  /** Throws when a type or alias is taken; returns the names that would be added. */
  checkConnector(definition: ConnectorDefinition, pluginId: string, pending: Set<string>): string[] {
    const names = [definition.type, ...(definition.aliases ?? [])].map((n) => n.toLowerCase());
    for (const name of names) {
      const owner = this.aliases.get(name);
      if (owner !== undefined) {
        const ownerPlugin = this.connectors.get(owner)?.pluginId;
        throw new Error(`connector type "${name}" of plugin "${pluginId}" is already registered by plugin "${ownerPlugin}"`);
      }
      if (pending.has(name)) throw new Error(`plugin "${pluginId}" registers connector type "${name}" twice`);
    }
    return names;
  }

  checkSecretProvider(provider: SecretProvider, pluginId: string, pending: Set<string>): void {
    for (const scheme of provider.schemes) {
      const owner = this.providers.find((p) => p.provider.schemes.includes(scheme));
      if (owner) throw new Error(`secret scheme "${scheme}" of plugin "${pluginId}" is already registered by plugin "${owner.pluginId}"`);
      if (pending.has(scheme)) throw new Error(`plugin "${pluginId}" registers secret scheme "${scheme}" twice`);
    }
  }

  checkTokenProvider(provider: DatabaseTokenProvider, pluginId: string, pending: Set<string>): void {
    const owner = this.tokenProviders.get(provider.cloud);
    if (owner) throw new Error(`database tokens for ${provider.cloud} of plugin "${pluginId}" are already provided by plugin "${owner.pluginId}"`);
    if (pending.has(provider.cloud)) throw new Error(`plugin "${pluginId}" registers database tokens for ${provider.cloud} twice`);
  }

  commitTokenProvider(provider: DatabaseTokenProvider, pluginId: string): void {
    this.tokenProviders.set(provider.cloud, { provider, pluginId });
  }

  /** The database token provider of a cloud, if a plugin registered one. */
  tokenProvider(cloud: string): DatabaseTokenProvider | undefined {
    return this.tokenProviders.get(cloud)?.provider;
  }

  commitConnector(definition: ConnectorDefinition, pluginId: string): void {
    this.connectors.set(definition.type, { definition, pluginId });
    for (const name of [definition.type, ...(definition.aliases ?? [])]) this.aliases.set(name.toLowerCase(), definition.type);
  }

  commitSecretProvider(provider: SecretProvider, pluginId: string): void {
    this.providers.push({ provider, pluginId });
  }

  resolve(type: string): string | undefined {
    return this.aliases.get(type.toLowerCase());
  }

  known(): string[] {
    return [...this.connectors.keys()].sort();
  }

  /** The connector of a canonical type. */
  connector(type: string): ConnectorDefinition {
    const entry = this.connectors.get(type);
    if (!entry) throw new NotFoundError('CONNECTOR_NOT_FOUND', `no connector "${type}"; loaded: ${this.known().join(', ') || '(none)'}`);
    return entry.definition;
  }

  secretProviders(): SecretProvider[] {
    return this.providers.map((p) => p.provider);
  }

  checkKeyProvider(provider: KeyProvider, pluginId: string, pending: Set<string>): void {
    if (!/^[a-z][a-z0-9-]{0,63}$/.test(provider.id))
      throw new Error(`key provider id "${provider.id}" of plugin "${pluginId}" must be kebab-case, at most 64 characters`);
    const owner = this.keys.get(provider.id);
    if (owner) throw new Error(`key provider "${provider.id}" of plugin "${pluginId}" is already registered by plugin "${owner.pluginId}"`);
    if (pending.has(provider.id)) throw new Error(`plugin "${pluginId}" registers key provider "${provider.id}" twice`);
  }

  commitKeyProvider(provider: KeyProvider, pluginId: string): void {
    this.keys.set(provider.id, { provider, pluginId });
  }

  /** The key providers of envelope encryption, by id. */
  keyProviders(): KeyProvider[] {
    return [...this.keys.values()].map((k) => k.provider);
  }
}
