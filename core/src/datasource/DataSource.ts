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
  /** Host name or IP address; empty for a file-based connector. */
  host: string;
  /** Undefined means the connector's default port. */
  port?: number;
  /** The database to connect to (for a file-based connector, the path of the database file); undefined means the server's or the user's default. */
  database?: string;
}

/**
 * A secret as the caller gave it: a reference for the secret chain, an inline value, or
 * nothing (the chain then falls back to properties). `field` is the request path
 * (`data_source.credentials.password`) used in errors.
 */
export type SecretInput =
  | { kind: 'reference'; reference: string; field: string }
  | { kind: 'inline'; value: Secret; field: string }
  /** An envelope (`sourced:enc:v1:...`, docs/encryption.md); the secret chain opens it for the call, bound to the data source's id and the field. */
  | { kind: 'encrypted'; envelope: string; field: string };

/** TLS settings after normalization. */
export interface SslSettings {
  /** How strictly TLS is used and verified; `disable` means no TLS. */
  mode: SslMode;
  /** CA certificate: inline PEM or a file path. */
  ca?: string;
  /** Client certificate: inline PEM or a file path. */
  cert?: string;
  /** Client key. */
  key?: SecretInput;
  /** Name to verify and send in SNI instead of the host; undefined means the host. */
  serverName?: string;
}

/** Cloud credentials and options. */
export interface CloudSettings {
  /** AWS region of the source and its secrets; undefined means the AWS plugin takes it from the RDS host name or secret ARN, else from `AWS_REGION`. */
  awsRegion?: string;
  /** AWS access key id (with `awsSecretAccessKey`); undefined means the daemon's default AWS credentials. */
  awsAccessKeyId?: SecretInput;
  /** AWS secret access key of `awsAccessKeyId`. */
  awsSecretAccessKey?: SecretInput;
  /** Authenticate with a database token minted from the cloud identity (`use_iam_auth`) instead of a password; requires TLS. */
  useIamAuth: boolean;
  /** Microsoft Entra tenant id (a GUID or a domain name) of the service principal. */
  azureTenantId?: string;
  /** Client id of the service principal, or of a user-assigned managed identity. */
  azureClientId?: string;
  /** Client secret of the service principal (with `azureTenantId` and `azureClientId`). */
  azureClientSecret?: SecretInput;
  /** Authenticate to Azure with the managed identity of the daemon's host. */
  useManagedIdentity: boolean;
}

/** The normalized description of a data source that connectors receive. */
export interface DataSource {
  /**
   * The caller's id of the data source; empty when none was given. It names the
   * `SOURCED_SECRET_<ID>_<LABEL>` variables of the dynamic secret look-up.
   */
  id: string;
  /** The caller's name for the data source, for messages; may be empty. */
  name: string;
  /** The connector's canonical type, for example `postgres`. */
  type: string;
  /** Where the source lives; decides TLS defaults and, for HYBRID, failover to `secondary`. */
  location: Location;
  /** The cloud that hosts it; undefined when not said. */
  cloudProvider?: CloudProvider;
  /** The endpoint connections go to first. */
  primary: Endpoint;
  /** Present exactly when location is HYBRID. */
  secondary?: Endpoint;
  /** The database user; undefined when none was given. */
  username?: string;
  /** The password as given; undefined means the secret chain looks for one in the properties (resolve it through `ConnectorContext.secrets`). */
  password?: SecretInput;
  /** TLS settings, with the mode defaulted by location. */
  ssl: SslSettings;
  /** Cloud credentials and options. */
  cloud: CloudSettings;
  /** The platform's loose connection properties, as given (connector-specific settings such as `connect_timeout_ms`). */
  connectionProperties: Record<string, unknown>;
  /** The platform's further loose properties, as given. */
  additionalProperties: Record<string, unknown>;
}

/** A secret as it arrives in a request, before normalization. */
export interface SecretValueInput {
  /** A secret reference (`env://NAME`, `aws-sm://...`) for the secret chain to resolve. */
  reference?: string;
  /** The value itself, given inline. */
  inlineValue?: string;
  /** An envelope from EncryptSecret (`sourced:enc:v1:...`). */
  encrypted?: string;
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
