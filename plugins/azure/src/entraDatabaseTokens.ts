import { randomBytes } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import {
  NotAllowedError,
  Secret,
  SecretErrorReason,
  UnavailableError,
  SourcedError,
  type DatabaseToken,
  type DatabaseTokenContext,
  type DatabaseTokenProvider,
  type DatabaseTokenRequest,
} from '@sourced/core';
import { AZURE_PROPERTIES, resolveAzureAccess, type AzureAccess } from './azureAccess';
import { createCredential, LruMap } from './azureCredentials';
import { scrubAzureText } from './keyVaultErrors';
import { AZURE_CLOUDS, type AzureCloud, type KeyVaultTarget } from './keyVaultTarget';

/** The Entra resource of Azure Database for PostgreSQL and MySQL, per cloud (by the vault suffix of the cloud). */
interface DatabaseResource {
  resource: string;
  hostSuffixes: string[];
}
const DATABASE_RESOURCES: Record<string, DatabaseResource> = {
  AzurePublicCloud: { resource: 'https://ossrdbms-aad.database.windows.net', hostSuffixes: ['.database.azure.com'] },
  AzureChinaCloud: { resource: 'https://ossrdbms-aad.database.chinacloudapi.cn', hostSuffixes: ['.database.chinacloudapi.cn'] },
  AzureUSGovernment: { resource: 'https://ossrdbms-aad.database.usgovcloudapi.net', hostSuffixes: ['.database.usgovcloudapi.net'] },
};

/** The scope of database tokens in the public cloud. */
export const ENTRA_DATABASE_SCOPE = 'https://ossrdbms-aad.database.windows.net/.default';

/**
 * Microsoft Entra ID access tokens for Azure Database for PostgreSQL and MySQL
 * (`azure-entra`), for the scope `https://ossrdbms-aad.database.windows.net/.default` (the
 * sovereign clouds' own for their hosts). Who asks is chosen as for Key Vault
 * ({@link resolveAzureAccess}): a client secret from cloud_config, a managed identity, or the
 * default chain; `azure_authority_host` and `azure_ssl_ca` only with a client secret from the
 * request. A credential is kept per identity; `getToken` is called for every connection (the
 * credential caches the token and refreshes it before it expires).
 */
export class EntraDatabaseTokenProvider implements DatabaseTokenProvider {
  readonly id = 'azure-entra';
  readonly cloud = 'AZURE' as const;
  readonly description = '@sourced/plugin-azure: Microsoft Entra ID database tokens';

  private readonly fingerprintKey = randomBytes(32);
  private readonly credentials: LruMap<Promise<TokenCredential>>;

  constructor(maxCredentials = 64) {
    this.credentials = new LruMap(maxCredentials);
  }

  async mint(request: DatabaseTokenRequest, context: DatabaseTokenContext): Promise<DatabaseToken> {
    context.signal.throwIfAborted();
    const cloud = cloudOfDatabaseHost(request.host);
    const resource = DATABASE_RESOURCES[cloud.name] as DatabaseResource | undefined; // not every cloud has an entry
    const scope = `${resource?.resource ?? DATABASE_RESOURCES.AzurePublicCloud.resource}/.default`;
    // The Key Vault access rules, without the vault: azure_key_vault_url means nothing here.
    const { [AZURE_PROPERTIES.vaultUrl]: _vault, ...connectionProperties } = request.source.connectionProperties;
    const target: KeyVaultTarget = { vault: 'database', vaultUrl: `https://database${cloud.vaultSuffix}`, cloud, secretName: 'token' };
    const access = await resolveAzureAccess(
      target,
      {
        signal: context.signal,
        source: { ...request.source, connectionProperties },
        resolveSecret: (input, label) => context.resolveSecret(input, label),
        logger: context.logger,
      },
      this.fingerprintKey,
    );
    let token;
    try {
      const credential = await this.credential(access);
      token = await credential.getToken(scope, { abortSignal: context.signal, ...(access.tenantId ? { tenantId: access.tenantId } : {}) });
    } catch (error) {
      if (error instanceof SourcedError) throw error;
      throw toTokenError(error, access, scope);
    }
    if (!token?.token) throw new SourcedError('AZURE_TOKEN_UNAVAILABLE', `Microsoft Entra ID gave no token for ${scope} to ${access.who}`);
    context.logger.debug('entra database token minted', { host: request.host, user: request.user, identity: access.who, scope });
    return { token: new Secret(token.token, `azure-entra://${access.who}`), expiresAt: token.expiresOnTimestamp };
  }

