import type { DataSource } from '../datasource/DataSource';

/** A parsed secret reference: `scheme://target#fragment`. */
export interface SecretReference {
  /** The reference as written, without the fragment. Safe to log: it names, never holds, a value. */
  readonly uri: string;
  /** Lower-case scheme, for example `env`, `file`, `aws-sm`. */
  readonly scheme: string;
  /** Everything between `scheme://` and `#`. */
  readonly target: string;
  /** The JSON path after `#`, if any, for picking a field from a JSON secret. */
  readonly fragment?: string;
}

/** What a provider receives with each look-up. */
export interface SecretProviderContext {
  /** Fires when the caller gives up or the provider's time limit passes; pass it to the SDK. */
  readonly signal: AbortSignal;
  /** The data source the secret is for (its cloud settings may carry provider credentials). */
  readonly source?: DataSource;
}

/**
 * Resolves secret references of one or more schemes. Registered by a plugin through
 * `registrar.registerSecretProvider`. Providers return the raw value; the chain applies
 * the `#json.path` fragment, caching, time limits, policy and tracing.
 *
 * A provider must never put a secret value into an error message.
 */
export interface SecretProvider {
  /** Kebab-case id, for example `env`, `aws-secrets-manager`. */
  readonly id: string;
  /** Schemes it resolves, for example `['env']`. A scheme has one provider. */
  readonly schemes: readonly string[];
  /** One-line description for `ListPlugins`. */
  readonly description?: string;
  /** Fetches the value a reference names. Throw a NotFoundError when it does not exist. */
  resolve(reference: SecretReference, context: SecretProviderContext): Promise<string | Uint8Array>;
}

/** Parses `scheme://target#fragment`; undefined when the text is not a reference. */
export function parseSecretReference(text: string): SecretReference | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^#]*)(?:#(.*))?$/i.exec(text.trim());
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  const target = m[2];
  const fragment = m[3] === undefined || m[3] === '' ? undefined : m[3];
  return { uri: `${scheme}://${target}`, scheme, target, fragment };
}
