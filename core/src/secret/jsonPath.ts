import { NotFoundError } from '../errors';

/**
 * Picks a field from a JSON secret by a dotted path (`password`, `db.primary.password`,
 * `hosts.0`). The error names the path and the secret, never the value.
 */
export function pickJsonPath(text: string, path: string, uri: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new NotFoundError('SECRET_NOT_JSON', `secret ${uri} is not JSON, so #${path} cannot be read from it`);
  }
  let node: unknown = doc;
  for (const part of path.split('.')) {
    if (node !== null && typeof node === 'object' && Object.prototype.hasOwnProperty.call(node, part)) {
      node = (node as Record<string, unknown>)[part];
    } else {
      throw new NotFoundError('SECRET_FIELD_NOT_FOUND', `secret ${uri} has no field "${path}"`);
    }
  }
  if (typeof node === 'string') return node;
  if (typeof node === 'number' || typeof node === 'boolean') return String(node);
  throw new NotFoundError('SECRET_FIELD_NOT_FOUND', `field "${path}" of secret ${uri} is not a string`);
}
