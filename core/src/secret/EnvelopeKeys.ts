import type { Tracer } from '@opentelemetry/api';
import type { DataSource } from '../datasource/DataSource';
import { InputError, NotAllowedError, SourcedError, throwIfAborted } from '../errors';
import type { Logger } from '../logging/Logger';
import { withSpan } from '../telemetry/withSpan';
import type { CallKeyOptions, KeyUseRecord } from './chainTypes';
import {
  checkContext,
  looksLikeEnvelope,
  openParsed,
  parseEnvelope,
  reencryptEnvelope,
  sealEnvelope,
  type EnvelopeHeader,
  type KeyProviders,
} from './envelope';
import { KeyProviderMissingError } from './envelopeErrors';
import type { EncryptionContext, KeyProvider, KeyProviderContext } from './KeyProvider';
import type { Secret } from './Secret';

/**
 * The secret chain's envelope keys (issue 20): the key providers a daemon loaded, and every use
 * of them — EncryptSecret, ReencryptSecret and opening an envelope a data source carries for one
 * call. Each use checks the caller's key grant, runs under the provider time limit and the
 * caller's signal, is traced (provider and key id only) and is reported to `onKeyUse` for the
 * audit line with how it ended. Values are never kept.
 */
export class EnvelopeKeys {
  private readonly providers = new Map<string, KeyProvider>();

  constructor(
    providers: readonly KeyProvider[],
    private readonly defaultProvider: string,
    private readonly providerTimeoutMs: number,
    private readonly logger: Logger,
    private readonly tracer?: Tracer,
  ) {
    for (const provider of providers) {
      if (this.providers.has(provider.id)) throw new Error(`key provider "${provider.id}" is registered twice`);
      this.providers.set(provider.id, provider);
    }
  }

  /** The key providers loaded, by id. */
  ids(): string[] {
    return [...this.providers.keys()].sort();
  }

  /**
   * Encrypts a value into an envelope bound to `context` (EncryptSecret), under `keyProvider`'s
   * (default: the chain's default) current key or `keyId`. `fields` are the request paths errors
   * name. The key grant is checked once the key is known; the value is never kept.
   */
  async encrypt(
    value: Secret,
    context: EncryptionContext,
    options: { keyProvider?: string; keyId?: string; fields: { dataSourceId: string; field: string; value: string } },
    signal: AbortSignal,
    call: CallKeyOptions = {},
  ): Promise<{ envelope: string; keyProvider: string; keyId: string }> {
    checkContext(context, options.fields);
    const name = options.keyProvider || this.defaultProvider;
    const use: KeyUseRecord = { operation: 'encrypt', keyProvider: name, keyId: options.keyId || 'current', outcome: 'OK' };
    return this.recorded(use, call, async () => {
      const provider = this.providers.get(name);
      if (!provider) throw new KeyProviderMissingError(options.fields.value, name, this.ids());
      const keyId = options.keyId || provider.currentKeyId?.();
      if (keyId !== undefined) {
        use.keyId = keyId;
        this.assertKeyGranted(name, keyId, options.fields.value, call);
      }
      const sealed = await this.withKeySpan('sourced.envelope.seal', use, signal, options.fields.value, (ctx) =>
        sealEnvelope(value, context, provider, ctx, { keyId }),
      );
      use.keyId = sealed.keyId;
      this.assertKeyGranted(sealed.keyProvider, sealed.keyId, options.fields.value, call);
      return sealed;
    });
  }

  /**
   * Moves an envelope to a key provider's current key (or `keyId`) for the same context
   * (ReencryptSecret); the value never leaves the chain. Both keys must be granted.
   */
  async reencrypt(
    envelope: string,
    context: EncryptionContext,
    options: { keyProvider?: string; keyId?: string; fields: { dataSourceId: string; field: string; envelope: string } },
    signal: AbortSignal,
    call: CallKeyOptions = {},
  ): Promise<{ envelope: string; from: { keyProvider: string; keyId: string }; to: { keyProvider: string; keyId: string } }> {
    checkContext(context, options.fields);
    const field = options.fields.envelope;
    const use: KeyUseRecord = { operation: 'reencrypt', keyProvider: 'unknown', keyId: 'unknown', outcome: 'OK' };
    return this.recorded(use, call, async () => {
      const header = parseEnvelope(envelope, field);
      Object.assign(use, { keyProvider: header.keyProvider, keyId: header.keyId });
      this.assertKeyGranted(header.keyProvider, header.keyId, field, call);
      const target = options.keyProvider || header.keyProvider;
      const targetProvider = this.providers.get(target);
      const targetKey = options.keyId || targetProvider?.currentKeyId?.();
      if (targetProvider && targetKey !== undefined) this.assertKeyGranted(target, targetKey, field, call);
      const moved = await this.withKeySpan('sourced.envelope.reencrypt', use, signal, field, (ctx) =>
        reencryptEnvelope(envelope, context, this.keyProviderLookup(), ctx, {
          keyProvider: options.keyProvider || undefined,
          keyId: options.keyId || undefined,
        }),
      );
      this.assertKeyGranted(moved.to.keyProvider, moved.to.keyId, field, call);
      // Recorded as the key it moved to; the audit line's other use names the key it came from.
      call.onKeyUse?.({ operation: 'decrypt', keyProvider: moved.from.keyProvider, keyId: moved.from.keyId, outcome: 'OK' });
      Object.assign(use, moved.to);
      return moved;
    });
  }

