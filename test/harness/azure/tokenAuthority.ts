import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/** An app registration the authority knows (a service principal with a client secret). */
export interface AzureApp {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** Whether the vault lets this app read secrets (`secrets get`); false answers 403. */
  canReadSecrets: boolean;
  /** Whether the vault lets this app use keys (get, list, wrapKey, unwrapKey); false answers 403. Default true. */
  canUseKeys?: boolean;
}

/** A token the authority issued. */
export interface IssuedToken {
  token: string;
  tenantId: string;
  clientId: string;
  scope: string;
  expiresAt: number;
  revoked: boolean;
}

/** What an HTTP handler answers. */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** The resource the vault's challenge names and tokens are issued for. */
export const VAULT_RESOURCE = 'https://vault.azure.net';

/** The resource of Azure Database for PostgreSQL and MySQL tokens (Microsoft Entra authentication). */
export const DATABASE_RESOURCE = 'https://ossrdbms-aad.database.windows.net';

/**
 * The Microsoft Entra ID side of the stand-in: the OpenID configuration MSAL reads first,
 * and a v2.0 token endpoint for the client-credentials grant with a client secret. Errors
 * are shaped like Entra's (`error`, `error_description` with an AADSTS code, trace and
 * correlation ids, timestamp), so the plugin's scrubbing meets realistic text.
 */
export class TokenAuthority {
  readonly apps = new Map<string, AzureApp>();
  readonly tokens = new Map<string, IssuedToken>();
  /** Every trace and correlation id the authority put into an error, to prove none leaks. */
  readonly errorIds: string[] = [];
  /** When set, the token issued for the database scope (so a test can make it a role's password first). */
  databaseToken?: string;

  constructor(
    private readonly baseUrl: () => string,
    private readonly tokenLifetimeSeconds: number,
  ) {}

  knowsTenant(tenantId: string): boolean {
    return [...this.apps.values()].some((a) => a.tenantId === tenantId);
  }

  /** `GET /<tenant>/v2.0/.well-known/openid-configuration`. */
  openIdConfiguration(tenantId: string): Reply {
    if (!this.knowsTenant(tenantId)) {
      return this.error(
        400,
        'invalid_tenant',
        90002,
        `Tenant '${tenantId}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      );
    }
    const base = `${this.baseUrl()}/${tenantId}`;
    return {
      status: 200,
      body: {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${base}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${base}/openid/userinfo`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'tid', 'oid'],
        tenant_region_scope: 'EU',
        cloud_instance_name: 'microsoftonline.com',
        cloud_graph_host_name: 'graph.windows.net',
        msgraph_host: 'graph.microsoft.com',
        rbac_url: 'https://pas.windows.net',
      },
    };
  }

  /** `POST /<tenant>/oauth2/v2.0/token` with an `application/x-www-form-urlencoded` body. */
  token(tenantId: string, form: URLSearchParams): Reply & { clientId?: string; grantType?: string; scope?: string } {
    const grantType = form.get('grant_type') ?? '';
    const clientId = form.get('client_id') ?? '';
    const scope = form.get('scope') ?? '';
    const facts = { clientId, grantType, scope };
    if (!this.knowsTenant(tenantId)) {
      return {
        ...facts,
        ...this.error(
          400,
          'invalid_request',
          90002,
          `Tenant '${tenantId}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
        ),
      };
    }
    if (grantType !== 'client_credentials') {
      return { ...facts, ...this.error(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType}'.`) };
    }
    const app = this.apps.get(clientId);
    if (!app || app.tenantId !== tenantId) {
      return {
        ...facts,
        ...this.error(
          400,
          'unauthorized_client',
          700016,
          `Application with identifier '${clientId}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant.`,
        ),
      };
    }
    const given = Buffer.from(form.get('client_secret') ?? '');
    const expected = Buffer.from(app.clientSecret);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return {
        ...facts,
        ...this.error(
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
        ),
      };
    }
    const asked = scope.split(' ').filter(Boolean).join(' ');
    if (asked !== `${VAULT_RESOURCE}/.default` && asked !== `${DATABASE_RESOURCE}/.default`) {
      return {
        ...facts,
        ...this.error(
          400,
          'invalid_scope',
          70011,
          `The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid: '${scope}'.`,
        ),
      };
    }
    const token = asked === `${DATABASE_RESOURCE}/.default` && this.databaseToken ? this.databaseToken : randomBytes(48).toString('base64url');
    this.tokens.set(token, { token, tenantId, clientId, scope, expiresAt: Date.now() + this.tokenLifetimeSeconds * 1000, revoked: false });
    return {
      ...facts,
      status: 200,
      body: { token_type: 'Bearer', expires_in: this.tokenLifetimeSeconds, ext_expires_in: this.tokenLifetimeSeconds, access_token: token },
    };
  }

  /** The app a valid bearer token was issued to, or why the token is not valid. */
  check(authorization: string | undefined, tenantId: string): { app?: AzureApp; problem?: string } {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) return { problem: 'AKV10000: Request is missing a Bearer or PoP token.' };
    const issued = this.tokens.get(m[1]);
    if (!issued || issued.revoked) return { problem: 'AKV10022: Invalid audience. Expected https://vault.azure.net, found: (unknown token).' };
    if (issued.scope.split(' ').filter(Boolean).join(' ') !== `${VAULT_RESOURCE}/.default`)
      return { problem: `AKV10022: Invalid audience. Expected https://vault.azure.net, found: ${DATABASE_RESOURCE}.` };
    if (issued.expiresAt <= Date.now()) return { problem: 'AKV10032: Invalid token: the token has expired.' };
    if (issued.tenantId !== tenantId) return { problem: `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${tenantId}/.` };
    const app = this.apps.get(issued.clientId);
    if (!app) return { problem: 'AKV10022: Invalid audience.' };
    return { app };
  }

  private error(status: number, error: string, code: number, description: string): Reply {
    const traceId = randomUUID();
    const correlationId = randomUUID();
    const timestamp = new Date()
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, 'Z');
    this.errorIds.push(traceId, correlationId);
    return {
      status,
      body: {
        error,
        error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
        error_codes: [code],
        timestamp,
        trace_id: traceId,
        correlation_id: correlationId,
        error_uri: `${this.baseUrl()}/error?code=${code}`,
      },
    };
  }
}
