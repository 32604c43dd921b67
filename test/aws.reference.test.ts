import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotAllowedError, NotFoundError, SecretErrorReason, SourcedError, UnavailableError, parseSecretReference, type DataSource } from '@sourced/core';
import { assertEndpointAllowed, parseSecretsManagerReference, planLookup, scrubAwsText, toSecretError } from '../plugins/aws/src';
import { awsDataSource, inlineKeys, providerContext } from './harness/aws/providerContext';

const parse = (text: string) => parseSecretsManagerReference(parseSecretReference(text)!);
const parseError = (text: string) => {
  try {
    parse(text);
  } catch (error) {
    return (error as SourcedError).message;
  }
  throw new Error(`${text} parsed`);
};

describe('aws-sm:// references', () => {
  /** A first segment that looks like a region is the region; any other path, slashes and all, is the secret name. */
  it('tells a region prefix from a name with slashes', () => {
    expect(parse('aws-sm://prod/db/password')).toEqual({ secretId: 'prod/db/password' });
    expect(parse('aws-sm://eu-west-1/prod/db')).toEqual({ secretId: 'prod/db', region: 'eu-west-1' });
    expect(parse('aws-sm://us-gov-west-1/db')).toEqual({ secretId: 'db', region: 'us-gov-west-1' });
    expect(parse('aws-sm://eu-west-1/eu-west-1/db')).toEqual({ secretId: 'eu-west-1/db', region: 'eu-west-1' });
    expect(parse('aws-sm://eu-west-1')).toEqual({ secretId: 'eu-west-1' });
    expect(parse('aws-sm://europe-west/db')).toEqual({ secretId: 'europe-west/db' });
  });

  /** An ARN is sent as it is and brings its region; a conflicting region prefix is refused. */
  it('takes full and partial ARNs with their region', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';
    expect(parse(`aws-sm://${arn}`)).toEqual({ secretId: arn, arnRegion: 'eu-west-1' });
    expect(parse(`aws-sm://eu-west-1/${arn}?versionStage=AWSPREVIOUS`)).toEqual({
      secretId: arn,
      region: 'eu-west-1',
      arnRegion: 'eu-west-1',
      versionStage: 'AWSPREVIOUS',
    });
    expect(parseError(`aws-sm://us-east-1/${arn}`)).toContain('names region us-east-1 but the ARN is in eu-west-1');
    expect(parseError('aws-sm://arn:aws:s3:::bucket')).toContain('is not a Secrets Manager secret ARN');
  });

  /** The query names one version stage or id; anything else is refused with the fix. */
  it('reads versionStage or versionId from the query', () => {
    expect(parse('aws-sm://prod/db?versionStage=AWSPENDING')).toMatchObject({ secretId: 'prod/db', versionStage: 'AWSPENDING' });
    expect(parse('aws-sm://prod/db?VersionId=01234567-89ab-cdef-0123-456789abcdef')).toMatchObject({ versionId: '01234567-89ab-cdef-0123-456789abcdef' });
    expect(parseError('aws-sm://prod/db?versionStage=A&versionId=B')).toContain('give versionStage or versionId, not both');
    expect(parseError('aws-sm://prod/db?stage=A')).toContain('unknown query parameter "stage"');
    expect(parseError('aws-sm://prod/db?versionStage=')).toContain('versionStage needs a value');
    // the order (query after the JSON path) and the URL order mean the same
    expect(parse('aws-sm://prod/db#password?versionStage=AWSPREVIOUS')).toEqual(parse('aws-sm://prod/db?versionStage=AWSPREVIOUS#password'));
    expect(parseError('aws-sm://eu-west-1/')).toContain('names no secret');
    expect(parseError('aws-sm://prod db')).toContain('is not a secret name');
  });
});

