import { InputError, type FieldViolation } from '../errors';
import { Secret } from '../secret/Secret';
import type {
  CloudProvider,
  CloudSettings,
  DataSource,
  DataSourceInput,
  Endpoint,
  EndpointInput,
  Location,
  SecretInput,
  SecretValueInput,
  SslMode,
} from './DataSource';

/** What the normalizer needs to know about the loaded connectors. */
export interface ConnectorTypeResolver {
  /** The canonical type for a name or alias, or undefined when no connector has it. */
  resolve(type: string): string | undefined;
  /** Canonical types of every loaded connector, for the error message. */
  known(): string[];
  /** How a connector type's sources are addressed ({@link ConnectorDefinition.addressing}); `network` when not said. */
  addressing?(type: string): 'network' | 'file';
}

const ROOT = 'data_source';
const LOCATIONS: Location[] = ['ON_PREM', 'CLOUD', 'HYBRID'];
const PROVIDERS: CloudProvider[] = ['AWS', 'AZURE', 'GCP', 'OTHER'];
const SSL_MODES: SslMode[] = ['disable', 'require', 'verify-ca', 'verify-full'];

type Loose = Record<string, unknown>;

/**
 * Turns a data source as it arrives (typed fields plus the platform's loose JSON in
 * `connection_properties`/`additional_properties`) into the one shape connectors read.
 * A typed field always wins over a loose one. Every inconsistency is reported at once,
 * each with the exact request path, as an {@link InputError}.
 */
