/**
 * The plugin SDK's conformance kit, run against this provider as the daemon loads it (from
 * its built path), against the Vault stand-in.
 */
import { beforeAll } from 'vitest';
import { describeSecretProviderConformance } from '@sourced/plugin-sdk/testing';
import { PLUGIN, tokenFile } from './helpers';
import { VaultStandIn } from './vaultStandIn';

const TOKEN = 'hvs.CAESIconformance-token-0003';
const VALUE = 'conformance-pw-2b81d0';

const vault = new VaultStandIn();
vault
  .addToken({ token: TOKEN, read: ['secret/data/*'] })
  .put('secret', 'db/orders', { username: 'orders_app', password: VALUE })
  .put('secret', 'db/slow', { password: 'slow-value' })
  .fault('secret', 'db/slow', { delayMs: 5000 });

// The plugin's settings name the stand-in's address, known once it listens: this file-level
// hook runs before the kit's own (which starts the daemon with these settings).
const settings = { address: '', tokenFile: tokenFile(TOKEN) };
beforeAll(async () => {
  await vault.start();
  settings.address = vault.address;
});

describeSecretProviderConformance({
  plugin: PLUGIN,
  scheme: 'vault',
  config: { pluginSettings: { vault: settings } },
  setup: () => ({
    existing: { reference: 'vault://secret/db/orders#password', value: VALUE },
    missing: 'vault://secret/db/nothing-here#password',
    malformed: 'vault://secret',
    slow: { reference: 'vault://secret/db/slow#password', holdMs: 5000 },
    secrets: [TOKEN, 'slow-value'],
  }),
  teardown: () => vault.stop(),
});
