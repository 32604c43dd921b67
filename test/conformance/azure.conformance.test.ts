/**
 * The plugin conformance kit against the built-in Azure Key Vault provider (azure-kv://), on
 * the Key Vault stand-in (HTTPS, the 401 challenge, an Entra token authority: the real
 * ClientSecretCredential runs). The data source brings the app's client secret and points the
 * provider at the stand-in; the slow look-up goes to a second stand-in that holds vault answers.
 */
import { randomBytes } from 'node:crypto';
import { DataSource } from '@sourced/api';
import { describeSecretProviderConformance } from '../../sdk/src/testing';
import { AzureStandIn, type AzureApp } from '../harness/azure/AzureStandIn';
import { registerSecret } from '../support/secretScan';

const VAULT = 'sourced-test';
const HOLD_MS = 10_000;
const value = `conformance-${randomBytes(16).toString('base64url')}`;
registerSecret('the conformance secret value', value);

/** A data source whose cloud_config carries the app's client secret, with the provider pointed at `kv`. */
const source = (kv: AzureStandIn, app: AzureApp) =>
  DataSource.fromPartial({
    type: 'postgres',
    primary: { host: 'db.conformance.invalid', port: 5432, database: 'app' },
    cloudConfig: {
      azureTenantId: app.tenantId,
      azureClientId: app.clientId,
      azureClientSecret: { source: { $case: 'inlineValue', value: app.clientSecret } },
    },
    connectionProperties: { azure_key_vault_url: kv.url, azure_authority_host: kv.url, azure_ssl_ca: kv.caCertPem },
  });

const stores: AzureStandIn[] = [];

describeSecretProviderConformance({
  plugin: '@sourced/plugin-azure',
  scheme: 'azure-kv',
  async setup() {
    const kv = await AzureStandIn.start({ vaultName: VAULT });
    stores.push(kv);
    const slowKv = await AzureStandIn.start({ vaultName: VAULT });
    stores.push(slowKv);
    const app = kv.addApp();
    const slowApp = slowKv.addApp();
    kv.setSecret('conformance-value', value);
    slowKv.setSecret('conformance-slow', value);
    slowKv.setDelay(HOLD_MS, 'vault');
    return {
      existing: { reference: `azure-kv://${VAULT}/conformance-value`, value },
      missing: `azure-kv://${VAULT}/not-there`,
      malformed: `azure-kv://${VAULT}`,
      slow: { reference: `azure-kv://${VAULT}/conformance-slow`, holdMs: HOLD_MS, dataSource: source(slowKv, slowApp) },
      dataSource: source(kv, app),
      secrets: [app.clientSecret, slowApp.clientSecret],
    };
  },
  async teardown() {
    // tokens, client secrets and Entra error ids: the harness-wide scan checks them across the file
    for (const kv of stores) for (const v of kv.sensitiveValues()) registerSecret('an Azure stand-in token, client secret or error id', v);
    await Promise.all(stores.map((kv) => kv.stop()));
  },
});
