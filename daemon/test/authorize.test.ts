import { describe, expect, it } from 'vitest';
import { Authorizer } from '../src/security/authorize';

const role = (secrets: string[]) => ({ rpcs: ['sourced.v1.DataSourceService/*'], connectors: ['postgres'], hosts: ['127.0.0.1'], secrets });
const RPC = 'sourced.v1.DataSourceService/ValidateDataSource';
const reader = { id: 'reader', method: 'token' as const };
const access = (required: string[], fallbacks: string[]) => ({
  type: 'postgres',
  hosts: ['127.0.0.1'],
  secrets: {
    required: required.map((reference) => ({ reference, field: 'data_source.credentials.password.reference' })),
    fallbacks: fallbacks.map((reference) => ({ reference, field: 'data_source.id' })),
  },
});

describe('Authorizer.checkSource: the secret grants a call runs under', () => {
  /** The granting role's secret globs bound every link the chain tries: a fallback it does not grant is refused by the returned grant. */
  it("returns the granting role's secret grants", () => {
    const authorizer = new Authorizer({ roles: { a: role(['env://SOURCED_SECRET_TEAM_A_*']) }, bindings: { reader: ['a'] } }, true);
    const grant = authorizer.checkSource(reader, RPC, access(['env://SOURCED_SECRET_TEAM_A_PW'], ['env://SOURCED_SECRET_TEAM_B_PASSWORD']));
    expect(grant('env://SOURCED_SECRET_TEAM_A_PW')).toBe(true);
    expect(grant('env://SOURCED_SECRET_TEAM_B_PASSWORD')).toBe(false);
  });

  /** A required reference no role grants is PERMISSION_DENIED; a fallback never is. */
  it('refuses an ungranted required reference, never an ungranted fallback', () => {
    const authorizer = new Authorizer({ roles: { a: role(['env://SOURCED_SECRET_TEAM_A_*']) }, bindings: { reader: ['a'] } }, true);
    expect(() => authorizer.checkSource(reader, RPC, access(['env://SOURCED_SECRET_TEAM_B_PASSWORD'], []))).toThrow(
      /may not use secret env:\/\/SOURCED_SECRET_TEAM_B_PASSWORD/,
    );
    expect(() => authorizer.checkSource(reader, RPC, access([], ['env://SOURCED_SECRET_TEAM_B_PASSWORD']))).not.toThrow();
  });

  /** Of two roles that grant the call, the one granting more fallbacks is taken; their grants are not combined. */
  it('takes one role, the one that grants the most fallbacks', () => {
    const authorizer = new Authorizer(
      { roles: { narrow: role(['env://SOURCED_SECRET_TEAM_A_PW']), wide: role(['env://SOURCED_SECRET_TEAM_A_*']) }, bindings: { reader: ['narrow', 'wide'] } },
      true,
    );
    const grant = authorizer.checkSource(reader, RPC, access(['env://SOURCED_SECRET_TEAM_A_PW'], ['env://SOURCED_SECRET_TEAM_A_X_PASSWORD']));
    expect(grant('env://SOURCED_SECRET_TEAM_A_X_PASSWORD')).toBe(true);
  });

  /** With authentication off, RBAC grants everything (the chain's secret policy still applies). */
  it('grants everything with authentication off', () => {
    const grant = new Authorizer({ roles: {}, bindings: {} }, false).checkSource({ id: 'anonymous', method: 'none' }, RPC, access([], []));
    expect(grant('env://ANYTHING')).toBe(true);
  });
});