export function normalizeDataSource(input: DataSourceInput | undefined, connectors: ConnectorTypeResolver): DataSource {
  const v: FieldViolation[] = [];
  if (!input) throw new InputError([{ field: ROOT, description: 'is required' }], { reason: 'DATA_SOURCE_REQUIRED' });
  const cp: Loose = isObject(input.connectionProperties) ? input.connectionProperties : {};
  const ap: Loose = isObject(input.additionalProperties) ? input.additionalProperties : {};
  const cpPath = `${ROOT}.connection_properties`;

  // type
  let type = '';
  const rawType = nonEmpty(input.type) ?? str(cp.type);
  if (!rawType) {
    v.push({ field: `${ROOT}.type`, description: `is required; loaded connectors: ${listOf(connectors.known())}` });
  } else {
    const resolved = connectors.resolve(rawType.trim().toLowerCase());
    if (!resolved) {
      v.push({
        field: `${ROOT}.type`,
        description: `unknown connector type "${rawType}"; loaded connectors: ${listOf(connectors.known())}`,
      });
    } else type = resolved;
  }

  // location and provider
  const location =
    parseEnum(input.location, 'LOCATION_', LOCATIONS, `${ROOT}.location`, v) ??
    parseEnum(str(cp.location), 'LOCATION_', LOCATIONS, `${cpPath}.location`, v) ??
    'ON_PREM';
  const cloudProvider =
    parseEnum(input.cloudProvider, 'CLOUD_PROVIDER_', PROVIDERS, `${ROOT}.cloud_provider`, v) ??
    parseEnum(str(cp.cloud_provider), 'CLOUD_PROVIDER_', PROVIDERS, `${cpPath}.cloud_provider`, v);

  // endpoints
  const primary = endpoint(input.primary, { host: cp.host ?? cp.hostname, port: cp.port, database: cp.database ?? cp.dbname }, `${ROOT}.primary`, cpPath, v);
  const fileBased = type !== '' && connectors.addressing?.(type) === 'file';
  if (fileBased) {
    // A file-based source (SQLite) is a path on the daemon's host: no host, no failover.
    if (!primary.database) v.push({ field: `${ROOT}.primary.database`, description: `is required for ${type}: the path of the database file` });
    if (primary.host)
      v.push({ field: `${ROOT}.primary.host`, description: `is not used by ${type}, whose sources are files; give the path in primary.database` });
  } else if (!primary.host) {
    v.push({ field: `${ROOT}.primary.host`, description: 'is required (or connection_properties.host)' });
  }

  const replica = isObject(cp.replica_config) ? cp.replica_config : isObject(ap.replica_config) ? ap.replica_config : undefined;
  const replicaPath = isObject(cp.replica_config) ? `${cpPath}.replica_config` : `${ROOT}.additional_properties.replica_config`;
  let secondary: Endpoint | undefined;
  const typedSecondary = hasEndpoint(input.secondary);
  if (location === 'HYBRID' && fileBased) {
    v.push({ field: `${ROOT}.location`, description: `HYBRID needs a network endpoint; ${type} sources are files` });
  } else if (location === 'HYBRID') {
    if (typedSecondary || replica) {
      secondary = endpoint(
        input.secondary,
        replica ? { host: replica.host ?? replica.hostname, port: replica.port, database: replica.database ?? replica.dbname } : {},
        `${ROOT}.secondary`,
        replicaPath,
        v,
      );
      if (!secondary.host) v.push({ field: `${ROOT}.secondary.host`, description: 'is required for a HYBRID data source' });
      if (secondary.database === undefined) secondary.database = primary.database;
    } else {
      v.push({
        field: `${ROOT}.secondary`,
        description: 'is required when location is HYBRID (the failover endpoint); or give connection_properties.replica_config',
      });
    }
  } else if (typedSecondary) {
    v.push({ field: `${ROOT}.secondary`, description: `is only allowed when location is HYBRID, not ${location}` });
  }

  // credentials
  const username = nonEmpty(input.credentials?.username) ?? str(cp.username) ?? str(cp.user);
  const password = secretInput(input.credentials?.password, `${ROOT}.credentials.password`, v);

  // TLS
  const ssl = input.sslConfig ?? {};
  const sslPath = `${ROOT}.ssl_config`;
  const ca = nonEmpty(ssl.ca) ?? str(cp.ssl_ca) ?? str(cp.sslrootcert);
  const cert = nonEmpty(ssl.cert) ?? str(cp.ssl_cert) ?? str(cp.sslcert);
  const key = secretInput(ssl.key, `${sslPath}.key`, v) ?? looseSecret(cp.ssl_key ?? cp.sslkey, `${cpPath}.ssl_key`);
  const explicitMode = parseSslMode(ssl.mode, `${sslPath}.mode`, v) ?? parseSslMode(str(cp.ssl_mode) ?? str(cp.sslmode), `${cpPath}.ssl_mode`, v);
  let mode: SslMode;
  if (explicitMode) mode = explicitMode;
  else if (cp.ssl === true) mode = 'require';
  else if (location !== 'ON_PREM' || ca || cert) mode = 'verify-full';
  else mode = 'disable';
  if (cert && !key) v.push({ field: `${sslPath}.key`, description: 'is required when a client certificate (ssl_config.cert) is given' });
  if (key && !cert) v.push({ field: `${sslPath}.cert`, description: 'is required when a client key (ssl_config.key) is given' });
  if (mode === 'disable' && (ca || cert) && explicitMode) {
    v.push({ field: `${sslPath}.mode`, description: 'is SSL_MODE_DISABLE, but a CA or client certificate is given' });
  }

  // cloud
  const cc = input.cloudConfig ?? {};
  const lc: Loose = isObject(cp.cloud_config) ? cp.cloud_config : {};
  const ccPath = `${ROOT}.cloud_config`;
  const lcPath = `${cpPath}.cloud_config`;
  const cloud: CloudSettings = {
    awsRegion: nonEmpty(cc.awsRegion) ?? str(lc.aws_region),
    awsAccessKeyId: secretInput(cc.awsAccessKeyId, `${ccPath}.aws_access_key_id`, v) ?? looseSecret(lc.aws_access_key_id, `${lcPath}.aws_access_key_id`),
    awsSecretAccessKey:
      secretInput(cc.awsSecretAccessKey, `${ccPath}.aws_secret_access_key`, v) ?? looseSecret(lc.aws_secret_access_key, `${lcPath}.aws_secret_access_key`),
    useIamAuth: cc.useIamAuth === true || lc.use_iam_auth === true,
    azureTenantId: nonEmpty(cc.azureTenantId) ?? str(lc.azure_tenant_id),
    azureClientId: nonEmpty(cc.azureClientId) ?? str(lc.azure_client_id),
    azureClientSecret:
      secretInput(cc.azureClientSecret, `${ccPath}.azure_client_secret`, v) ?? looseSecret(lc.azure_client_secret, `${lcPath}.azure_client_secret`),
    useManagedIdentity: cc.useManagedIdentity === true || lc.use_managed_identity === true,
  };
  if (cloud.useIamAuth && mode === 'disable') {
    v.push({ field: `${sslPath}.mode`, description: 'is SSL_MODE_DISABLE, but cloud_config.use_iam_auth sends a token as the password: TLS is required' });
  }
  if (cloud.useIamAuth && input.credentials?.password) {
    v.push({ field: `${ROOT}.credentials.password`, description: 'must be empty with cloud_config.use_iam_auth (a token is minted for every connection)' });
  }
  if (cloud.awsAccessKeyId && !cloud.awsSecretAccessKey) {
    v.push({ field: `${ccPath}.aws_secret_access_key`, description: 'is required with aws_access_key_id' });
  }

  if (v.length > 0) throw new InputError(v);
  return {
    id: input.id ?? '',
    name: input.name ?? '',
    type,
    location,
    cloudProvider,
    primary,
    secondary,
    username,
    password,
    ssl: { mode, ca, cert, key, serverName: nonEmpty(ssl.serverName) ?? str(cp.ssl_server_name) },
    cloud,
    connectionProperties: cp,
    additionalProperties: ap,
  };
}

