import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { DataSource } from '@sourced/api';

const KNOWN = new Set([
  'id',
  'name',
  'type',
  'location',
  'cloud_provider',
  'cloudProvider',
  'primary',
  'secondary',
  'credentials',
  'ssl_config',
  'sslConfig',
  'cloud_config',
  'cloudConfig',
  'connection_properties',
  'connectionProperties',
  'additional_properties',
  'additionalProperties',
]);

import { DataSourceFileError } from './errors';

export { DataSourceFileError };

/**
 * Reads a data source from a JSON or YAML file. Accepts the contract's JSON (snake_case or
 * camelCase, optionally wrapped as `{ "data_source": ... }`), enum values with or without
 * their prefix (`ON_PREM` or `LOCATION_ON_PREM`, `verify-full`), secrets as a plain string
 * (a `scheme://` reference, a `sourced:enc:` envelope, otherwise an inline value), and the platform's older shape:
 * unknown top-level fields (such as `replica_config`) move into `additional_properties`.
 */
export function readDataSourceFile(path: string): DataSource {
  let doc: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    doc = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new DataSourceFileError(`cannot read ${path}: ${(error as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new DataSourceFileError(`${path} must hold a data source object`);
  let ds = doc as Record<string, unknown>;
  if (typeof ds.data_source === 'object' && ds.data_source !== null) ds = ds.data_source as Record<string, unknown>;
  else if (typeof ds.dataSource === 'object' && ds.dataSource !== null) ds = ds.dataSource as Record<string, unknown>;
  return DataSource.fromJSON(toContractJson(ds));
}

export function toContractJson(input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) (KNOWN.has(k) ? out : extra)[k] = v;
  if (Object.keys(extra).length) {
    const ap = (out.additional_properties ?? out.additionalProperties ?? {}) as Record<string, unknown>;
    delete out.additionalProperties;
    out.additional_properties = { ...extra, ...ap };
  }
  prefix(out, 'location', 'LOCATION_');
  prefix(out, 'cloud_provider', 'CLOUD_PROVIDER_');
  prefix(out, 'cloudProvider', 'CLOUD_PROVIDER_');
  const creds = out.credentials as Record<string, unknown> | undefined;
  if (creds) creds.password = secret(creds.password);
  const ssl = (out.ssl_config ?? out.sslConfig) as Record<string, unknown> | undefined;
  if (ssl) {
    prefix(ssl, 'mode', 'SSL_MODE_');
    ssl.key = secret(ssl.key);
  }
  const cloud = (out.cloud_config ?? out.cloudConfig) as Record<string, unknown> | undefined;
  if (cloud) {
    for (const k of ['aws_access_key_id', 'awsAccessKeyId', 'aws_secret_access_key', 'awsSecretAccessKey', 'azure_client_secret', 'azureClientSecret']) {
      if (k in cloud) cloud[k] = secret(cloud[k]);
    }
  }
  return out;
}

function prefix(obj: Record<string, unknown>, key: string, p: string): void {
  const v = obj[key];
  if (typeof v !== 'string') return;
  const name = v.trim().toUpperCase().replace(/-/g, '_');
  obj[key] = name.startsWith(p) ? name : `${p}${name}`;
}

function secret(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  // An envelope from `sourced encrypt` (docs/encryption.md).
  if (value.startsWith('sourced:enc:')) return { encrypted: value };
  return /^[a-z][a-z0-9+.-]*:\/\/./i.test(value) ? { reference: value } : { inline_value: value };
}