describe('aws-sm:// look-ups', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
    delete process.env.AWS_ENDPOINT_URL;
  });
  afterEach(() => {
    process.env = { ...saved };
  });
  const plan = (ref: string, src: DataSource) => planLookup(parseSecretReference(ref)!, providerContext(src));

  /** Region precedence: reference > ARN > cloud_config.aws_region > AWS_REGION > AWS_DEFAULT_REGION; none names what to set. */
  it('chooses the region in a documented order', async () => {
    const arn = 'arn:aws:secretsmanager:ap-south-1:123456789012:secret:db';
    process.env.AWS_DEFAULT_REGION = 'ca-central-1';
    expect((await plan('aws-sm://db', awsDataSource())).region).toBe('ca-central-1');
    process.env.AWS_REGION = 'us-east-2';
    expect((await plan('aws-sm://db', awsDataSource())).region).toBe('us-east-2');
    expect((await plan('aws-sm://db', awsDataSource({ awsRegion: 'sa-east-1' }))).region).toBe('sa-east-1');
    expect((await plan(`aws-sm://${arn}`, awsDataSource({ awsRegion: 'sa-east-1' }))).region).toBe('ap-south-1');
    expect((await plan('aws-sm://eu-north-1/db', awsDataSource({ awsRegion: 'sa-east-1' }))).region).toBe('eu-north-1');
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    await expect(plan('aws-sm://db', awsDataSource())).rejects.toThrow(/no AWS region for aws-sm:\/\/db: .*cloud_config\.aws_region.*AWS_REGION/);
    await expect(plan('aws-sm://db', awsDataSource({ awsRegion: 'Europe' }))).rejects.toThrow('cloud_config.aws_region: "Europe" is not an AWS region');
  });

  /** The identity names the access key id and region, tells two secret keys apart, and never holds a secret. */
  it('keys the cache by who fetches, where', async () => {
    const a = await plan('aws-sm://eu-west-1/db', awsDataSource(inlineKeys('AKIAAAAAAAAAAAAAAAAA', 'secret-one-0000000000000000000000000000')));
    const b = await plan('aws-sm://eu-west-1/db', awsDataSource(inlineKeys('AKIAAAAAAAAAAAAAAAAA', 'secret-two-0000000000000000000000000000')));
    const c = await plan('aws-sm://eu-west-1/db', awsDataSource());
    const d = await plan('aws-sm://eu-west-1/db', awsDataSource({}, { aws_sm_endpoint: 'http://127.0.0.1:4566/' }));
    expect(a.identity).toMatch(/^AKIAAAAAAAAAAAAAAAAA#[0-9a-f]{16}@eu-west-1$/);
    expect(a.identity).not.toBe(b.identity);
    expect(a.identity).not.toContain('secret-one');
    expect(c.identity).toBe('default-chain@eu-west-1');
    expect(d.identity).toBe('default-chain@eu-west-1 via http://127.0.0.1:4566');
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = 'http://localhost:9999';
    expect((await plan('aws-sm://eu-west-1/db', awsDataSource())).identity).toBe('default-chain@eu-west-1 via http://localhost:9999');
  });

  /** A request may not send requests signed with the daemon's own credentials to a host it chose. */
  it("allows an endpoint override with the caller's keys or on a Secrets Manager host only", async () => {
    const ep = (url: string, k = {}) => plan('aws-sm://eu-west-1/db', awsDataSource(k, { aws_sm_endpoint: url }));
    await expect(ep('http://127.0.0.1:1').then(assertEndpointAllowed)).rejects.toBeInstanceOf(NotAllowedError);
    await expect(ep('https://abc.execute-api.eu-west-1.amazonaws.com').then(assertEndpointAllowed)).rejects.toThrow(/not an AWS endpoint/);
    await expect(ep('https://vpce-0a1b2c3d-x1y2z3.secretsmanager.eu-west-1.vpce.amazonaws.com').then(assertEndpointAllowed)).resolves.toBeUndefined();
    await expect(ep('https://secretsmanager-fips.us-east-1.amazonaws.com').then(assertEndpointAllowed)).resolves.toBeUndefined();
    await expect(ep('http://127.0.0.1:1', inlineKeys('AKIAAAAAAAAAAAAAAAAA', 'x'.repeat(40))).then(assertEndpointAllowed)).resolves.toBeUndefined();
    await expect(ep('ftp://x')).rejects.toThrow(/http\(s\) URL/);
    await expect(ep('https://user:pw@secretsmanager.eu-west-1.amazonaws.com')).rejects.toThrow(/without credentials/);
  });
});

