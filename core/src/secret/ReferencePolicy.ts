import type { DataSource, SecretInput } from '../datasource/DataSource';
import { InputError, NotAllowedError } from '../errors';
import { matchesAnyGlob } from '../util/glob';
import { chainLinks } from './chainLinks';
import { GRANT_ALL, type ChainLink, type PlannedKey, type PlannedReference, type SecretAccess, type SecretGrant, type SecretPolicy } from './chainTypes';
import { credentialRequests, pemPaths } from './credentialRequests';
import { EnvelopeKeys } from './EnvelopeKeys';
import { parseEnvelope } from './envelope';
import { fileSettingRefused, isNeverReadable, pathFormProblem } from './filePolicy';
import { parseSecretReference, type SecretReference } from './SecretProvider';

const REFERENCE_PATTERN = /^[a-z][a-z0-9+.-]*:\/\/./i;

/**
 * The secret chain's policy half: which references a call may try (the daemon's allowed
 * references, the `file://` path rules, the caller's grants) and, before anything is resolved,
 * the plan of every reference, file, dynamic variable and key a data source could need
 * ({@link ReferencePolicy.plan}). It resolves nothing; the chain asks it before each link.
 */
export class ReferencePolicy {
  constructor(
    readonly policy: SecretPolicy,
    private readonly order: readonly ChainLink[],
    /** Whether a scheme has a provider: a property value is a reference only then. */
    private readonly hasScheme: (scheme: string) => boolean,
  ) {}

  /** The plan of `SecretChain.checkPolicy` (see there): what a call for `source` could try, checked against the policy. */
  plan(source: DataSource): SecretAccess {
    const required: PlannedReference[] = [];
    const fallbacks: PlannedReference[] = [];
    const keys: PlannedKey[] = [];
    for (const { envelope, field } of EnvelopeKeys.envelopesIn(source)) {
      try {
        const header = parseEnvelope(envelope, field);
        keys.push({ key: `${header.keyProvider}:${header.keyId}`, field });
      } catch {
        // Reported when the chain opens it (the credentials check of a validation).
      }
    }
    const seen = new Set<string>();
    const add = (list: PlannedReference[], item: PlannedReference) => {
      const key = `${item.reference}\u0000${item.field}`;
      if (!seen.has(key)) list.push(item);
      seen.add(key);
    };
    for (const { ref, field } of this.referencesIn(source)) {
      this.assertAllowed(ref, field);
      add(required, { reference: ref.uri, field });
    }
    for (const { path, field } of pemPaths(source)) {
      const reference = `file://${path}`;
      if (!this.permits(reference, GRANT_ALL)) throw fileSettingRefused(field);
      add(required, { reference, field });
    }
    for (const request of credentialRequests(source)) {
      const links = chainLinks(request, this.order, this.policy);
      links.forEach((link, index) => {
        if (link.kind !== 'dynamic') return;
        const planned = { reference: `env://${link.name}`, field: 'data_source.id' };
        // The first usable link is tried for sure: it is required. A later one is a fallback.
        const first = links.findIndex((l) => l.kind !== 'unusable') === index;
        if (first) {
          if (!this.permits(planned.reference, GRANT_ALL)) {
            throw new NotAllowedError(
              'SECRET_REFERENCE_NOT_ALLOWED',
              `${planned.field}: the only way to the ${request.label} is ${planned.reference} (named after the data source's id), which the daemon's secret policy does not allow; give ${request.field} as an inline value or an allowed reference (allowed: ${this.policy.allowedReferences.join(', ') || '(none)'})`,
              { metadata: { field: planned.field } },
            );
          }
          add(required, planned);
        } else if (this.permits(planned.reference, GRANT_ALL)) {
          add(fallbacks, planned);
        }
      });
    }
    return keys.length ? { required, fallbacks, keys } : { required, fallbacks };
  }

  /**
   * Throws unless the policy allows a reference (and `grant`, the caller's grants): an
   * InputError for a `file://` reference that is not a normalised absolute path, a
   * NotAllowedError for one the policy refuses (and for /proc, /sys and /dev, always) or the
   * caller is not granted.
   */
  assertAllowed(ref: SecretReference, field: string, grant: SecretGrant = GRANT_ALL): void {
    if (ref.scheme === 'file') {
      const problem = pathFormProblem(ref.target);
      if (problem !== undefined) {
        throw new InputError(
          [
            {
              field,
              description: `${ref.uri} ${problem}; a file:// reference must be a normalised absolute path (file:///run/secrets/pg), with no '.', '..', empty segment or percent escape`,
            },
          ],
          { reason: 'SECRET_REFERENCE_INVALID', metadata: { field } },
        );
      }
      if (isNeverReadable(ref.target)) {
        throw new NotAllowedError('SECRET_REFERENCE_NOT_ALLOWED', `${field}: the daemon never reads files under /proc, /sys or /dev (${ref.uri})`, {
          metadata: { field },
        });
      }
    }
    if (!matchesAnyGlob(ref.uri, this.policy.allowedReferences)) {
      throw new NotAllowedError(
        'SECRET_REFERENCE_NOT_ALLOWED',
        `${field}: the daemon's secret policy does not allow ${ref.uri}; allowed: ${this.policy.allowedReferences.join(', ') || '(none)'}`,
        { metadata: { field } },
      );
    }
    if (!grant(ref.uri)) {
      throw new NotAllowedError('MISSING_GRANT', `${field}: the caller's roles do not grant the secret ${ref.uri}`, {
        metadata: { field, grant: 'secret', value: ref.uri },
      });
    }
  }

  /** Whether a reference (without fragment) passes the policy and `grant`, for links that are skipped rather than refused. */
  permits(reference: string, grant: SecretGrant): boolean {
    const ref = parseSecretReference(reference);
    if (!ref) return false;
    if (ref.scheme === 'file' && (pathFormProblem(ref.target) !== undefined || isNeverReadable(ref.target))) return false;
    return matchesAnyGlob(ref.uri, this.policy.allowedReferences) && grant(ref.uri);
  }

  private referencesIn(source: DataSource): { ref: SecretReference; field: string }[] {
    const out: { ref: SecretReference; field: string }[] = [];
    // Each input names its field (normalizeDataSource sets it: data_source.credentials.password, ...).
    const inputs: (SecretInput | undefined)[] = [
      source.password,
      source.ssl.key,
      source.cloud.awsAccessKeyId,
      source.cloud.awsSecretAccessKey,
      source.cloud.azureClientSecret,
    ];
    for (const input of inputs) {
      if (input?.kind === 'reference') out.push({ ref: parseSecretReference(input.reference) as SecretReference, field: input.field });
    }
    const candidates: [string | undefined, string][] = [
      [source.ssl.ca, 'data_source.ssl_config.ca'],
      [source.ssl.cert, 'data_source.ssl_config.cert'],
    ];
    for (const bag of [
      [source.connectionProperties, 'connection_properties'],
      [source.additionalProperties, 'additional_properties'],
    ] as const) {
      for (const [key, value] of Object.entries(bag[0])) if (typeof value === 'string') candidates.push([value, `data_source.${bag[1]}.${key}`]);
    }
    for (const [value, field] of candidates) {
      // A value is a reference when its scheme has a provider (an https endpoint is not).
      if (typeof value === 'string' && REFERENCE_PATTERN.test(value) && !value.includes('-----BEGIN')) {
        const ref = parseSecretReference(value);
        if (ref && this.hasScheme(ref.scheme)) out.push({ ref, field });
      }
    }
    return out;
  }
}
