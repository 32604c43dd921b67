import type { CloudProvider, DataSource, SecretInput } from '../datasource/DataSource';
import type { Logger } from '../logging/Logger';
import type { Secret } from '../secret/Secret';

/** What a token is minted for: one physical connection to one endpoint. */
export interface DatabaseTokenRequest {
  /** The data source; its `cloud` settings carry the identity to mint with. */
  source: DataSource;
  /** Host of the endpoint the connection goes to (RDS tokens are bound to it). */
  host: string;
  /** Port of that endpoint. */
  port: number;
  /** The database user the token authenticates. */
  user: string;
  /** The connector type (`postgres`, `mysql`). */
  connector: string;
}

/** A minted token, used as the connection's password. */
export interface DatabaseToken {
  /** The token, used as the connection's password. */
  token: Secret;
  /** When the token stops being accepted for new connections (epoch milliseconds). */
  expiresAt: number;
}

/** What a token provider receives with each request. */
export interface DatabaseTokenContext {
  /** Fires when the caller gives up or the deadline passes; pass it to the cloud SDK. */
  signal: AbortSignal;
  /** Resolves the provider's own credentials (cloud keys, client secrets) through the secret chain. */
  resolveSecret(input: SecretInput, label: string): Promise<Secret>;
  /** A logger for the provider. Never log a token or a credential. */
  logger: Logger;
}

/**
 * Mints database authentication tokens from a cloud identity: RDS IAM authentication tokens
 * (AWS) or Microsoft Entra ID access tokens (Azure). Registered by a cloud provider plugin with
 * `registrar.registerDatabaseTokenProvider`; connectors never import a cloud SDK. A token is
 * minted for every physical connection, so a long discovery never uses an expired one.
 */
export interface DatabaseTokenProvider {
  /** Kebab-case id, for example `aws-rds-iam`, `azure-entra`. */
  readonly id: string;
  /** The cloud whose data sources it serves. */
  readonly cloud: CloudProvider;
  /** The package that provides it, named in the error when it is missing. */
  readonly description?: string;
  /** Mints a token for one connection. Its errors must hold no token or credential. */
  mint(request: DatabaseTokenRequest, context: DatabaseTokenContext): Promise<DatabaseToken>;
}

/** How connectors reach the token providers; the daemon implements it over the registry and the secret chain. */
export interface DatabaseTokenMinter {
  /** Mints a token with the provider of the data source's cloud; names the missing plugin when there is none. */
  mint(request: DatabaseTokenRequest, signal: AbortSignal): Promise<DatabaseToken & { provider: string }>;
}

/** Which cloud's token a data source with `use_iam_auth` needs: its cloud_provider, else Azure when Azure fields are set, else AWS. */
export function tokenCloudOf(source: DataSource): CloudProvider {
  if (source.cloudProvider === 'AWS' || source.cloudProvider === 'AZURE') return source.cloudProvider;
  const c = source.cloud;
  return c.azureTenantId || c.azureClientId || c.azureClientSecret || c.useManagedIdentity ? 'AZURE' : 'AWS';
}

/** The plugin that provides a cloud's database tokens. */
export const TOKEN_PLUGIN_OF: Record<string, string> = { AWS: '@sourced/plugin-aws', AZURE: '@sourced/plugin-azure' };
