/** `sourced plugins`: the daemon's plugins, what each provides, the load error of one that failed and the loader's warnings. */
import { Metadata } from '@grpc/grpc-js';
import { PluginServiceClient, pluginKindToJSON, pluginStateToJSON, type ListPluginsResponse } from '@sourced/api';
import { clientContext } from './client';
import { EXIT } from './errors';
import type { ClientOptions } from './options';

export async function runPlugins(options: ClientOptions): Promise<number> {
  const { address, channel, deadline, json, out } = clientContext(options);
  const p = out.paint;
  const client = new PluginServiceClient(address, channel);
  try {
    const response = await new Promise<ListPluginsResponse>((resolve, reject) =>
      client.listPlugins({}, new Metadata(), { deadline }, (error, r) => (error ? reject(error) : resolve(r))),
    );
    if (json) {
      // Enums by name, as every --json output of the client prints them.
      out.line(JSON.stringify(response.plugins.map((x) => ({ ...x, kind: pluginKindToJSON(x.kind), state: pluginStateToJSON(x.state) }))));
    } else {
      for (const x of response.plugins) {
        const state = pluginStateToJSON(x.state).replace('PLUGIN_STATE_', '').toLowerCase();
        const provides = [
          ...x.connectors.map((c) => `connector ${c}`),
          ...x.secretProviders.map((s) => `secrets ${s}://`),
          ...x.tokenProviders.map((c) => `database tokens (${c})`),
        ].join(', ');
        const coloured = state === 'loaded' ? p.green(state) : p.red(state);
        out.line(`${p.bold(x.id)} ${x.version} ${coloured}${provides ? `: ${provides}` : ''}${x.loadError ? `\n    ${x.loadError}` : ''}`);
        // What the loader warns about a plugin that loaded (its own copy of the SDK, say).
        for (const w of x.warnings) out.line(`    ${p.yellow('warning')}: ${w}`);
      }
    }
  } finally {
    out.close();
    client.close();
  }
  return EXIT.OK;
}
