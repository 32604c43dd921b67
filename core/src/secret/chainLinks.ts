import type { ChainLink, SecretPolicy, SecretRequest } from './chainTypes';
import { looksLikeEnvelope } from './envelope';
import { Secret } from './Secret';
import { parseSecretReference } from './SecretProvider';

/** One link of a request's chain, as the chain would try it. */
export type Link =
  | { kind: 'inline'; secret: Secret; where: string }
  | { kind: 'reference'; text: string; field: string; where?: string }
  | { kind: 'encrypted'; envelope: string; field: string; where: string }
  | { kind: 'dynamic'; name: string }
  | { kind: 'unusable'; where: string; outcome: string };

/**
 * The links of a request's chain in the configured order, without trying any: what
 * `SecretChain.resolve` walks and `ReferencePolicy.plan` plans from.
 */
export function chainLinks(request: SecretRequest, order: readonly ChainLink[], policy: SecretPolicy): Link[] {
  const { input, source } = request;
  const out: Link[] = [];
  for (const link of request.fallbacks === false ? (['reference'] as const) : order) {
    switch (link) {
      case 'reference':
        if (input?.kind === 'inline') out.push({ kind: 'inline', secret: input.value, where: 'inline' });
        else if (input?.kind === 'reference') out.push({ kind: 'reference', text: input.reference, field: input.field });
        else if (input?.kind === 'encrypted') out.push({ kind: 'encrypted', envelope: input.envelope, field: input.field, where: 'encrypted' });
        break;
      case 'connection_properties':
      case 'additional_properties': {
        const bag = link === 'connection_properties' ? source.connectionProperties : source.additionalProperties;
        for (const key of request.propertyKeys) {
          const value = bag[key];
          if (value === undefined || value === null) continue;
          const where = `${link}.${key}`;
          if (typeof value !== 'string') out.push({ kind: 'unusable', where, outcome: 'is not a string' });
          else if (looksLikeEnvelope(value)) out.push({ kind: 'encrypted', envelope: value, field: `data_source.${where}`, where });
          else if (parseSecretReference(value)) out.push({ kind: 'reference', text: value, field: `data_source.${where}`, where });
          else out.push({ kind: 'inline', secret: new Secret(value, where), where });
        }
        break;
      }
      case 'dynamic':
        if (policy.dynamicStrategies && source.id) out.push({ kind: 'dynamic', name: dynamicVariable(source.id, request.label) });
        break;
    }
  }
  return out;
}

/** The environment variable the dynamic link reads for a data source id and a secret label. */
export function dynamicVariable(id: string, label: string): string {
  return `SOURCED_SECRET_${id}_${label}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}
