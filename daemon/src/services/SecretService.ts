import { InputError, Secret, type FieldViolation, type SecretChain } from '@sourced/core';
import type { EncryptSecretRequest, EncryptSecretResponse, ReencryptSecretRequest, ReencryptSecretResponse, SecretServiceServer } from '@sourced/api';
import { unary, type CallContext, type HandlerDeps } from '../grpc/callHandlers';
import type { Authorizer } from '../security/authorize';

const SERVICE = 'sourced.v1.SecretService';

/** Longest data source id or field accepted in a context. */
const MAX_CONTEXT = 512;

/** EncryptSecret, parsed. The value is a Secret from here on. */
interface EncryptCall {
  value: Secret;
  context: { dataSourceId: string; field: string };
  keyProvider: string;
  keyId: string;
}

/** ReencryptSecret, parsed. */
interface ReencryptCall {
  envelope: string;
  context: { dataSourceId: string; field: string };
  keyProvider: string;
  keyId: string;
}

/**
 * SecretService: envelopes for credentials encrypted at rest (docs/encryption.md). The work is
 * the secret chain's (`SecretChain.encrypt` / `reencrypt`); this is the edge: parsing, the
 * caller's key grants, the audit line's data source and key uses. Nothing is kept.
 */
export class SecretService {
  constructor(private readonly deps: { secretChain: SecretChain; authorizer: Authorizer; handlerDeps: HandlerDeps }) {}

  implementation(): SecretServiceServer {
    const h = this.deps.handlerDeps;
    return {
      encryptSecret: unary<EncryptSecretRequest, EncryptCall, EncryptSecretResponse>(h, `${SERVICE}/EncryptSecret`, parseEncrypt, (call, ctx) =>
        this.encrypt(call, ctx),
      ),
      reencryptSecret: unary<ReencryptSecretRequest, ReencryptCall, ReencryptSecretResponse>(h, `${SERVICE}/ReencryptSecret`, parseReencrypt, (call, ctx) =>
        this.reencrypt(call, ctx),
      ),
    };
  }

  private async encrypt(call: EncryptCall, ctx: CallContext): Promise<EncryptSecretResponse> {
    ctx.noteDataSource({ id: call.context.dataSourceId });
    const sealed = await this.deps.secretChain.encrypt(
      call.value,
      call.context,
      { keyProvider: call.keyProvider, keyId: call.keyId, fields: { dataSourceId: 'context.data_source_id', field: 'context.field', value: 'plaintext' } },
      ctx.signal,
      { keys: this.deps.authorizer.keyGrant(ctx.principal, ctx.rpc), onKeyUse: (use) => ctx.noteKeyUse(use) },
    );
    ctx.span.setAttributes({ 'sourced.key.provider': sealed.keyProvider, 'sourced.key.id': sealed.keyId });
    return { envelope: sealed.envelope, key: { keyProvider: sealed.keyProvider, keyId: sealed.keyId } };
  }

  private async reencrypt(call: ReencryptCall, ctx: CallContext): Promise<ReencryptSecretResponse> {
    ctx.noteDataSource({ id: call.context.dataSourceId });
    const moved = await this.deps.secretChain.reencrypt(
      call.envelope,
      call.context,
      { keyProvider: call.keyProvider, keyId: call.keyId, fields: { dataSourceId: 'context.data_source_id', field: 'context.field', envelope: 'envelope' } },
      ctx.signal,
      { keys: this.deps.authorizer.keyGrant(ctx.principal, ctx.rpc), onKeyUse: (use) => ctx.noteKeyUse(use) },
    );
    ctx.span.setAttributes({ 'sourced.key.provider': moved.to.keyProvider, 'sourced.key.id': moved.to.keyId });
    return { envelope: moved.envelope, key: moved.to, previousKey: moved.from };
  }
}

function parseContext(context: { dataSourceId: string; field: string } | undefined, v: FieldViolation[]): { dataSourceId: string; field: string } {
  const dataSourceId = context?.dataSourceId ?? '';
  const field = context?.field ?? '';
  if (!dataSourceId) v.push({ field: 'context.data_source_id', description: 'is required: an envelope is bound to the id of the data source it belongs to' });
  else if (dataSourceId.length > MAX_CONTEXT) v.push({ field: 'context.data_source_id', description: `is longer than ${MAX_CONTEXT} characters` });
  if (!field) v.push({ field: 'context.field', description: 'is required: where the envelope will be used, for example credentials.password' });
  else if (field.length > MAX_CONTEXT) v.push({ field: 'context.field', description: `is longer than ${MAX_CONTEXT} characters` });
  else if (!/^[A-Za-z0-9_.-]+$/.test(field) || field.startsWith('data_source.') || field.endsWith('.encrypted')) {
    v.push({
      field: 'context.field',
      description:
        'must be a field path inside the data source without data_source. or .encrypted, for example credentials.password or cloud_config.aws_secret_access_key',
    });
  }
  return { dataSourceId, field };
}

function keyChoice(req: { keyProvider: string; keyId: string }, v: FieldViolation[]): void {
  if (req.keyProvider && !/^[a-z][a-z0-9-]{0,63}$/.test(req.keyProvider))
    v.push({ field: 'key_provider', description: 'is not a key provider id (kebab-case, for example local or aws-kms)' });
  if (req.keyId.length > 2048) v.push({ field: 'key_id', description: 'is longer than 2048 characters' });
}

function parseEncrypt(req: EncryptSecretRequest): EncryptCall {
  const v: FieldViolation[] = [];
  const context = parseContext(req.context, v);
  keyChoice(req, v);
  if (req.plaintext === '') v.push({ field: 'plaintext', description: 'is required: the value to encrypt' });
  if (v.length) throw new InputError(v, { reason: 'INVALID_REQUEST' });
  return { value: new Secret(req.plaintext, 'EncryptSecret'), context, keyProvider: req.keyProvider, keyId: req.keyId };
}

function parseReencrypt(req: ReencryptSecretRequest): ReencryptCall {
  const v: FieldViolation[] = [];
  const context = parseContext(req.context, v);
  keyChoice(req, v);
  if (req.envelope === '') v.push({ field: 'envelope', description: 'is required: an envelope EncryptSecret returned' });
  if (v.length) throw new InputError(v, { reason: 'INVALID_REQUEST' });
  return { envelope: req.envelope, context, keyProvider: req.keyProvider, keyId: req.keyId };
}
