import { createHmac, randomBytes } from 'node:crypto';
import { NotAllowedError, SourcedError, type SecretProviderContext, type SecretReference } from '@sourced/core';
import { AWS_REGION_PATTERN, describeSecret, parseSecretsManagerReference, type SecretsManagerReference } from './secretsManagerReference';

/**
 * The connection property that overrides the Secrets Manager endpoint (VPC endpoints, tests).
 * Not `aws_secrets_manager_endpoint`: the chain's policy treats a `scheme://` value of any
 * property whose name contains "secret" as a secret reference and refuses the URL.
 */
export const ENDPOINT_PROPERTY = 'aws_sm_endpoint';

/**
 * Secrets Manager's own hosts (regional, FIPS, dual-stack, VPC interface endpoints): the only
 * ones a request may name when the daemon's own credentials sign the call. Not any
 * `*.amazonaws.com`: API Gateway hosts there would hand the signed headers to their owner.
 */
const SECRETS_MANAGER_HOST = /^([a-z0-9-]+\.)?secretsmanager(-fips)?\.[a-z]{2}(-[a-z]+)+-\d+\.(vpce\.)?(amazonaws\.com(\.cn)?|api\.aws)$/;

/** Static keys from `cloud_config`. */
export interface StaticKeys {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Everything one look-up needs: what to ask, where, and as whom. */
export interface LookupPlan {
  ref: SecretsManagerReference;
  region: string;
  /** The endpoint from `connection_properties`, if any (else the SDK's, which honours `AWS_ENDPOINT_URL_SECRETS_MANAGER`). */
  endpoint?: string;
  /** Undefined: the SDK's default credential chain. */
  keys?: StaticKeys;
  /** Who fetches, for the chain's cache key: never a secret. */
  identity: string;
  /** `secret prod/db (version stage AWSCURRENT) in eu-west-1`, for messages. */
  what: string;
}

/** Per-process key of the fingerprints that tell two secret access keys apart without holding either. */
const FINGERPRINT_KEY = randomBytes(32);

/**
 * Works out a look-up from the reference and the data source. The region is, in order: the
 * reference's region segment, the ARN's region, `cloud_config.aws_region`, `AWS_REGION`,
 * `AWS_DEFAULT_REGION`. Credentials are `cloud_config.aws_access_key_id` and
 * `aws_secret_access_key` (each resolved through the chain), else the SDK's default chain.
 */
export async function planLookup(reference: SecretReference, context: SecretProviderContext): Promise<LookupPlan> {
  const ref = parseSecretsManagerReference(reference);
  const cloud = context.source?.cloud;
  const region = chooseRegion(ref, reference.uri, cloud?.awsRegion);

  let keys: StaticKeys | undefined;
  if (cloud?.awsAccessKeyId) {
    if (!cloud.awsSecretAccessKey)
      throw new SourcedError('AWS_CREDENTIALS_INCOMPLETE', 'cloud_config.aws_access_key_id is given without aws_secret_access_key');
    const [id, secret] = await Promise.all([
      context.resolveSecret(cloud.awsAccessKeyId, 'aws_access_key_id'),
      context.resolveSecret(cloud.awsSecretAccessKey, 'aws_secret_access_key'),
    ]);
    keys = { accessKeyId: id.reveal().trim(), secretAccessKey: secret.reveal().trim() };
    if (!keys.accessKeyId || !keys.secretAccessKey)
      throw new SourcedError('AWS_CREDENTIALS_INCOMPLETE', 'cloud_config.aws_access_key_id or aws_secret_access_key resolved to an empty value');
  } else if (cloud?.awsSecretAccessKey) {
    throw new SourcedError('AWS_CREDENTIALS_INCOMPLETE', 'cloud_config.aws_secret_access_key is given without aws_access_key_id');
  }

  const endpoint = endpointOverride(context);
  // The endpoint is part of who fetches: the same name at another endpoint is another secret.
  const target = endpoint ?? process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER ?? process.env.AWS_ENDPOINT_URL ?? '';
  const who = keys ? `${keys.accessKeyId}#${fingerprint(keys.secretAccessKey)}` : 'default-chain';
  return { ref, region, endpoint, keys, identity: `${who}@${region}${target ? ` via ${target}` : ''}`, what: describeSecret(ref, region) };
}

/**
 * A request may point the provider at its own endpoint only when its own keys sign the call,
 * or at an AWS host over HTTPS (a VPC endpoint): otherwise the daemon would send requests
 * signed with its own credentials (and their session token) to a host of the caller's choosing.
 */
export function assertEndpointAllowed(plan: LookupPlan): void {
  if (!plan.endpoint || plan.keys) return;
  const url = new URL(plan.endpoint);
  if (url.protocol === 'https:' && SECRETS_MANAGER_HOST.test(url.hostname)) return;
  const field = `data_source.connection_properties.${ENDPOINT_PROPERTY}`;
  throw new NotAllowedError(
    'SECRET_REFERENCE_NOT_ALLOWED',
    `${field}: ${url.origin} is not an AWS endpoint, and the daemon's own AWS credentials are only sent to Secrets Manager's own https endpoints; give cloud_config.aws_access_key_id and aws_secret_access_key for this endpoint, or have the operator set AWS_ENDPOINT_URL_SECRETS_MANAGER`,
    { metadata: { field } },
  );
}

function chooseRegion(ref: SecretsManagerReference, uri: string, configured: string | undefined): string {
  const candidates: [string | undefined, string][] = [
    [ref.region, 'the reference'],
    [ref.arnRegion, 'the ARN'],
    [configured?.trim() || undefined, 'cloud_config.aws_region'],
    [process.env.AWS_REGION?.trim() || undefined, 'AWS_REGION'],
    [process.env.AWS_DEFAULT_REGION?.trim() || undefined, 'AWS_DEFAULT_REGION'],
  ];
  const found = candidates.find(([value]) => value !== undefined);
  if (!found) {
    throw new SourcedError(
      'AWS_REGION_MISSING',
      `no AWS region for ${uri}: write it in the reference (aws-sm://eu-west-1/<secret>), use the secret's ARN, set cloud_config.aws_region, or set AWS_REGION for the daemon`,
    );
  }
  const [region, from] = found as [string, string];
  if (!AWS_REGION_PATTERN.test(region))
    throw new SourcedError('AWS_REGION_INVALID', `${from}: "${region.slice(0, 40)}" is not an AWS region (for example eu-west-1)`);
  return region;
}

function endpointOverride(context: SecretProviderContext): string | undefined {
  const value = context.source?.connectionProperties[ENDPOINT_PROPERTY];
  if (value === undefined || value === null || value === '') return undefined;
  const field = `connection_properties.${ENDPOINT_PROPERTY}`;
  // A Struct value may be a number, a list or an object: shown as its JSON, and not a URL.
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SourcedError('AWS_ENDPOINT_INVALID', `${field}: "${text.slice(0, 100)}" is not a URL (https://host[:port])`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.search || url.hash) {
    throw new SourcedError('AWS_ENDPOINT_INVALID', `${field}: give an http(s) URL without credentials, query or fragment`);
  }
  return url.href.replace(/\/$/, '');
}

function fingerprint(secretAccessKey: string): string {
  return createHmac('sha256', FINGERPRINT_KEY).update(secretAccessKey).digest('hex').slice(0, 16);
}
