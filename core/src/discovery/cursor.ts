import { InputError } from '../errors';
import type { RelationKey } from './entities';

/**
 * Discovery cursors are opaque to callers: base64url of a small JSON document naming the
 * last relation sent. The version field lets a later daemon refuse a cursor it cannot honour.
 */
export function encodeCursor(key: RelationKey): string {
  return Buffer.from(JSON.stringify({ v: 1, s: key.schema, n: key.name })).toString('base64url');
}

/** Decodes a cursor; a malformed one is an InputError on `field`. */
export function decodeCursor(cursor: string, field = 'resume_after'): RelationKey {
  try {
    const doc = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { v?: unknown; s?: unknown; n?: unknown };
    if (doc.v === 1 && typeof doc.s === 'string' && typeof doc.n === 'string') return { schema: doc.s, name: doc.n };
  } catch {
    // reported below
  }
  throw new InputError([{ field, description: 'is not a cursor from a DiscoveryBatch of this daemon' }], { reason: 'INVALID_CURSOR' });
}
