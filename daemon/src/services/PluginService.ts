import { InputError, PLUGIN_SDK_VERSION } from '@sourced/core';
import type { GetPluginRequest, GetPluginResponse, ListPluginsRequest, ListPluginsResponse, Plugin, PluginServiceServer } from '@sourced/api';
import { PluginKind, PluginState } from '@sourced/api';
import { unary, type HandlerDeps } from '../grpc/callHandlers';
import type { PluginRecord, PluginRegistry } from '../plugins/PluginRegistry';

const SERVICE = 'sourced.v1.PluginService';

/** PluginService: what the daemon loaded, and what failed and why. */
export class PluginService {
  constructor(private readonly deps: { pluginRegistry: PluginRegistry; handlerDeps: HandlerDeps }) {}

  implementation(): PluginServiceServer {
    const h = this.deps.handlerDeps;
    return {
      listPlugins: unary<ListPluginsRequest, ListPluginsRequest, ListPluginsResponse>(
        h,
        `${SERVICE}/ListPlugins`,
        (req) => req,
        () =>
          Promise.resolve({
            plugins: this.deps.pluginRegistry.list().map(toPlugin),
            sdkVersion: PLUGIN_SDK_VERSION,
          }),
      ),
      getPlugin: unary<GetPluginRequest, string, GetPluginResponse>(h, `${SERVICE}/GetPlugin`, parsePluginId, (id) =>
        Promise.resolve({
          plugin: toPlugin(this.deps.pluginRegistry.get(id)),
        }),
      ),
    };
  }
}

/** GetPlugin's request, parsed: the plugin id or module specifier it names. */
function parsePluginId(req: GetPluginRequest): string {
  if (!req.id) throw new InputError([{ field: 'id', description: 'is required: a plugin id or module specifier' }], { reason: 'INVALID_REQUEST' });
  return req.id;
}

function toPlugin(r: PluginRecord): Plugin {
  const kind =
    r.connectors.length && r.secretProviders.length
      ? PluginKind.PLUGIN_KIND_MIXED
      : r.connectors.length
        ? PluginKind.PLUGIN_KIND_CONNECTOR
        : r.secretProviders.length
          ? PluginKind.PLUGIN_KIND_SECRET_PROVIDER
          : PluginKind.PLUGIN_KIND_UNSPECIFIED;
  return {
    id: r.id,
    version: r.version,
    kind,
    state: r.state === 'LOADED' ? PluginState.PLUGIN_STATE_LOADED : PluginState.PLUGIN_STATE_FAILED,
    loadError: r.loadError ?? '',
    module: r.module,
    apiVersion: r.apiVersion,
    sdkRange: r.sdkRange,
    connectors: r.connectors,
    secretProviders: r.secretProviders,
    tokenProviders: r.tokenProviders,
    keyProviders: r.keyProviders ?? [],
    capabilities: r.capabilities,
    description: r.description,
    warnings: r.warnings ?? [],
  };
}
