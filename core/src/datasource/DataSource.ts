import type { Secret } from '../secret/Secret';

/** Where a data source lives. */
export type Location = 'ON_PREM' | 'CLOUD' | 'HYBRID';
/** The cloud that hosts a data source. */
export type CloudProvider = 'AWS' | 'AZURE' | 'GCP' | 'OTHER';
/** TLS strictness, with libpq's meanings. */
export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';
/** Which endpoint of a data source. */
export type EndpointRole = 'PRIMARY' | 'SECONDARY';

/** A network endpoint. */
export interface Endpoint {
  host: string;
  /** Undefined means the connector's default port. */
  port?: number;
  database?: string;
}

/**
 * A secret as the caller gave it: a reference for the secret chain, an inline value, or
 * nothing (the chain then falls back to properties). `field` is the request path
 * (`data_source.credentials.password`) used in errors.
 */
export type SecretInput =
  | { kind: 'reference'; reference: string; field: string }
  | { kind: 'inline'; value: Secret; field: string };

/** TLS settings after normalization. */
export interface SslSettings {
  mode: SslMode;
  /** CA certificate: inline PEM or a file path. */
  ca?: string;
  /** Client certificate: inline PEM or a file path. */
  cert?: string;
  /** Client key. */
  key?: SecretInput;
  serverName?: string;
}

/** Cloud credentials and options. */
export interface CloudSettings {
  awsRegion?: string;
  awsAccessKeyId?: SecretInput;
  awsSecretAccessKey?: SecretInput;
  useIamAuth: boolean;
  azureTenantId?: string;
  azureClientId?: string;
  azureClientSecret?: SecretInput;
  useManagedIdentity: boolean;
}

/** The normalized description of a data source that connectors receive. */
export interface DataSource {
  id: string;
  name: string;
  /** The connector's canonical type, for example `postgres`. */
  type: string;
  location: Location;
  cloudProvider?: CloudProvider;
  primary: Endpoint;
  /** Present exactly when location is HYBRID. */
  secondary?: Endpoint;
  username?: string;
  password?: SecretInput;
  ssl: SslSettings;
  cloud: CloudSettings;
  connectionProperties: Record<string, unknown>;
  additionalProperties: Record<string, unknown>;
}

/** A secret as it arrives in a request, before normalization. */
export interface SecretValueInput {
  reference?: string;
  inlineValue?: string;
}

/** An endpoint as it arrives in a request. */
export interface EndpointInput {
  host?: string;
  port?: number;
  database?: string;
}

/**
 * A data source as it arrives: the typed fields of the contract (enum values by name,
 * with or without their `LOCATION_`/`CLOUD_PROVIDER_`/`SSL_MODE_` prefix) plus the
 * platform's loose properties.
 */
export interface DataSourceInput {
  id?: string;
  name?: string;
  type?: string;
  location?: string;
  cloudProvider?: string;
  primary?: EndpointInput;
  secondary?: EndpointInput;
  credentials?: { username?: string; password?: SecretValueInput };
  sslConfig?: { mode?: string; ca?: string; cert?: string; key?: SecretValueInput; serverName?: string };
  cloudConfig?: {
    awsRegion?: string;
    awsAccessKeyId?: SecretValueInput;
    awsSecretAccessKey?: SecretValueInput;
    useIamAuth?: boolean;
    azureTenantId?: string;
    azureClientId?: string;
    azureClientSecret?: SecretValueInput;
    useManagedIdentity?: boolean;
  };
  connectionProperties?: Record<string, unknown>;
  additionalProperties?: Record<string, unknown>;
}