  private credential(access: AzureAccess): Promise<TokenCredential> {
    // A promise (rejected if createCredential throws), so that concurrent calls share one credential.
    return this.credentials.getOrCreate(access.credentialKey, () => new Promise<TokenCredential>((resolve) => resolve(createCredential(access))));
  }
}

/** The cloud of an Azure Database host name (the public cloud for any other name). */
function cloudOfDatabaseHost(host: string): AzureCloud {
  const h = host.toLowerCase();
  const name = Object.entries(DATABASE_RESOURCES).find(([, r]) => r.hostSuffixes.some((s) => h.endsWith(s)))?.[0];
  return AZURE_CLOUDS.find((c) => c.name === name) ?? AZURE_CLOUDS[0];
}

function toTokenError(error: unknown, access: AzureAccess, scope: string): SourcedError {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as {
    name?: string;
    message?: string;
    statusCode?: number;
    errorResponse?: { error?: string; errorDescription?: string };
  };
  const scrub = (text: string | undefined) => scrubAzureText(text ?? '', [access.clientSecret]).slice(0, 600);
  const authority = access.authorityHost ?? 'Microsoft Entra ID';
  switch (e.name) {
    case 'AbortError':
      return new UnavailableError(SecretErrorReason.UNREACHABLE, `the token request for ${scope} was aborted before it finished`);
    case 'AuthenticationError':
    case 'AuthenticationRequiredError': {
      const oauth = e.errorResponse?.error ?? /^([a-z_]+):/.exec(e.message ?? '')?.[1];
      const description =
        e.errorResponse?.errorDescription ??
        /Description:\s*([\s\S]*?)(?:\s+-\s+(?:Correlation ID|Trace ID):|\s+Trace ID:|$)/.exec(e.message ?? '')?.[1] ??
        e.message;
      const said = `${oauth ? `${oauth}: ` : ''}${scrub(description)}`;
      if (oauth === 'temporarily_unavailable' || e.statusCode === 429)
        return new UnavailableError(SecretErrorReason.THROTTLED, `${authority} throttled the token request of ${access.who} (${said})`);
      if (oauth === 'server_error' || (e.statusCode !== undefined && e.statusCode >= 500)) {
        return new UnavailableError(SecretErrorReason.UNREACHABLE, `${authority} failed to issue a database token to ${access.who} (${said})`);
      }
      return new NotAllowedError(SecretErrorReason.INVALID_CREDENTIALS, `${authority} refused a database token (${scope}) to ${access.who} (${said})`);
    }
    case 'CredentialUnavailableError':
      return new NotAllowedError(
        SecretErrorReason.INVALID_CREDENTIALS,
        `no usable Azure credential for ${access.who} to get a database token: ${scrub(e.message)}`,
      );
    case 'AggregateAuthenticationError':
      return new NotAllowedError(
        SecretErrorReason.INVALID_CREDENTIALS,
        `the default Azure credential chain found no usable credential for a database token: ${scrub(e.message)}`,
      );
  }
  return new SourcedError(
    'AZURE_TOKEN_UNAVAILABLE',
    `could not get a Microsoft Entra ID token for ${scope} (${access.who}): ${e.name ?? 'Error'}: ${scrub(e.message)}`,
  );
}
