import { GRANT_ALL, matchesAnyGlob, NotAllowedError, type KeyGrant, type SecretAccess, type SecretGrant } from '@sourced/core';
import type { DaemonConfig } from '../config/DaemonConfig';
import { principalName, type Principal } from './authenticate';

/** What a role grants; every list holds globs (`*` any run, `?` one character). */
export interface Role {
  /** Full method names, for example `sourced.v1.DataSourceService/*`. */
  rpcs: string[];
  /** Connector types (canonical, for example `postgres`). */
  connectors: string[];
  /** Target host names or addresses, as the data source gives them. */
  hosts: string[];
  /** Secret references, for example `aws-sm://arn:aws:secretsmanager:*:*:secret:team-a/*`. */
  secrets: string[];
  /** Keys of envelope encryption, `<key provider>:<key id>`, for example `local:*`. Absent: none. */
  keys?: string[];
}

/** What a call asks of its data source. */
export interface SourceAccess {
  type: string;
  hosts: string[];
  /** Every secret reference the call may try (SecretChain.checkPolicy). */
  secrets: SecretAccess;
}

/**
 * Role-based access, once authentication is on: a principal may do only what one of its
 * roles grants (default deny), and a role grants a data-source call only when it grants the
 * RPC, the connector type, every host and every required secret reference together (grants
 * of two roles do not combine into one call); that role's secret grants then bound every
 * link the call's secret chain tries, fallbacks included. A refusal is PERMISSION_DENIED
 * naming the missing grant. With authentication off there are no principals to tell apart,
 * and everything is allowed (the secret policy still applies).
 */
export class Authorizer {
  // Maps, not the configuration's objects: a principal named `__proto__` or `constructor` must
  // find no binding rather than Object.prototype's members.
  private readonly roles: Map<string, Role>;
  private readonly bindings: Map<string, string[]>;

  constructor(
    rbac: DaemonConfig['rbac'],
    private readonly enabled: boolean,
  ) {
    this.roles = new Map(Object.entries(rbac.roles));
    this.bindings = new Map(Object.entries(rbac.bindings));
  }

  /**
   * The roles bound to a principal: bindings of `<method>:<name>` (`jwt:alice`, `token:ci`,
   * `mtls:worker-1`), of the bare name for a static token or a client certificate (never for
   * a JWT subject: an identity provider does not get to name the operator's principals), and
   * of `*`.
   */
  rolesOf(principal: Principal): [string, Role][] {
    const keys = [`${principal.method}:${principal.id}`, ...(principal.method === 'jwt' ? [] : [principal.id]), '*'];
    const names = keys.flatMap((k) => this.bindings.get(k) ?? []);
    return [...new Set(names)].flatMap((n) => {
      const role = this.roles.get(n);
      return role ? [[n, role] as [string, Role]] : [];
    });
  }

  /**
   * The key grants for a call that is not about a data source (EncryptSecret, ReencryptSecret):
   * the union of the `keys` of the principal's roles that grant the RPC (checkRpc ran first);
   * undefined (every key) with authentication off.
   */
  keyGrant(principal: Principal, rpc: string): KeyGrant | undefined {
    if (!this.enabled) return undefined;
    const patterns = this.rolesOf(principal)
      .filter(([, r]) => matchesAnyGlob(rpc, r.rpcs))
      .flatMap(([, r]) => r.keys ?? []);
    return (key) => matchesAnyGlob(key, patterns);
  }

  /** Throws PERMISSION_DENIED unless a role of the principal grants the RPC. */
  checkRpc(principal: Principal, rpc: string): void {
    if (!this.enabled) return;
    const roles = this.rolesOf(principal);
    if (roles.some(([, r]) => matchesAnyGlob(rpc, r.rpcs))) return;
    throw denied(principal, roles, 'rpc', rpc);
  }

  /**
   * Throws PERMISSION_DENIED unless one role grants the RPC together with everything the data
   * source requires (connector, hosts, and every required secret reference). Returns the
   * secret grants of that role, which the call's secret chain applies to every link it tries,
   * fallbacks included: a fallback the role does not grant is never tried. When several roles
   * grant the call, the one that grants the most fallbacks is taken (grants of two roles are
   * never combined).
   */
  checkSource(principal: Principal, rpc: string, access: SourceAccess): SecretGrant {
    return this.checkSourceGrants(principal, rpc, access).secrets;
  }

  /**
   * {@link checkSource}, also returning the granting role's key grants (`keys`), which bound
   * every envelope the call's chain opens; undefined (every key) with authentication off.
   */
  checkSourceGrants(principal: Principal, rpc: string, access: SourceAccess): { secrets: SecretGrant; keys?: KeyGrant } {
    if (!this.enabled) return { secrets: GRANT_ALL };
    const roles = this.rolesOf(principal).filter(([, r]) => matchesAnyGlob(rpc, r.rpcs));
    let first: { grant: string; value: string } | undefined;
    let best: { role: Role; fallbacks: number } | undefined;
    for (const [, role] of roles) {
      const missing = missingGrant(role, access);
      first ??= missing;
      if (missing) continue;
      const fallbacks = access.secrets.fallbacks.filter((f) => matchesAnyGlob(f.reference, role.secrets)).length;
      if (!best || fallbacks > best.fallbacks) best = { role, fallbacks };
    }
    if (best) {
      const patterns = best.role.secrets;
      return { secrets: (reference) => matchesAnyGlob(reference, patterns), keys: keyGrantOf(best.role) };
    }
    if (!first) throw denied(principal, this.rolesOf(principal), 'rpc', rpc);
    throw denied(principal, roles, first.grant, first.value);
  }
}

/** What a role's `keys` grant. */
function keyGrantOf(role: Role): KeyGrant {
  const patterns = role.keys ?? [];
  return (key) => matchesAnyGlob(key, patterns);
}

function missingGrant(role: Role, access: SourceAccess): { grant: string; value: string } | undefined {
  if (!matchesAnyGlob(access.type, role.connectors)) return { grant: 'connector', value: access.type };
  const host = access.hosts.find(
    (h) =>
      !matchesAnyGlob(
        h.toLowerCase(),
        role.hosts.map((p) => p.toLowerCase()),
      ),
  );
  if (host !== undefined) return { grant: 'host', value: host };
  const ref = access.secrets.required.find((r) => !matchesAnyGlob(r.reference, role.secrets));
  if (ref !== undefined) return { grant: 'secret', value: `${ref.reference} (${ref.field})` };
  const key = access.secrets.keys?.find((k) => !matchesAnyGlob(k.key, role.keys ?? []));
  if (key !== undefined) return { grant: 'key', value: `${key.key} (${key.field})` };
  return undefined;
}

function denied(principal: Principal, roles: [string, Role][], grant: string, value: string): NotAllowedError {
  const held = roles.length ? `its roles (${roles.map(([n]) => n).join(', ')}) do not grant it` : 'it has no role that grants it';
  const name = principalName(principal);
  return new NotAllowedError('MISSING_GRANT', `"${name}" may not use ${grant} ${value}: ${held}`, {
    metadata: { principal: name, grant, value },
  });
}
