import { noopLogger, Secret, type DataSource, type SecretInput, type SecretProviderContext } from '@sourced/core';

/** A normalized data source with only what the AWS provider reads: cloud settings and connection properties. */
export function awsDataSource(cloud: Partial<DataSource['cloud']> = {}, connectionProperties: Record<string, unknown> = {}): DataSource {
  return {
    id: '',
    name: '',
    type: 'postgres',
    location: 'CLOUD',
    primary: { host: 'db' },
    ssl: { mode: 'verify-full' },
    cloud: { useIamAuth: false, useManagedIdentity: false, ...cloud },
    connectionProperties,
    additionalProperties: {},
  };
}

/** Inline cloud_config keys, as the normalizer makes them. */
export function inlineKeys(accessKeyId: string, secretAccessKey: string): Pick<DataSource['cloud'], 'awsAccessKeyId' | 'awsSecretAccessKey'> {
  const inline = (value: string, field: string): SecretInput => ({ kind: 'inline', value: new Secret(value, 'inline'), field });
  return {
    awsAccessKeyId: inline(accessKeyId, 'data_source.cloud_config.aws_access_key_id'),
    awsSecretAccessKey: inline(secretAccessKey, 'data_source.cloud_config.aws_secret_access_key'),
  };
}

/** What the chain hands a provider, without the chain: inline values resolve, references do not. */
export function providerContext(source: DataSource, signal: AbortSignal = new AbortController().signal): SecretProviderContext {
  return {
    signal,
    source,
    logger: noopLogger,
    async resolveSecret(input: SecretInput) {
      if (input.kind === 'inline') return input.value;
      throw new Error(`this context resolves inline values only, not ${input.kind === 'reference' ? input.reference : 'an envelope'}`);
    },
  };
}
