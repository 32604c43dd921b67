import type { DataSource, SecretInput } from '../datasource/DataSource';
import type { SecretRequest } from './chainTypes';

/** A secret reference (`scheme://...`) as the chain takes it. */
export const SECRET_REFERENCE = /^[a-z][a-z0-9+.-]*:\/\/./i;

/** The TLS settings that are PEM text, a secret reference or a file path. */
export type PemLabel = 'ssl_ca' | 'ssl_cert';

/** The request path of each PEM setting. */
export const PEM_FIELDS: Record<PemLabel, string> = { ssl_ca: 'data_source.ssl_config.ca', ssl_cert: 'data_source.ssl_config.cert' };

/** What a PEM setting's text is: PEM itself, a secret reference, or (anything else) a file path. */
export function pemSettingKind(value: string): 'pem' | 'reference' | 'path' {
  if (value.includes('-----BEGIN')) return 'pem';
  return SECRET_REFERENCE.test(value) ? 'reference' : 'path';
}

/** Whether the connector resolves a password for this source: none with IAM tokens, else when one is given anywhere or the id may name one. */
export function wantsPassword(source: DataSource): boolean {
  if (source.cloud.useIamAuth) return false;
  return hasPassword(source) || source.id !== '';
}

/** Whether the request gives a password anywhere (credentials, or either property bag). */
export function hasPassword(source: DataSource): boolean {
  return source.password !== undefined || 'password' in source.connectionProperties || 'password' in source.additionalProperties;
}

/** The password request: the credentials field, then `password` properties, then the dynamic variable. */
export function passwordRequest(source: DataSource): SecretRequest {
  return { input: source.password, propertyKeys: ['password'], label: 'password', field: 'data_source.credentials.password', source };
}

/** The TLS client key request, when TLS is on and a key is given. */
export function sslKeyRequest(source: DataSource): SecretRequest | undefined {
  if (source.ssl.mode === 'disable' || !source.ssl.key) return undefined;
  return { input: source.ssl.key, propertyKeys: ['ssl_key'], label: 'ssl_key', field: source.ssl.key.field, source };
}

/** The request of a PEM setting given as a secret reference. */
export function pemReferenceRequest(source: DataSource, label: PemLabel, reference: string): SecretRequest {
  const field = PEM_FIELDS[label];
  const input: SecretInput = { kind: 'reference', reference, field };
  return { input, propertyKeys: [], label, field, source };
}

/**
 * The request that reads a file named by a TLS setting (`ssl_config.ca` given as a path): as
 * a `file://` reference, under the same policy and grants, with no fallback.
 */
export function pemFileRequest(source: DataSource, label: PemLabel | 'ssl_key', path: string, field: string): SecretRequest {
  return { input: { kind: 'reference', reference: `file://${path}`, field }, propertyKeys: [], label, field, source, fallbacks: false };
}

/**
 * Every secret request {@link LocationAwareConnector.connectionArgs} makes for a source, in the
 * order it makes them. The chain plans a call's references from these, so what is checked
 * before a call is what the call will try.
 */
export function credentialRequests(source: DataSource): SecretRequest[] {
  const out: SecretRequest[] = [];
  if (wantsPassword(source)) out.push(passwordRequest(source));
  if (source.ssl.mode === 'disable') return out;
  for (const label of ['ssl_ca', 'ssl_cert'] as const) {
    const value = label === 'ssl_ca' ? source.ssl.ca : source.ssl.cert;
    if (value !== undefined && pemSettingKind(value) === 'reference') out.push(pemReferenceRequest(source, label, value));
  }
  const key = sslKeyRequest(source);
  if (key) out.push(key);
  return out;
}

/**
 * The files a source's TLS settings name as paths, each with its request field: `ca` and
 * `cert` that are neither PEM nor a reference, and a client key given inline as a path.
 */
export function pemPaths(source: DataSource): { path: string; field: string }[] {
  if (source.ssl.mode === 'disable') return [];
  const out: { path: string; field: string }[] = [];
  for (const label of ['ssl_ca', 'ssl_cert'] as const) {
    const value = label === 'ssl_ca' ? source.ssl.ca : source.ssl.cert;
    if (value !== undefined && pemSettingKind(value) === 'path') out.push({ path: value.trim(), field: PEM_FIELDS[label] });
  }
  const key = source.ssl.key;
  // A key is PEM or a path (an inline value is never taken as a reference).
  if (key?.kind === 'inline' && !key.value.reveal().includes('-----BEGIN')) out.push({ path: key.value.reveal().trim(), field: key.field });
  return out;
}
