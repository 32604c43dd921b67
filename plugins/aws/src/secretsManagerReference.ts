import { InputError, type SecretReference } from '@sourced/core';

/** Reason of a reference the provider cannot read (bad syntax, conflicting regions). */
export const INVALID_REFERENCE = 'SECRET_REFERENCE_INVALID';

/**
 * An AWS region name: two letters, dash-separated words, a number (`eu-west-1`,
 * `us-gov-west-1`, `ap-southeast-4`). A reference whose first path segment looks like this
 * names the region there.
 */
export const AWS_REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;

const ARN_PATTERN = /^arn:(aws[a-z-]*):secretsmanager:([a-z0-9-]+):(\d{12}):secret:(.+)$/;
/** What Secrets Manager accepts in a secret name. */
const NAME_PATTERN = /^[A-Za-z0-9/_+=.@!-]{1,512}$/;

/** An `aws-sm://` reference, taken apart. */
export interface SecretsManagerReference {
  /** What goes to the service as `SecretId`: a name (`prod/db`) or an ARN. */
  secretId: string;
  /** The region written as the reference's first segment. */
  region?: string;
  /** The region of an ARN secret id. */
  arnRegion?: string;
  versionStage?: string;
  versionId?: string;
}

/**
 * Parses `aws-sm://[region/]secret-id[?versionStage=…|versionId=…]` (the chain has already
 * split off `#json.path`). The first segment is a region when it looks like one
 * ({@link AWS_REGION_PATTERN}) and more follows it; otherwise the whole path is the secret
 * id, slashes included. So `aws-sm://prod/db/password` is the secret `prod/db/password` and
 * `aws-sm://eu-west-1/prod/db` the secret `prod/db` in eu-west-1; a secret whose own name
 * begins with a region-like segment is written with its region in front
 * (`aws-sm://eu-west-1/eu-west-1/db`) or as its ARN. The query takes one of `versionStage`
 * and `versionId` (either case of the first letter); without it the service returns
 * AWSCURRENT.
 */
export function parseSecretsManagerReference(reference: SecretReference): SecretsManagerReference {
  const where = reference.uri;
  const q = reference.target.indexOf('?');
  const path = q < 0 ? reference.target : reference.target.slice(0, q);
  const query = q < 0 ? '' : reference.target.slice(q + 1);

  let region: string | undefined;
  let secretId = path;
  const slash = path.indexOf('/');
  if (slash > 0 && slash < path.length - 1 && AWS_REGION_PATTERN.test(path.slice(0, slash))) {
    region = path.slice(0, slash);
    secretId = path.slice(slash + 1);
  }
  if (secretId === '' || (slash > 0 && slash === path.length - 1 && AWS_REGION_PATTERN.test(path.slice(0, slash)))) {
    throw invalid(`${where} names no secret; write aws-sm://[region/]secret-name or aws-sm://<secret ARN>`);
  }

  let arnRegion: string | undefined;
  if (secretId.startsWith('arn:')) {
    const arn = ARN_PATTERN.exec(secretId);
    if (!arn) throw invalid(`${where}: "${secretId}" is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)`);
    arnRegion = arn[2];
    if (region && region !== arnRegion) {
      throw invalid(`${where}: the reference names region ${region} but the ARN is in ${arnRegion}; leave the region out`);
    }
  } else if (!NAME_PATTERN.test(secretId)) {
    throw invalid(`${where}: "${secretId.slice(0, 100)}" is not a secret name (1 to 512 letters, digits and / _ + = . @ ! -) or ARN`);
  }

  const parsed: SecretsManagerReference = { secretId, region, arnRegion };
  if (query !== '') {
    for (const pair of query.split('&')) {
      const eq = pair.indexOf('=');
      const key = eq < 0 ? pair : pair.slice(0, eq);
      let value: string;
      try {
        value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
      } catch {
        throw invalid(`${where}: the value of ${key} is not valid percent-encoding`);
      }
      const field = key === 'versionStage' || key === 'VersionStage' ? 'versionStage' : key === 'versionId' || key === 'VersionId' ? 'versionId' : undefined;
      if (!field) throw invalid(`${where}: unknown query parameter "${key}"; use versionStage or versionId`);
      if (value === '') throw invalid(`${where}: ${field} needs a value`);
      if (parsed[field] !== undefined) throw invalid(`${where}: ${field} is given twice`);
      parsed[field] = value;
    }
    if (parsed.versionStage !== undefined && parsed.versionId !== undefined) {
      throw invalid(`${where}: give versionStage or versionId, not both`);
    }
  }
  return parsed;
}

/** `prod/db (version stage AWSPREVIOUS)`, for messages. Never a value. */
export function describeSecret(ref: SecretsManagerReference, region: string): string {
  const version = ref.versionId !== undefined ? `version ${ref.versionId}` : `version stage ${ref.versionStage ?? 'AWSCURRENT'}`;
  return `secret ${ref.secretId} (${version}) in ${region}`;
}

/** A malformed reference: INVALID_ARGUMENT naming the reference, with reason SECRET_REFERENCE_INVALID (as the Key Vault provider). */
function invalid(description: string): InputError {
  return new InputError([{ field: 'reference', description }], { reason: INVALID_REFERENCE });
}
