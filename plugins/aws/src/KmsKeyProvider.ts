import type { KMSClient } from '@aws-sdk/client-kms';
import {
  DataKeyInvalidError,
  describeError,
  KeyAccessDeniedError,
  KeyDisabledError,
  KeyNotFoundError,
  KeyProviderMissingError,
  KeyProviderUnavailableError,
  SourcedError,
  abortedErrorFrom,
  type EncryptionContext,
  type KeyProvider,
  type KeyProviderContext,
} from '@sourced/core';
import { scrubAwsText } from './awsErrors';

type KmsSdk = typeof import('@aws-sdk/client-kms');

/** The `aws-kms` key provider's settings: `pluginSettings.aws.kms` in the daemon config. */
export interface KmsKeyProviderOptions {
  /** The key new envelopes are wrapped under: a key ARN, key id, alias name (`alias/sourced`) or alias ARN. Without it only decryption works. */
  keyId?: string;
  /** The region of the key; default: the key ARN's region, else `AWS_REGION`. */
  region?: string;
  /** Another endpoint (VPC endpoint, tests); default: the SDK's (which honours `AWS_ENDPOINT_URL_KMS`). */
  endpoint?: string;
  /** SDK attempts per call. Default 2. */
  maxAttempts?: number;
}

/** The encryption context KMS binds a data key to: the envelope's own context. */
export function kmsEncryptionContext(context: EncryptionContext): Record<string, string> {
  return { 'sourced:data_source_id': context.dataSourceId, 'sourced:field': context.field };
}

/** Reads `pluginSettings.aws.kms`; throws naming a bad setting. */
export function kmsOptionsFrom(settings: unknown): KmsKeyProviderOptions {
  const kms = (typeof settings === 'object' && settings !== null ? (settings as { kms?: unknown }).kms : undefined) ?? {};
  if (typeof kms !== 'object' || Array.isArray(kms)) throw new Error('pluginSettings.aws.kms must be an object {keyId, region, endpoint}');
  const out: KmsKeyProviderOptions = {};
  for (const name of ['keyId', 'region', 'endpoint'] as const) {
    const value = (kms as Record<string, unknown>)[name];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value === '') throw new Error(`pluginSettings.aws.kms.${name} must be a non-empty string`);
    out[name] = value;
  }
  return out;
}

/**
 * AWS KMS as a key provider (`aws-kms`): `GenerateDataKey` (AES_256) under the configured key
 * and `Decrypt`, each with the envelope's context as the KMS encryption context, so KMS itself
 * refuses a data key used for another data source or field (and CloudTrail records the
 * context). The envelope's key id is the key ARN KMS answers with. Credentials: the SDK's
 * default chain (the daemon's identity).
 */
export function createKmsKeyProvider(options: KmsKeyProviderOptions = {}): KeyProvider & { close(): void } {
  let sdk: KmsSdk | undefined;
  const clients = new Map<string, KMSClient>();
  const regionOf = (keyId: string | undefined): string | undefined => {
    const m = keyId ? /^arn:aws[a-z-]*:kms:([a-z0-9-]+):/.exec(keyId) : null;
    return m?.[1] ?? options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  };
  const client = (keyId: string | undefined, field: string): KMSClient => {
    const region = regionOf(keyId);
    if (!region) throw new KeyProviderMissingError(field, 'aws-kms', [], true);
    let c = clients.get(region);
    if (!c) {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: an optional package, loaded only when a KMS key is used
        sdk ??= require('@aws-sdk/client-kms') as KmsSdk;
      } catch (error) {
        throw new SourcedError(
          'KEY_PROVIDER_SDK_MISSING',
          `aws-kms needs the package @aws-sdk/client-kms next to @sourced/plugin-aws: ${describeError(error)}`,
        );
      }
      c = new sdk.KMSClient({ region, maxAttempts: options.maxAttempts ?? 2, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
      clients.set(region, c);
    }
    return c;
  };
  /** The SDK client() loaded: call after client(). */
  const loadedSdk = (): KmsSdk => {
    if (!sdk) throw new Error('internal error: the AWS KMS SDK was used before client() loaded it');
    return sdk;
  };
  const fail = (error: unknown, keyId: string, ctx: KeyProviderContext): Error => {
    if (ctx.signal.aborted) return abortedErrorFrom(ctx.signal);
    if (error instanceof SourcedError) return error;
    const e = (typeof error === 'object' && error !== null ? error : {}) as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const name = e.name ?? 'Error';
    const said = scrubAwsText(e.message ?? '', []);
    switch (name) {
      case 'NotFoundException':
        return new KeyNotFoundError(ctx.field, 'aws-kms', keyId);
      case 'DisabledException':
      case 'KMSInvalidStateException':
        return new KeyDisabledError(ctx.field, 'aws-kms', keyId);
      case 'InvalidCiphertextException':
      case 'IncorrectKeyException':
        return new DataKeyInvalidError(ctx.field, 'aws-kms', keyId);
      case 'AccessDeniedException':
      case 'UnrecognizedClientException':
      case 'InvalidSignatureException':
      case 'ExpiredTokenException':
        return new KeyAccessDeniedError(ctx.field, 'aws-kms', keyId, `${name}${said ? `: ${said}` : ''}`);
      default:
        return new KeyProviderUnavailableError(ctx.field, 'aws-kms', `${name}${e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : ''}`);
    }
  };
  return {
    id: 'aws-kms',
    description: 'AWS KMS data keys (GenerateDataKey/Decrypt with the encryption context)',
    currentKeyId: () => options.keyId,
    async generateDataKey(request, ctx) {
      const keyId = request.keyId ?? options.keyId;
      if (!keyId) throw new KeyProviderMissingError(ctx.field, 'aws-kms', [], true);
      try {
        const kms = client(keyId, ctx.field);
        const { GenerateDataKeyCommand } = loadedSdk();
        const out = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: kmsEncryptionContext(request.context) }), {
          abortSignal: ctx.signal,
        });
        if (!out.Plaintext || !out.CiphertextBlob || !out.KeyId)
          throw new KeyProviderUnavailableError(ctx.field, 'aws-kms', 'GenerateDataKey answered without a key');
        return { keyId: out.KeyId, plaintext: out.Plaintext, wrapped: out.CiphertextBlob };
      } catch (error) {
        throw fail(error, keyId, ctx);
      }
    },
    async decryptDataKey(request, ctx) {
      try {
        const kms = client(request.keyId, ctx.field);
        const { DecryptCommand } = loadedSdk();
        const out = await kms.send(
          new DecryptCommand({ KeyId: request.keyId, CiphertextBlob: request.wrapped, EncryptionContext: kmsEncryptionContext(request.context) }),
          { abortSignal: ctx.signal },
        );
        if (!out.Plaintext) throw new KeyProviderUnavailableError(ctx.field, 'aws-kms', 'Decrypt answered without a key');
        return out.Plaintext;
      } catch (error) {
        throw fail(error, request.keyId, ctx);
      }
    },
    close() {
      for (const c of clients.values()) c.destroy();
      clients.clear();
    },
  };
}
