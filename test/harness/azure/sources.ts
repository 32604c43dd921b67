import { DataSource } from '@sourced/api';
import { CheckStatus, type CheckFinished } from '@sourced/api';
import type { ValidateDataSourceResponse } from '@sourced/api';
import type { AzureApp, AzureStandIn } from './AzureStandIn';
import type { ServerInfo } from '../../support/globalSetup';
import type { TestDaemon } from '../../support/testDaemon';

/** The plugins the Azure suites load (the Azure plugin is not built in). */
export const AZURE_PLUGINS = ['@sourced/plugin-postgres', '@sourced/plugin-azure'];

export const STATUS: Record<number, string> = {
  [CheckStatus.CHECK_STATUS_PASSED]: 'PASSED',
  [CheckStatus.CHECK_STATUS_FAILED]: 'FAILED',
  [CheckStatus.CHECK_STATUS_WARNING]: 'WARNING',
  [CheckStatus.CHECK_STATUS_SKIPPED]: 'SKIPPED',
};

export function check(events: ValidateDataSourceResponse[], id: string): CheckFinished & { state: string } {
  const c = events.flatMap((e) => (e.event?.$case === 'checkFinished' ? [e.event.value] : [])).find((x) => x.checkId === id);
  if (!c) throw new Error(`no check ${id}`);
  return { ...c, state: STATUS[c.status] ?? String(c.status) };
}

export function passed(events: ValidateDataSourceResponse[]): boolean {
  const last = events.at(-1)?.event;
  return last?.$case === 'summary' && last.value.ok;
}

/** How the data source's client secret is given. */
export type ClientSecretInput = { inline: string } | { reference: string };

export interface KeyVaultSourceOptions {
  /** Defaults to the stand-in's `pg-password`. */
  reference?: string;
  /** The app whose tenant, id and secret go into cloud_config; none means the default chain. */
  app?: AzureApp;
  /** Overrides the app's secret (a wrong one, or a reference). */
  clientSecret?: ClientSecretInput;
  /** Point the provider at the stand-in (vault URL, authority, CA). Default true. */
  overrides?: boolean;
  connectionProperties?: Record<string, unknown>;
  cloudConfig?: Record<string, unknown>;
}

/** A PostgreSQL data source whose password comes from the Key Vault stand-in. */
export function keyVaultSource(pg: ServerInfo, kv: AzureStandIn, options: KeyVaultSourceOptions = {}): DataSource {
  const secret = options.clientSecret ?? (options.app ? { inline: options.app.clientSecret } : undefined);
  return DataSource.fromPartial({
    type: 'postgres',
    primary: { host: pg.host, port: pg.port, database: pg.database },
    credentials: { username: pg.user, password: { source: { $case: 'reference', value: options.reference ?? `azure-kv://${kv.vaultName}/pg-password` } } },
    cloudConfig: {
      ...(options.app ? { azureTenantId: options.app.tenantId, azureClientId: options.app.clientId } : {}),
      ...(secret
        ? {
            azureClientSecret: {
              source: 'inline' in secret ? { $case: 'inlineValue', value: secret.inline } : { $case: 'reference', value: secret.reference },
            },
          }
        : {}),
      ...options.cloudConfig,
    },
    connectionProperties: {
      ...(options.overrides === false ? {} : { azure_key_vault_url: kv.url, azure_authority_host: kv.url, azure_ssl_ca: kv.caCertPem }),
      ...options.connectionProperties,
    },
  });
}

/** The secret links that failed since log line `from`, with their reasons (from the chain's debug lines). */
export function failedLinks(t: TestDaemon, from: number): { link: string; reason: string }[] {
  return t.logs
    .slice(from)
    .map((line) => JSON.parse(line) as { msg?: string; link?: string; reason?: string })
    .filter((r) => r.msg === 'secret link failed')
    .map((r) => ({ link: r.link ?? '', reason: r.reason ?? '' }));
}

/** Everything a caller or an operator could see: events, errors, log lines and spans. */
export function everythingVisible(t: TestDaemon, seen: unknown[]): string {
  const spans = t.spans.getFinishedSpans().map((s) => ({ n: s.name, a: s.attributes, e: s.events, st: s.status }));
  return [
    JSON.stringify(seen, (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message, details: (v as { details?: unknown }).details } : v)),
    ...t.logs,
    JSON.stringify(spans),
  ].join('\n');
}
