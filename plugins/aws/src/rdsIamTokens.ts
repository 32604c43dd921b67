import { Signer } from '@aws-sdk/rds-signer';
import { Secret, SourcedError, type DatabaseToken, type DatabaseTokenContext, type DatabaseTokenProvider, type DatabaseTokenRequest } from '@sourced/core';
import { scrubAwsText } from './awsErrors';
import { AWS_REGION_PATTERN } from './secretsManagerReference';

/** How long RDS accepts an IAM authentication token for a new connection. */
export const RDS_TOKEN_LIFETIME_MS = 15 * 60 * 1000;

/** The region in an RDS or Aurora endpoint name (`<name>.<id>.<region>.rds.amazonaws.com`). */
const RDS_HOST_REGION = /\.([a-z]{2}(?:-[a-z]+)+-\d+)\.rds\.amazonaws\.com(?:\.cn)?$/i;

/**
 * RDS IAM database authentication tokens (`aws-rds-iam`): a SigV4-presigned
 * `rds-db:connect` URL for the endpoint and database user, valid 15 minutes, minted with
 * `@aws-sdk/rds-signer` for every physical connection. Signing is local; only the default
 * credential chain (instance roles, SSO) may call out.
 *
 * Credentials: `cloud_config.aws_access_key_id` and `aws_secret_access_key` (each resolved
 * through the secret chain), else the SDK's default chain. Region: `cloud_config.aws_region`,
 * the region in an `*.rds.amazonaws.com` host name, `AWS_REGION`, `AWS_DEFAULT_REGION`.
 */
export class RdsIamTokenProvider implements DatabaseTokenProvider {
  readonly id = 'aws-rds-iam';
  readonly cloud = 'AWS' as const;
  readonly description = '@sourced/plugin-aws: RDS IAM authentication tokens';

  async mint(request: DatabaseTokenRequest, context: DatabaseTokenContext): Promise<DatabaseToken> {
    context.signal.throwIfAborted();
    const cloud = request.source.cloud;
    const region = chooseRegion(request.host, cloud.awsRegion);

    let credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
    if (cloud.awsAccessKeyId) {
      if (!cloud.awsSecretAccessKey)
        throw new SourcedError('AWS_CREDENTIALS_INCOMPLETE', 'cloud_config.aws_access_key_id is given without aws_secret_access_key');
      const [id, secret] = await Promise.all([
        context.resolveSecret(cloud.awsAccessKeyId, 'aws_access_key_id'),
        context.resolveSecret(cloud.awsSecretAccessKey, 'aws_secret_access_key'),
      ]);
      credentials = { accessKeyId: id.reveal().trim(), secretAccessKey: secret.reveal().trim() };
      if (!credentials.accessKeyId || !credentials.secretAccessKey) {
        throw new SourcedError('AWS_CREDENTIALS_INCOMPLETE', 'cloud_config.aws_access_key_id or aws_secret_access_key resolved to an empty value');
      }
    } else if (cloud.awsSecretAccessKey) {
      throw new SourcedError('AWS_CREDENTIALS_INCOMPLETE', 'cloud_config.aws_secret_access_key is given without aws_access_key_id');
    }

    // The token is valid 15 minutes from its X-Amz-Date, which the signer takes from Date.now().
    const signedAt = Date.now();
    let token: string;
    try {
      const signer = new Signer({ hostname: request.host, port: request.port, username: request.user, region, ...(credentials ? { credentials } : {}) });
      token = await signer.getAuthToken();
    } catch (error) {
      const text = scrubAwsText(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
      throw new SourcedError(
        'AWS_CREDENTIALS_UNAVAILABLE',
        `could not sign an RDS IAM token for ${request.user}@${request.host}:${request.port} in ${region} (${credentials ? 'cloud_config keys' : "the daemon's default AWS credential chain"}): ${text}`,
      );
    }
    context.signal.throwIfAborted();
    context.logger.debug('rds iam token minted', {
      host: request.host,
      port: request.port,
      user: request.user,
      region,
      credentials: credentials ? 'cloud_config' : 'default-chain',
    });
    return { token: new Secret(token, `aws-rds-iam://${request.host}:${request.port}/${request.user}`), expiresAt: signedAt + RDS_TOKEN_LIFETIME_MS };
  }
}

function chooseRegion(host: string, configured: string | undefined): string {
  const candidates: [string | undefined, string][] = [
    [configured?.trim() || undefined, 'cloud_config.aws_region'],
    [RDS_HOST_REGION.exec(host)?.[1]?.toLowerCase(), `the host name ${host}`],
    [process.env.AWS_REGION?.trim() || undefined, 'AWS_REGION'],
    [process.env.AWS_DEFAULT_REGION?.trim() || undefined, 'AWS_DEFAULT_REGION'],
  ];
  const found = candidates.find(([value]) => value !== undefined);
  if (!found) {
    throw new SourcedError(
      'AWS_REGION_MISSING',
      `no AWS region for the RDS IAM token of ${host}: set cloud_config.aws_region, or set AWS_REGION for the daemon`,
    );
  }
  const [region, from] = found as [string, string];
  if (!AWS_REGION_PATTERN.test(region))
    throw new SourcedError('AWS_REGION_INVALID', `${from}: "${region.slice(0, 40)}" is not an AWS region (for example eu-west-1)`);
  return region;
}
