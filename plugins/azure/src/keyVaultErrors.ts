import { NotAllowedError, NotFoundError, scrubSecrets, SecretErrorReason, UnavailableError, type Secret, type SourcedError } from '@sourced/core';
import type { AzureAccess } from './azureAccess';
import type { KeyVaultTarget } from './keyVaultTarget';

/** The shortest piece of a secret that is removed wherever it appears in provider text. */
const FRAGMENT_MIN = 6;
/** Provider text in a message is cut after this many characters. */
const TEXT_MAX = 400;

/**
 * Removes from Azure's error text what must not reach a caller, a log or a span: the values
 * of `secrets` and any run of six or more of their characters, masked fragments (`abc***`),
 * bearer tokens and JWTs, credential form fields, and the request, trace and correlation ids
 * and timestamps Entra ID and Key Vault add (they identify a request, not a problem).
 */
export function scrubAzureText(text: string, secrets: readonly (Secret | undefined)[] = []): string {
  let out = scrubSecrets(text, secrets);
  for (const secret of secrets) {
    const value = secret?.reveal() ?? '';
    for (let length = value.length - 1; length >= FRAGMENT_MIN; length--) {
      for (let start = 0; start + length <= value.length; start++) {
        const piece = value.slice(start, start + length);
        if (out.includes(piece)) out = out.split(piece).join('[REDACTED]');
      }
    }
  }
  return out
    .replace(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, '[REDACTED]')
    .replace(/\b(Bearer|PoP)\s+(?!\[REDACTED\])[\w~.+/=-]{8,}/gi, '$1 [REDACTED]')
    .replace(
      /\b(client_secret|access_token|refresh_token|id_token|client_assertion|assertion|password|sig)(["']?\s*[=:]\s*["']?)[^&\s"',}]+/gi,
      '$1$2[REDACTED]',
    )
    .replace(/[\w~.+/=-]{1,12}\*{3,}/g, '[REDACTED]')
    .replace(/\b(?:Trace ID|Correlation ID|Request ID|Client Request ID)\s*:\s*(?:[0-9a-f]{8}-[0-9a-f-]{27}|Not Available)/gi, '')
    .replace(/\bTimestamp\s*:\s*(?:\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?Z?|Not Available)/gi, '')
    .replace(
      /["']?\b(?:x-ms-request-id|x-ms-client-request-id|client-request-id|request-id|requestId|traceId|trace_id|correlationId|correlation_id)["']?\s*[:=]\s*["']?[0-9a-f-]{8,}["']?/gi,
      '',
    )
    .replace(/\s+-(?=\s+(?:-|$))/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** What a failed look-up was about, for the message. */
export interface LookupFacts {
  target: KeyVaultTarget;
  access: AzureAccess;
}

interface AzureErrorShape {
  name?: string;
  message?: string;
  statusCode?: number;
  code?: string;
  details?: { error?: { innererror?: { code?: string } } };
  response?: { headers?: { get?(name: string): string | undefined } };
  errorResponse?: { error?: string; errorDescription?: string };
}

/**
 * Maps what the Azure SDK threw to core's errors with a stable reason:
 * 404 → NOT_FOUND; 403 → ACCESS_DENIED; 401 and Entra's refusals (`invalid_client`,
 * `unauthorized_client`, an unavailable credential) → INVALID_CREDENTIALS; 429 and
 * `temporarily_unavailable` → THROTTLED; network failures, 5xx and anything else →
 * UNREACHABLE. Messages name the vault, secret and version, never a value, and carry the
 * provider's text only after {@link scrubAzureText}. The SDK error is not kept as `cause`:
 * its message and response hold the unscrubbed text.
 */
export function toKeyVaultError(error: unknown, facts: LookupFacts): SourcedError {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as AzureErrorShape;
  const { target, access } = facts;
  const scrub = (text: string | undefined) => {
    const clean = scrubAzureText(text ?? '', [access.clientSecret]);
    return clean.length > TEXT_MAX ? `${clean.slice(0, TEXT_MAX)}…` : clean;
  };
  const secret = `secret ${target.secretName}${target.version ? ` version ${target.version}` : ''}`;
  const vault = `vault ${target.vault}${access.vaultUrl !== target.vaultUrl ? ` (${access.vaultUrl})` : ''}`;
  const authority = access.authorityHost ?? 'Microsoft Entra ID';

  switch (e.name) {
    case 'AbortError':
      return new UnavailableError(SecretErrorReason.UNREACHABLE, `the request to ${vault} was aborted before it finished`);
    case 'AuthenticationError':
    case 'AuthenticationRequiredError': {
      const oauth = e.errorResponse?.error ?? /^([a-z_]+):/.exec(e.message ?? '')?.[1];
      const description =
        e.errorResponse?.errorDescription ?? /Description:\s*([\s\S]*?)(?:\s+-\s+(?:Correlation ID|Trace ID):|$)/.exec(e.message ?? '')?.[1] ?? e.message;
      const said = `${oauth ? `${oauth}: ` : ''}${scrub(description)}`;
      if (oauth === 'temporarily_unavailable' || e.statusCode === 429) {
        return new UnavailableError(SecretErrorReason.THROTTLED, `${authority} throttled the token request for ${access.who} (${said})`);
      }
      if (oauth === 'server_error' || (e.statusCode !== undefined && e.statusCode >= 500)) {
        return new UnavailableError(SecretErrorReason.UNREACHABLE, `${authority} failed to issue a token for ${access.who} (${said})`);
      }
      return new NotAllowedError(SecretErrorReason.INVALID_CREDENTIALS, `${authority} refused the credentials of ${access.who} (${said})`);
    }
    case 'CredentialUnavailableError': {
      const text = e.message ?? '';
      if (access.kind === 'client-secret' && /endpoints_resolution_error|network_error/.test(text)) {
        return new UnavailableError(
          SecretErrorReason.UNREACHABLE,
          `could not get a token for ${access.who} from ${authority}: it is unreachable, or it does not know tenant ${access.tenantId} (${scrub(text)})`,
        );
      }
      const tenant = /acquire tokens for tenant ([0-9a-z.-]+)/i.exec(text)?.[1];
      if (tenant) {
        return new NotAllowedError(
          SecretErrorReason.INVALID_CREDENTIALS,
          `${vault} belongs to tenant ${tenant}, but the credentials of ${access.who} are for another tenant`,
        );
      }
      return new NotAllowedError(SecretErrorReason.INVALID_CREDENTIALS, `no usable Azure credential for ${access.who}: ${scrub(text)}`);
    }
    case 'AggregateAuthenticationError':
      return new NotAllowedError(SecretErrorReason.INVALID_CREDENTIALS, `the default Azure credential chain found no usable credential: ${scrub(e.message)}`);
  }

  const status = e.statusCode;
  const code = e.code;
  const inner = e.details?.error?.innererror?.code;
  const said = scrub(e.message);
  if (status === 404) {
    return new NotFoundError(SecretErrorReason.NOT_FOUND, `${secret} was not found in ${vault}${code && code !== 'SecretNotFound' ? ` (${code})` : ''}`);
  }
  if (status === 403) {
    if (inner === 'SecretDisabled' || /disabled secret/i.test(said)) {
      return new NotAllowedError(SecretErrorReason.ACCESS_DENIED, `${secret} in ${vault} is disabled`);
    }
    return new NotAllowedError(
      SecretErrorReason.ACCESS_DENIED,
      `${access.who} may not read ${secret} in ${vault} (${code ?? 'Forbidden'}${inner && inner !== code ? `/${inner}` : ''}: ${said})`,
    );
  }
  if (status === 401) {
    return new NotAllowedError(
      SecretErrorReason.INVALID_CREDENTIALS,
      `${vault} did not accept the token of ${access.who} (${code ?? 'Unauthorized'}: ${said})`,
    );
  }
  if (status === 429) {
    const retryAfter = e.response?.headers?.get?.('retry-after');
    return new UnavailableError(
      SecretErrorReason.THROTTLED,
      `${vault} throttled the request for ${secret}${retryAfter ? ` (Retry-After: ${retryAfter} s)` : ''}`,
    );
  }
  if (status !== undefined) {
    return new UnavailableError(SecretErrorReason.UNREACHABLE, `${vault} answered ${status}${code ? ` ${code}` : ''} for ${secret}: ${said}`);
  }
  if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/i.test(code)) {
    return new UnavailableError(
      SecretErrorReason.UNREACHABLE,
      `the TLS certificate of ${access.vaultUrl} is not trusted (${code}); a vault outside Azure needs its CA in connection_properties.azure_ssl_ca`,
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new UnavailableError(SecretErrorReason.UNREACHABLE, `the host of ${vault} does not resolve (${code}); check the vault name`);
  }
  return new UnavailableError(SecretErrorReason.UNREACHABLE, `could not reach ${vault}: ${code ? `${code}: ` : ''}${said || 'unknown error'}`);
}