describe('Secrets Manager errors', () => {
  const lookup = {
    what: 'secret prod/db (version stage AWSCURRENT) in eu-west-1',
    where: 'the eu-west-1 endpoint',
    known: ['AKIAKNOWNKEY00000000', 'known-secret-access-key-0000000000000000'],
    signal: new AbortController().signal,
  };
  const sdkError = (name: string, message: string, status?: number, extra: object = {}) =>
    Object.assign(new Error(message), {
      name,
      $fault: status && status >= 500 ? 'server' : 'client',
      $metadata: status ? { httpStatusCode: status, requestId: 'b7c1a2d4-1111-2222-3333-444455556666' } : {},
      ...extra,
    });
  const mapped = (error: unknown) => toSecretError(error, lookup) as SourcedError;

  /** Each service error lands on its stable reason and class. */
  it('maps service errors to the stable reasons', () => {
    const cases: [unknown, Function, string][] = [
      [sdkError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.", 400), NotFoundError, SecretErrorReason.NOT_FOUND],
      [
        sdkError('InvalidRequestException', "You can't perform this operation on the secret because it was marked for deletion.", 400),
        NotFoundError,
        SecretErrorReason.NOT_FOUND,
      ],
      [sdkError('AccessDeniedException', 'User: arn:aws:iam::123456789012:user/x is not authorized', 400), NotAllowedError, SecretErrorReason.ACCESS_DENIED],
      [sdkError('DecryptionFailure', 'Access to KMS is not allowed', 400), NotAllowedError, SecretErrorReason.ACCESS_DENIED],
      [
        sdkError('UnrecognizedClientException', 'The security token included in the request is invalid.', 400),
        NotAllowedError,
        SecretErrorReason.INVALID_CREDENTIALS,
      ],
      [
        sdkError('InvalidSignatureException', 'The request signature we calculated does not match', 403),
        NotAllowedError,
        SecretErrorReason.INVALID_CREDENTIALS,
      ],
      [sdkError('ExpiredTokenException', 'The security token included in the request is expired', 400), NotAllowedError, SecretErrorReason.INVALID_CREDENTIALS],
      [
        Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }),
        NotAllowedError,
        SecretErrorReason.INVALID_CREDENTIALS,
      ],
      [sdkError('ThrottlingException', 'Rate exceeded', 400), UnavailableError, SecretErrorReason.THROTTLED],
      [sdkError('TooManyRequestsException', 'slow down', 429), UnavailableError, SecretErrorReason.THROTTLED],
      [sdkError('LimitExceededException', 'limit', 400), UnavailableError, SecretErrorReason.THROTTLED],
      [sdkError('InternalServiceError', 'An error occurred on the server side.', 500), UnavailableError, SecretErrorReason.UNREACHABLE],
      [sdkError('Unknown', '<html>bad gateway</html>', 502), UnavailableError, SecretErrorReason.UNREACHABLE],
      [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', $metadata: {} }), UnavailableError, SecretErrorReason.UNREACHABLE],
      [
        Object.assign(new Error('socket hang up'), { name: 'TimeoutError', code: 'ECONNRESET', $metadata: {} }),
        UnavailableError,
        SecretErrorReason.UNREACHABLE,
      ],
    ];
    for (const [error, kind, reason] of cases) {
      const m = mapped(error);
      expect([m.constructor.name, m.reason]).toEqual([kind.name, reason]);
      expect(m.message).toContain('prod/db');
      expect(m.cause).toBeUndefined();
    }
    expect(mapped(cases[0][0]).message).toBe('AWS Secrets Manager has no secret prod/db (version stage AWSCURRENT) in eu-west-1');
    expect(mapped(cases[3][0]).message).toMatch(/kms:Decrypt/);
  });

  /** Provider text loses the canonical request, request ids, signatures, key ids, tokens and known values. */
  it('scrubs provider text', () => {
    const token = 'IQoJb3JpZ2luX2VjE' + 'A'.repeat(300);
    const text =
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.\n\nThe Canonical String for this request should have been\n'POST\n/\n\nx-amz-security-token:" +
      token +
      "\n'";
    expect(scrubAwsText(text)).toBe(
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method',
    );
    expect(scrubAwsText(`denied for ASIAABCDEFGHIJKLMNOP (Request ID: 3f1c2b7a-0000-4444-8888-123456789abc; Proxy: null)`)).toBe(
      'denied for [ACCESS_KEY_ID] (Proxy: null)',
    );
    expect(scrubAwsText(`Signature=${'a'.repeat(64)} x-amz-security-token: ${token} known-secret-access-key-0000000000000000`, lookup.known)).toBe(
      'Signature=[REDACTED] x-amz-security-token:[REDACTED] [REDACTED]',
    );
    expect(scrubAwsText('the request identity is fine')).toBe('the request identity is fine');
    const m = mapped(
      sdkError(
        'AccessDeniedException',
        `User: arn:aws:iam::123456789012:user/AKIAKNOWNKEY00000000 is not authorized. RequestId: 3f1c2b7a-0000-4444-8888-123456789abc`,
        400,
      ),
    );
    expect(m.message).not.toMatch(/AKIAKNOWNKEY|3f1c2b7a/);
  });
});
