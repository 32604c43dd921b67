/**
 * @sourced/plugin-aws: the AWS cloud provider plugin of sourced. Registers the AWS Secrets
 * Manager secret provider (`aws-sm://`). Load it as a plugin (the default export) or build a
 * provider with {@link createSecretsManagerProvider}.
 */
import { definePlugin } from '@sourced/core';
import { createSecretsManagerProvider } from './SecretsManagerProvider';
import { createKmsKeyProvider, kmsOptionsFrom } from './KmsKeyProvider';
import { RdsIamTokenProvider } from './rdsIamTokens';

/** The plugin: one Secrets Manager provider (with its own SDK clients) per daemon that loads it. */
export default definePlugin({
  id: 'aws',
  version: '0.1.0',
  sdk: '^1.0.0',
  description: 'AWS: Secrets Manager secrets (aws-sm://), RDS IAM database tokens, KMS data keys (aws-kms)',
  register(r) {
    r.registerSecretProvider(createSecretsManagerProvider());
    r.registerDatabaseTokenProvider(new RdsIamTokenProvider());
    // Envelope encryption (docs/encryption.md): pluginSettings.aws.kms.keyId names the key new envelopes use.
    r.registerKeyProvider(createKmsKeyProvider(kmsOptionsFrom(r.settings)));
  },
});

export { createSecretsManagerProvider, type SecretsManagerProvider, type SecretsManagerProviderOptions } from './SecretsManagerProvider';
export { parseSecretsManagerReference, describeSecret, AWS_REGION_PATTERN, INVALID_REFERENCE, type SecretsManagerReference } from './secretsManagerReference';
export { toSecretError, scrubAwsText, type FailedLookup } from './awsErrors';
export { planLookup, assertEndpointAllowed, ENDPOINT_PROPERTY, type LookupPlan, type StaticKeys } from './awsLookup';
export { RdsIamTokenProvider, RDS_TOKEN_LIFETIME_MS } from './rdsIamTokens';
export { createKmsKeyProvider, kmsEncryptionContext, kmsOptionsFrom, type KmsKeyProviderOptions } from './KmsKeyProvider';
