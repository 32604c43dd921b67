import { describe, expect, it } from 'vitest';
import type { Connector } from '../src';
import { NotAllowedError } from '../src';
import { columnMasker, refuseSystemTable } from '../src/preview/systemTables';

/** A connector that knows one system schema and one credential column; nothing else is called. */
const connector = {
  source: { type: 'postgres' },
  isSystemTable: (t: { schema: string }) => t.schema === 'pg_catalog',
  credentialColumns: (t: { schema: string; name: string }) => (t.name === 'pg_authid' ? ['rolPassword'] : []),
} as unknown as Connector;
const authid = { schema: 'pg_catalog', name: 'pg_authid' };
const masks = { maskColumns: ['*secret*'], maskTypes: ['bytea'] };

describe('system tables and credential columns', () => {
  /** Refused by default with PERMISSION_DENIED's error, naming the setting; allowed when the settings say so; user tables always pass. */
  it('refuses system tables unless allowed', () => {
    expect(() => refuseSystemTable(connector, authid, {}, 'preview')).toThrow(NotAllowedError);
    try {
      refuseSystemTable(connector, authid, { allowSystemSchemas: false }, 'profile');
    } catch (error) {
      expect((error as NotAllowedError).reason).toBe('SYSTEM_TABLE_NOT_ALLOWED');
      expect((error as NotAllowedError).metadata).toEqual({ schema: 'pg_catalog', table: 'pg_authid', setting: 'preview.allowSystemSchemas' });
      expect((error as Error).message).toContain('does not profile pg_catalog.pg_authid');
    }
    expect(() => refuseSystemTable(connector, authid, { allowSystemSchemas: true }, 'preview')).not.toThrow();
    expect(() => refuseSystemTable(connector, { schema: 'public', name: 'pg_authid' }, {}, 'preview')).not.toThrow();
    // a connector that says nothing about system tables treats every table as a user table
    expect(() => refuseSystemTable({ source: { type: 'x' } } as unknown as Connector, authid, {}, 'preview')).not.toThrow();
  });

  /** Credential columns are masked (case-insensitively) besides the globs, unless maskCredentialColumns is false. */
  it('masks credential columns besides the globs', () => {
    const masked = columnMasker(connector, authid, masks);
    expect(masked('rolpassword')).toBe(true);
    expect(masked('ROLPASSWORD')).toBe(true);
    expect(masked('my_secret')).toBe(true);
    expect(masked('blob', 'BYTEA')).toBe(true);
    expect(masked('rolname', 'name')).toBe(false);
    const unmasked = columnMasker(connector, authid, { ...masks, maskCredentialColumns: false });
    expect(unmasked('rolpassword')).toBe(false);
    expect(columnMasker(connector, { schema: 'public', name: 't' }, masks)('rolpassword')).toBe(false);
  });
});
