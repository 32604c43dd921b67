import type { DataSource, Endpoint, EndpointRole } from '../datasource/DataSource';
import { InputError, SourcedError } from '../errors';
import {
  hasPassword as passwordGiven,
  passwordRequest,
  PEM_FIELDS,
  pemFileRequest,
  pemReferenceRequest,
  pemSettingKind,
  sslKeyRequest,
  wantsPassword,
  type PemLabel,
} from '../secret/credentialRequests';
import { fileSettingRefused } from '../secret/filePolicy';
import { Secret } from '../secret/Secret';
import type { ResolvedSecret } from '../secret/chainTypes';
import type { SessionSettings } from '../contract/catalog';
import type { ConnectionArgs, TlsArgs } from './ConnectionArgs';
import type { ConnectorContext } from './Connector';
import { TOKEN_PLUGIN_OF, tokenCloudOf } from './DatabaseTokenProvider';

/** What a {@link CredentialResolver} needs of the host (a connector's context). */
export type CredentialContext = Pick<ConnectorContext, 'secrets' | 'tokens' | 'applicationName' | 'targets'>;

/**
 * Core's credential service: the connection arguments of an endpoint, every credential and
 * file they name resolved under the daemon's secret and file policy. The password comes from
 * the secret chain (the request's own value, a reference, the data source's properties), or
 * is a fresh database token when `cloud_config.use_iam_auth` is set (one per physical
 * connection: tokens live minutes, discoveries longer); `ssl_ca`, `ssl_cert` and `ssl_key`
 * each come as PEM text, a secret reference, or a file path, and a path is read as a
 * `file://` look-up (the policy's allowed references, the caller's grants, the real path), so
 * a refused or unreadable path is one clear error naming the field. TLS is on unless the
 * source's `ssl.mode` is `disable`; HYBRID adds TCP keep-alive. Where each credential came from
 * and how long it took is reported for the `resolve-credentials` check, never its value.
 */
export class CredentialResolver {
  constructor(
    /** The data source whose credentials are resolved. */
    private readonly source: DataSource,
    /** The connector type, as the token providers are told. */
    private readonly connectorType: string,
    /** The host's secret chain, token minter, application name and target policy. */
    private readonly context: CredentialContext,
  ) {}

  /**
   * The connection arguments of `endpoint` (the endpoint of `role`, its port filled in), with
   * the session settings of the run (`statementTimeoutMs`) when there is one.
   */
  async connectionArgs(role: EndpointRole, endpoint: Endpoint & { port: number }, signal: AbortSignal, session?: SessionSettings): Promise<ConnectionArgs> {
    const source = this.source;
    const credentialSources: Record<string, string> = {};
    const credentialTimings: Record<string, number> = {};
    let password;
    const hasPassword = passwordGiven(source);
    if (source.cloud.useIamAuth) {
      if (!source.username) {
        throw new InputError([
          { field: 'data_source.credentials.username', description: 'is required with cloud_config.use_iam_auth (the database user the token is for)' },
        ]);
      }
      const cloud = tokenCloudOf(source);
      if (!this.context.tokens) {
        throw new SourcedError('TOKEN_PROVIDER_MISSING', `use_iam_auth needs a ${cloud} database token provider; load ${TOKEN_PLUGIN_OF[cloud]}`);
      }
      const started = performance.now();
      const minted = await this.context.tokens.mint(
        { source, host: endpoint.host, port: endpoint.port, user: source.username, connector: this.connectorType },
        signal,
      );
      password = minted.token;
      credentialSources.password = `${minted.provider} token (expires ${new Date(minted.expiresAt).toISOString()})`;
      credentialTimings.password = performance.now() - started;
    } else if (wantsPassword(source)) {
      try {
        // The requests of credentialRequests(), which the daemon checked against the policy and the caller's grants.
        const resolved = await this.context.secrets.resolve(passwordRequest(source), signal);
        password = resolved.secret;
        credentialSources.password = resolved.link;
        credentialTimings.password = resolved.durationMs;
      } catch (error) {
        if (hasPassword) throw error;
      }
    }
    let tls: TlsArgs | undefined;
    if (source.ssl.mode !== 'disable') {
      // ca, cert and key each come as PEM text, a file path, or a secret reference; a file is
      // read as a file:// reference (the policy, the caller's grants, the real path).
      const fileReader = (label: PemLabel | 'ssl_key', field: string) => (path: string) =>
        this.context.secrets.resolve(pemFileRequest(source, label, path, field), signal);
      const pemSetting = async (label: PemLabel, value: string | undefined) => {
        if (value === undefined) return undefined;
        const field = PEM_FIELDS[label];
        if (pemSettingKind(value) !== 'reference') return (await readPem(value, field, fileReader(label, field), signal)).reveal();
        const resolved = await this.context.secrets.resolve(pemReferenceRequest(source, label, value), signal);
        credentialSources[label] = resolved.link;
        credentialTimings[label] = resolved.durationMs;
        return (await readPem(resolved.secret.reveal(), field, fileReader(label, field), signal)).reveal();
      };
      let key;
      const keyRequest = sslKeyRequest(source);
      if (keyRequest) {
        const resolved = await this.context.secrets.resolve(keyRequest, signal);
        key = await keyPem(resolved.secret, keyRequest.field, fileReader('ssl_key', keyRequest.field), signal);
        credentialSources.ssl_key = resolved.link;
        credentialTimings.ssl_key = resolved.durationMs;
      }
      tls = {
        mode: source.ssl.mode,
        ca: await pemSetting('ssl_ca', source.ssl.ca),
        cert: await pemSetting('ssl_cert', source.ssl.cert),
        key,
        servername: source.ssl.serverName,
      };
    }
    const timeout = Number(source.connectionProperties.connect_timeout_ms ?? source.connectionProperties.connect_timeout_seconds ?? 0);
    return {
      role,
      host: endpoint.host,
      port: endpoint.port,
      database: endpoint.database,
      user: source.username,
      password,
      tls,
      applicationName: this.context.applicationName,
      keepAlive: source.location === 'HYBRID',
      connectTimeoutMs: 'connect_timeout_seconds' in source.connectionProperties ? timeout * 1000 : timeout > 0 ? timeout : 10_000,
      statementTimeoutMs: session?.statementTimeoutMs,
      targets: this.context.targets,
      credentialSources,
      credentialTimings,
    };
  }
}

/**
 * A PEM value given inline, or read from the file a path names through the secret chain
 * (`readFile`: a `file://` look-up under the policy and the caller's grants). Every refused
 * or unreadable path is the one {@link fileSettingRefused} error.
 */
async function readPem(value: string, field: string, readFile: (path: string) => Promise<ResolvedSecret>, signal: AbortSignal): Promise<Secret> {
  if (value.includes('-----BEGIN')) return new Secret(value, 'inline');
  try {
    return (await readFile(value.trim())).secret;
  } catch (error) {
    if (signal.aborted) throw error;
    throw fileSettingRefused(field);
  }
}

/** The client key as PEM: the secret's value, or, when that is a file path, the file's contents (still a Secret). */
async function keyPem(secret: Secret, field: string, readFile: (path: string) => Promise<ResolvedSecret>, signal: AbortSignal): Promise<Secret> {
  if (secret.reveal().includes('-----BEGIN')) return secret;
  return readPem(secret.reveal(), field, readFile, signal);
}
