import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

/** An access key the stand-in knows. */
export interface StandInAccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials: requests must carry this `x-amz-security-token`. */
  sessionToken?: string;
  /** A temporary key past its expiry: requests fail with ExpiredTokenException. */
  expired?: boolean;
  /** The IAM principal named in AccessDenied messages. Default `user/<accessKeyId>`. */
  principal?: string;
  /** Secret names (globs: `*` any run of characters) this key may read. Default: all. */
  allow?: string[];
}

/** An error as AWS sends it: the HTTP status, `__type` and message. */
export interface AwsErrorReply {
  status: number;
  type: string;
  message: string;
  /** `Message` (the service's modelled errors) or `message` (the common ones). */
  messageKey?: 'Message' | 'message';
}

export interface VerifiedRequest {
  key: StandInAccessKey;
  region: string;
  service: string;
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;._-]+),\s*Signature=([0-9a-f]{64})$/;
const FIVE_MINUTES = 5 * 60_000;

const invalidToken = (): AwsErrorReply => ({
  status: 400,
  type: 'UnrecognizedClientException',
  message: 'The security token included in the request is invalid.',
  messageKey: 'message',
});
const badSignature = (detail = ''): AwsErrorReply => ({
  status: 403,
  type: 'InvalidSignatureException',
  message:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.' +
    detail,
  messageKey: 'message',
});

/**
 * Verifies a request's SigV4 `authorization` header the way AWS does: the key must be known,
 * the credential scope must name the service and region, the date must be within five minutes,
 * and the signature must match one computed with the key's secret over the signed headers and
 * the body. `@smithy/signature-v4` trusts `x-amz-content-sha256` when it is present, so the
 * body's hash is computed here and compared with that header first.
 */
export async function verifySigV4(
  request: { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer },
  keys: ReadonlyMap<string, StandInAccessKey>,
  expected: { region: string; service: string },
  now = Date.now(),
): Promise<VerifiedRequest | AwsErrorReply> {
  const authorization = header(request.headers, 'authorization');
  if (!authorization) return { status: 400, type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token', messageKey: 'message' };
  const m = AUTHORIZATION.exec(authorization);
  if (!m) {
    return {
      status: 400,
      type: 'IncompleteSignatureException',
      message: `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.`,
      messageKey: 'message',
    };
  }
  const [, accessKeyId, shortDate, region, service, signedHeaderList, signature] = m;
  const key = keys.get(accessKeyId);
  if (!key) return invalidToken();

  const amzDate = header(request.headers, 'x-amz-date');
  const signingDate = amzDate ? parseAmzDate(amzDate) : undefined;
  if (!amzDate || !signingDate)
    return {
      status: 400,
      type: 'IncompleteSignatureException',
      message: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
      messageKey: 'message',
    };
  if (amzDate.slice(0, 8) !== shortDate)
    return badSignature(
      ` Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${shortDate}' != '${amzDate.slice(0, 8)}'`,
    );
  if (Math.abs(now - signingDate.getTime()) > FIVE_MINUTES) {
    return badSignature(` Signature expired: ${amzDate} is now earlier or later than the allowed window (5 min.)`);
  }
  if (service !== expected.service) return badSignature(` Credential should be scoped to correct service: '${expected.service}'.`);
  if (region !== expected.region) return badSignature(` Credential should be scoped to a valid region, not '${region}'.`);

  const signed = signedHeaderList.split(';');
  if (!signed.includes('host') || !signed.includes('x-amz-date')) return badSignature(' SignedHeaders must include host and x-amz-date.');
  if (key.sessionToken !== undefined) {
    if (header(request.headers, 'x-amz-security-token') !== key.sessionToken) return invalidToken();
    if (key.expired)
      return { status: 400, type: 'ExpiredTokenException', message: 'The security token included in the request is expired', messageKey: 'message' };
  } else if (header(request.headers, 'x-amz-security-token') !== undefined) {
    return invalidToken();
  }

  // The body is what the signature covers: never trust a declared hash.
  const bodyHash = createHash('sha256').update(request.body).digest('hex');
  const declared = header(request.headers, 'x-amz-content-sha256');
  if (declared !== undefined && declared !== bodyHash) return badSignature(' The provided x-amz-content-sha256 header does not match the request body.');

  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = header(request.headers, name);
    if (value === undefined) return badSignature(` Signed header ${name} is missing from the request.`);
    headers[name] = value;
  }
  const url = new URL(request.url, 'http://stand-in');
  const query: Record<string, string | string[]> = {};
  for (const name of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(name);
    query[name] = values.length === 1 ? values[0] : values;
  }
  const [hostname, port] = (headers.host ?? '').split(':');
  const signer = new SignatureV4({
    service,
    region,
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, sessionToken: key.sessionToken },
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: false,
  });
  const resigned = await signer.sign(
    { method: request.method, protocol: 'http:', hostname, port: port ? Number(port) : undefined, path: url.pathname, query, headers, body: request.body },
    { signingDate, signingRegion: region, signingService: service, signableHeaders: new Set(signed) },
  );
  const expectedAuthorization = String(resigned.headers.authorization ?? '');
  const expectedSignature = /Signature=([0-9a-f]{64})$/.exec(expectedAuthorization)?.[1] ?? '';
  const expectedSigned = /SignedHeaders=([^,]+)/.exec(expectedAuthorization)?.[1] ?? '';
  if (expectedSigned !== signedHeaderList || !timingSafeEqual(Buffer.from(expectedSignature.padEnd(64, '0')), Buffer.from(signature))) {
    // AWS appends what it computed; a client must never show this text (it holds signed
    // headers such as the session token). The provider's scrubber is tested against it.
    const canonical = [request.method, url.pathname, url.search.slice(1), ...signed.map((n) => `${n}:${headers[n]}`), '', signedHeaderList, bodyHash].join(
      '\n',
    );
    return badSignature(
      `\n\nThe Canonical String for this request should have been\n'${canonical}'\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n${amzDate}\n${shortDate}/${region}/${service}/aws4_request\n${createHash('sha256').update(canonical).digest('hex')}'\n`,
    );
  }
  return { key, region, service };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(',') : value;
}

/** `20240102T030405Z` → Date. */
function parseAmzDate(text: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return undefined;
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}
