/**
 * The same provider against a real Vault, when the environment names one: VAULT_ADDR and
 * VAULT_TOKEN (a token that may write, read and delete under the KV v2 mount VAULT_KV_MOUNT,
 * default `secret`; for example a dev server: `vault server -dev`). The test writes one secret
 * under sourced-test/<random>, reads it through the plugin (directly and with the conformance
 * kit, the plugin taking its address and token from the environment), and deletes it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotAllowedError, NotFoundError } from '@sourced/plugin-sdk';
import { describeSecretProviderConformance } from '@sourced/plugin-sdk/testing';
import { VaultSecretProvider } from '../dist/index.js';
import { PLUGIN, providerContext, ref } from './helpers';

const ADDR = process.env.VAULT_ADDR?.replace(/\/+$/, '');
const TOKEN = process.env.VAULT_TOKEN;
const MOUNT = process.env.VAULT_KV_MOUNT ?? 'secret';
const NAMESPACE = process.env.VAULT_NAMESPACE;
const real = Boolean(ADDR && TOKEN);

const path = `sourced-test/${randomUUID()}`;
const VALUE = `real-vault-${randomUUID()}`;

async function vaultApi(method: string, route: string, body?: unknown): Promise<void> {
  const response = await fetch(`${ADDR}/v1/${route}`, {
    method,
    headers: { 'X-Vault-Token': TOKEN!, ...(NAMESPACE ? { 'X-Vault-Namespace': NAMESPACE } : {}), 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`Vault ${method} ${route}: HTTP ${response.status}`);
}

describe.skipIf(!real)('the Vault provider against a real Vault (VAULT_ADDR, VAULT_TOKEN)', () => {
  const provider = () => new VaultSecretProvider({ address: ADDR!, token: { kind: 'env', value: TOKEN! }, ...(NAMESPACE ? { namespace: NAMESPACE } : {}) });

  beforeAll(async () => {
    await vaultApi('POST', `${MOUNT}/data/${path}`, { data: { username: 'orders_app', password: VALUE } });
    await vaultApi('POST', `${MOUNT}/data/${path}`, { data: { username: 'orders_app', password: `${VALUE}-2` } });
  });
  afterAll(() => vaultApi('DELETE', `${MOUNT}/metadata/${path}`));

  it('reads the current and an older version', async () => {
    expect(JSON.parse(await provider().resolve(ref(`vault://${MOUNT}/${path}#password`), providerContext())).password).toBe(`${VALUE}-2`);
    expect(JSON.parse(await provider().resolve(ref(`vault://${MOUNT}/${path}?version=1#password`), providerContext())).password).toBe(VALUE);
  });

  it('maps a missing secret to SECRET_NOT_FOUND and a bad token to a NotAllowedError', async () => {
    await expect(provider().resolve(ref(`vault://${MOUNT}/${path}-missing#password`), providerContext())).rejects.toBeInstanceOf(NotFoundError);
    const bad = new VaultSecretProvider({ address: ADDR!, token: { kind: 'env', value: 'hvs.not-a-real-token' } });
    await expect(bad.resolve(ref(`vault://${MOUNT}/${path}#password`), providerContext())).rejects.toBeInstanceOf(NotAllowedError);
  });
});

if (real) {
  describeSecretProviderConformance({
    plugin: PLUGIN,
    scheme: 'vault',
    // No pluginSettings: the plugin reads VAULT_ADDR, VAULT_TOKEN and VAULT_NAMESPACE.
    setup: async () => {
      await vaultApi('POST', `${MOUNT}/data/${path}-conformance`, { data: { password: VALUE } });
      return {
        existing: { reference: `vault://${MOUNT}/${path}-conformance#password`, value: VALUE },
        missing: `vault://${MOUNT}/${path}-nothing#password`,
        malformed: `vault://${MOUNT}`,
        secrets: [TOKEN!],
      };
    },
    teardown: () => vaultApi('DELETE', `${MOUNT}/metadata/${path}-conformance`),
  });
}