function endpoint(typed: EndpointInput | undefined, loose: Loose, path: string, loosePath: string, v: FieldViolation[]): Endpoint {
  const host = nonEmpty(typed?.host) ?? str(loose.host);
  if (host !== undefined && !/^[A-Za-z0-9._:%\-[\]]+$/.test(host)) {
    v.push({
      field: typed?.host ? `${path}.host` : `${loosePath}.host`,
      description: `"${host.slice(0, 80)}" is not a host name or IP address (give the bare host, without scheme, port or path)`,
    });
  }
  let port: number | undefined;
  if (typed?.port) port = typed.port;
  else if (loose.port !== undefined && loose.port !== null && loose.port !== '') {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- loose JSON: any value may arrive; an object or a list reads as its default text, which is no port number and is reported as given
    const text = String(loose.port);
    const n = typeof loose.port === 'number' ? loose.port : Number(text);
    if (!Number.isInteger(n)) v.push({ field: `${loosePath}.port`, description: `"${text}" is not a port number` });
    else port = n;
  }
  if (port !== undefined && (port < 1 || port > 65535)) {
    v.push({ field: typed?.port ? `${path}.port` : `${loosePath}.port`, description: `${port} is not a TCP port (1-65535)` });
  }
  const database = nonEmpty(typed?.database) ?? str(loose.database);
  return { host: host ?? '', port, database };
}

function hasEndpoint(e: EndpointInput | undefined): boolean {
  return !!e && (!!e.host || !!e.port || !!e.database);
}

function secretInput(value: SecretValueInput | undefined, field: string, v: FieldViolation[]): SecretInput | undefined {
  if (!value) return undefined;
  if (value.reference !== undefined && value.reference !== '') {
    if (!/^[a-z][a-z0-9+.-]*:\/\/./i.test(value.reference)) {
      v.push({
        field: `${field}.reference`,
        description: 'is not a secret reference; expected scheme://path, for example env://SOURCED_SECRET_PG_PASSWORD',
      });
      return undefined;
    }
    return { kind: 'reference', reference: value.reference, field: `${field}.reference` };
  }
  if (value.inlineValue !== undefined) {
    return { kind: 'inline', value: new Secret(value.inlineValue, 'inline'), field: `${field}.inline_value` };
  }
  // Checked when the chain opens it, so that validation reports a bad envelope as its credentials check.
  if (value.encrypted !== undefined) return { kind: 'encrypted', envelope: value.encrypted, field: `${field}.encrypted` };
  return undefined;
}

/** A loose property that holds a secret: a reference when it looks like one, else the value. */
function looseSecret(value: unknown, field: string): SecretInput | undefined {
  const s = str(value);
  if (s === undefined) return undefined;
  if (s.startsWith('sourced:enc:')) return { kind: 'encrypted', envelope: s, field };
  if (/^[a-z][a-z0-9+.-]*:\/\/./i.test(s) && !s.startsWith('-----')) return { kind: 'reference', reference: s, field };
  return { kind: 'inline', value: new Secret(s, 'property'), field };
}

function parseEnum<T extends string>(raw: string | undefined, prefix: string, allowed: readonly T[], field: string, v: FieldViolation[]): T | undefined {
  if (raw === undefined || raw === '') return undefined;
  const name = raw.trim().toUpperCase().replace(/-/g, '_');
  const bare = name.startsWith(prefix) ? name.slice(prefix.length) : name;
  if (bare === 'UNSPECIFIED') return undefined;
  const match = bare === 'ONPREM' ? ('ON_PREM' as T) : allowed.find((a) => a === bare);
  if (!match) v.push({ field, description: `"${raw}" is not one of ${allowed.join(', ')}` });
  return match;
}

function parseSslMode(raw: string | undefined, field: string, v: FieldViolation[]): SslMode | undefined {
  if (raw === undefined || raw === '') return undefined;
  const name = raw
    .trim()
    .toLowerCase()
    .replace(/^ssl_mode_/, '')
    .replace(/_/g, '-');
  if (name === 'unspecified') return undefined;
  const match = SSL_MODES.find((m) => m === name);
  if (!match) v.push({ field, description: `"${raw}" is not one of ${SSL_MODES.join(', ')}` });
  return match;
}

function isObject(value: unknown): value is Loose {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function listOf(items: string[]): string {
  return items.length === 0 ? '(none)' : items.join(', ');
}