  /** Opens an envelope for a data source's field: the context is the source's id and the field's path. */
  async open(
    envelope: string,
    field: string,
    source: DataSource,
    signal: AbortSignal,
    call: CallKeyOptions,
    label: string,
  ): Promise<{ secret: Secret; keyProvider: string; keyId: string }> {
    const use: KeyUseRecord = { operation: 'decrypt', keyProvider: 'unknown', keyId: 'unknown', outcome: 'OK' };
    return this.recorded(use, call, async () => {
      const header: EnvelopeHeader = parseEnvelope(envelope, field);
      Object.assign(use, { keyProvider: header.keyProvider, keyId: header.keyId });
      if (!source.id) {
        throw new InputError(
          [{ field: 'data_source.id', description: `is required with an encrypted secret (${field}): the envelope is bound to the data source's id` }],
          {
            reason: 'ENCRYPTION_CONTEXT_INVALID',
            metadata: { field: 'data_source.id', hint: 'Send the same data source id the envelope was encrypted for (EncryptSecret context.data_source_id).' },
          },
        );
      }
      this.assertKeyGranted(header.keyProvider, header.keyId, field, call);
      const context = { dataSourceId: source.id, field: bindingField(field) };
      return this.withKeySpan('sourced.envelope.open', use, signal, field, (ctx) => openParsed(header, context, this.keyProviderLookup(), ctx, label));
    });
  }

  private keyProviderLookup(): KeyProviders {
    return { get: (name) => this.providers.get(name), names: () => this.ids() };
  }

  private assertKeyGranted(keyProvider: string, keyId: string, field: string, call: CallKeyOptions): void {
    const key = `${keyProvider}:${keyId}`;
    if (call.keys && !call.keys(key)) {
      throw new NotAllowedError('MISSING_GRANT', `${field}: the caller's roles do not grant the key ${key}`, {
        metadata: { field, grant: 'key', value: key, hint: `Ask the operator for a role whose keys include ${key} (rbac.roles.<role>.keys).` },
      });
    }
  }

  /** Runs a key operation, then tells `call.onKeyUse` how it ended (the error's reason, or OK). */
  private async recorded<T>(use: KeyUseRecord, call: CallKeyOptions, run: () => Promise<T>): Promise<T> {
    try {
      const result = await run();
      call.onKeyUse?.({ ...use });
      return result;
    } catch (error) {
      call.onKeyUse?.({ ...use, outcome: error instanceof SourcedError ? error.reason : 'ERROR' });
      throw error;
    }
  }

  /** A key provider call under the provider time limit and the caller's signal, traced (provider and key id only). */
  private async withKeySpan<T>(name: string, use: KeyUseRecord, signal: AbortSignal, field: string, run: (ctx: KeyProviderContext) => Promise<T>): Promise<T> {
    throwIfAborted(signal);
    const ctx: KeyProviderContext = {
      signal: AbortSignal.any([signal, AbortSignal.timeout(this.providerTimeoutMs)]),
      logger: this.logger.child({ key_provider: use.keyProvider }),
      field,
    };
    const call = async () => {
      try {
        return await run(ctx);
      } catch (error) {
        throwIfAborted(signal);
        throw error;
      }
    };
    if (!this.tracer) return call();
    return withSpan(this.tracer, name, { 'sourced.key.provider': use.keyProvider, 'sourced.key.id': use.keyId, 'sourced.secret.field': field }, call);
  }

  /** Every envelope a source carries, with its request path: the typed secret fields and the property values that are envelopes. */
  static envelopesIn(source: DataSource): { envelope: string; field: string }[] {
    const out: { envelope: string; field: string }[] = [];
    for (const input of [source.password, source.ssl.key, source.cloud.awsAccessKeyId, source.cloud.awsSecretAccessKey, source.cloud.azureClientSecret]) {
      if (input?.kind === 'encrypted') out.push({ envelope: input.envelope, field: input.field });
    }
    for (const [bag, name] of [
      [source.connectionProperties, 'connection_properties'],
      [source.additionalProperties, 'additional_properties'],
    ] as const) {
      for (const [key, value] of Object.entries(bag))
        if (typeof value === 'string' && looksLikeEnvelope(value)) out.push({ envelope: value, field: `data_source.${name}.${key}` });
    }
    return out;
  }
}

/** The context field of an envelope at a request path: `data_source.credentials.password.encrypted` → `credentials.password`. */
export function bindingField(field: string): string {
  return field.replace(/^data_source\./, '').replace(/\.encrypted$/, '');
}
