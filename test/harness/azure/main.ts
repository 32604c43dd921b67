/**
 * Runs the Azure stand-in on its own, for trying the daemon by hand or running the
 * real-service suite against it: `npx tsx test/harness/azure/main.ts [secret-name=value ...]`.
 * Prints the environment for the real-service blocks of `test/azure.secrets.test.ts` and
 * `test/azure.keys.test.ts` (an RSA key `sourced-key` is made for the latter) and the CA file.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AzureStandIn } from './AzureStandIn';

async function main(): Promise<void> {
  const standIn = await AzureStandIn.start();
  const app = standIn.addApp();
  const pairs = process.argv.slice(2).map((a) => a.split('=', 2) as [string, string]);
  if (pairs.length === 0) pairs.push(['db-password', 'change-me']);
  for (const [name, value] of pairs) standIn.setSecret(name, value ?? '');
  standIn.createKey('sourced-key');
  const caFile = join(tmpdir(), `sourced-azure-ca-${process.pid}.pem`);
  writeFileSync(caFile, standIn.caCertPem);
  const env = {
    SOURCED_TEST_AZURE_KEY_VAULT_URL: standIn.url,
    SOURCED_TEST_AZURE_AUTHORITY_HOST: standIn.url,
    SOURCED_TEST_AZURE_CA_FILE: caFile,
    SOURCED_TEST_AZURE_TENANT_ID: app.tenantId,
    SOURCED_TEST_AZURE_CLIENT_ID: app.clientId,
    SOURCED_TEST_AZURE_CLIENT_SECRET: app.clientSecret,
    SOURCED_TEST_AZURE_SECRET_NAME: pairs[0]?.[0] ?? 'db-password',
    SOURCED_TEST_AZURE_KEY_ID: standIn.keyId('sourced-key'),
  };
  for (const [k, v] of Object.entries(env)) process.stdout.write(`export ${k}='${v}'\n`);
  process.stderr.write(`Azure stand-in on ${standIn.url} (vault ${standIn.vaultName}); Ctrl-C stops it\n`);
  const stop = () => void standIn.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
