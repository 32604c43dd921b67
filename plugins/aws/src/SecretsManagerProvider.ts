import type { GetSecretValueCommandInput, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  describeError,
  NotFoundError,
  SecretErrorReason,
  SourcedError,
  type SecretProvider,
  type SecretProviderContext,
  type SecretReference,
} from '@sourced/core';
import { toSecretError } from './awsErrors';
import { assertEndpointAllowed, planLookup, type LookupPlan } from './awsLookup';

type SecretsManagerSdk = typeof import('@aws-sdk/client-secrets-manager');

export interface SecretsManagerProviderOptions {
  /**
   * SDK attempts per look-up. Default: `AWS_MAX_ATTEMPTS` when set, else 2 (one quick retry of
   * a dropped connection or a 5xx). The chain retries throttling itself, with back-off.
   */
  maxAttempts?: number;
  /** Most SDK clients kept, one per credentials, region and endpoint; the oldest is closed. Default 16. */
  maxClients?: number;
}

/** The `aws-sm://` provider, with the SDK clients it keeps. */
export interface SecretsManagerProvider extends SecretProvider {
  /** Closes every SDK client (their keep-alive sockets). */
  close(): void;
}

interface CachedClient {
  client: SecretsManagerClient;
  /** Requests under way on it. */
  inflight: number;
  /** Out of the cache: closed when its last request ends. */
  evicted: boolean;
}

let sdk: SecretsManagerSdk | undefined;

/** The SDK, loaded on first use so a daemon that never reads `aws-sm://` never pays for it. */
function loadSdk(): SecretsManagerSdk {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: an optional package, loaded only when an aws-sm:// reference is resolved
    sdk ??= require('@aws-sdk/client-secrets-manager') as SecretsManagerSdk;
    return sdk;
  } catch (error) {
    throw new SourcedError(
      'SECRET_PROVIDER_SDK_MISSING',
      `aws-sm:// needs the package @aws-sdk/client-secrets-manager next to @sourced/plugin-aws (npm install @aws-sdk/client-secrets-manager): ${describeError(error)}`,
    );
  }
}

/**
 * AWS Secrets Manager (`aws-sm://[region/]secret-id[?versionStage=…|versionId=…][#json.path]`).
 * Reads `GetSecretValue` (AWSCURRENT unless the reference names a stage or version) and
 * returns `SecretString`, or `SecretBinary` as bytes. Credentials come from `cloud_config`
 * (each key itself resolved through the chain) or the SDK's default chain; the region from
 * the reference, the ARN, `cloud_config.aws_region` or the environment; the endpoint from
 * `connection_properties.aws_sm_endpoint` or the SDK's own settings
 * (`AWS_ENDPOINT_URL_SECRETS_MANAGER`). Errors carry the stable reasons of SecretErrorReason.
 */
export function createSecretsManagerProvider(options: SecretsManagerProviderOptions = {}): SecretsManagerProvider {
  const envAttempts = Number(process.env.AWS_MAX_ATTEMPTS);
  const maxAttempts = options.maxAttempts ?? (Number.isInteger(envAttempts) && envAttempts > 0 ? envAttempts : 2);
  const maxClients = Math.max(1, options.maxClients ?? 16);
  /**
   * One client per identity (credentials, region, endpoint). Insertion order is use order: a
   * hit moves to the end, so the first is the least recently used. An evicted client is closed
   * once its last request has ended, so eviction never cuts a look-up short.
   */
  const clients = new Map<string, CachedClient>();

  const clientFor = (plan: LookupPlan, context: SecretProviderContext): CachedClient => {
    const key = plan.identity;
    const hit = clients.get(key);
    if (hit) {
      clients.delete(key);
      clients.set(key, hit);
      return hit;
    }
    const { SecretsManagerClient: Client } = loadSdk();
    const entry: CachedClient = {
      client: new Client({
        region: plan.region,
        maxAttempts,
        ...(plan.endpoint ? { endpoint: plan.endpoint } : {}),
        ...(plan.keys ? { credentials: { accessKeyId: plan.keys.accessKeyId, secretAccessKey: plan.keys.secretAccessKey } } : {}),
        customUserAgent: [['sourced-plugin-aws', '0.1.0']],
      }),
      inflight: 0,
      evicted: false,
    };
    if (clients.size >= maxClients) {
      const [oldestKey, oldest] = clients.entries().next().value as [string, CachedClient];
      clients.delete(oldestKey);
      oldest.evicted = true;
      if (oldest.inflight === 0) oldest.client.destroy();
    }
    clients.set(key, entry);
    context.logger.debug('secrets manager client created', {
      region: plan.region,
      credentials: plan.keys ? 'cloud_config' : 'default-chain',
      endpoint: plan.endpoint ?? process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER ?? process.env.AWS_ENDPOINT_URL ?? 'default',
      clients: clients.size,
    });
    return entry;
  };

  return {
    id: 'aws-secrets-manager',
    schemes: ['aws-sm'],
    description: 'AWS Secrets Manager (aws-sm://[region/]secret-id[?versionStage=…|versionId=…][#json.path])',

    async identity(reference: SecretReference, context: SecretProviderContext): Promise<string> {
      return (await planLookup(reference, context)).identity;
    },

    async resolve(reference: SecretReference, context: SecretProviderContext): Promise<string | Uint8Array> {
      const plan = await planLookup(reference, context);
      assertEndpointAllowed(plan);
      const { GetSecretValueCommand } = loadSdk();
      const input: GetSecretValueCommandInput = { SecretId: plan.ref.secretId };
      if (plan.ref.versionStage !== undefined) input.VersionStage = plan.ref.versionStage;
      if (plan.ref.versionId !== undefined) input.VersionId = plan.ref.versionId;
      const entry = clientFor(plan, context);
      let output;
      entry.inflight++;
      try {
        output = await entry.client.send(new GetSecretValueCommand(input), { abortSignal: context.signal });
      } catch (error) {
        throw toSecretError(error, {
          what: plan.what,
          where: plan.endpoint ?? `the ${plan.region} endpoint`,
          known: plan.keys ? [plan.keys.secretAccessKey, plan.keys.accessKeyId] : [],
          signal: context.signal,
        });
      } finally {
        if (--entry.inflight === 0 && entry.evicted) entry.client.destroy();
      }
      if (output.SecretString !== undefined) return output.SecretString;
      if (output.SecretBinary !== undefined) return output.SecretBinary;
      throw new NotFoundError(SecretErrorReason.NOT_FOUND, `AWS Secrets Manager returned no value for ${plan.what}`);
    },

    close(): void {
      for (const entry of clients.values()) entry.client.destroy();
      clients.clear();
    },
  };
}
