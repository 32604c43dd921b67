import { randomBytes } from 'node:crypto';
import type { AzureApp, Reply } from './tokenAuthority';

/** One version of a secret. */
export interface SecretVersion {
  version: string;
  value: string;
  contentType?: string;
  enabled: boolean;
  created: number;
}

/** Options of {@link VaultStore.set}. */
export interface SetSecretOptions {
  contentType?: string;
  enabled?: boolean;
}

/** Key Vault's secret names: 1–127 letters, digits and dashes. */
const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;

/**
 * The secrets of one vault, with versions (the newest enabled one is current) and Key
 * Vault's answers for `GET /secrets/<name>[/<version>]` once the caller is authenticated.
 */
export class VaultStore {
  private readonly secrets = new Map<string, SecretVersion[]>();

  constructor(
    private readonly baseUrl: () => string,
    readonly vaultName: string,
  ) {}

  /** Adds a new version (the current one from now on) and returns its id: 32 hex digits, as Key Vault makes them. */
  set(name: string, value: string, options: SetSecretOptions = {}): string {
    if (!SECRET_NAME.test(name)) throw new Error(`invalid secret name ${name}`);
    const version = randomBytes(16).toString('hex');
    const versions = this.secrets.get(name) ?? [];
    versions.push({ version, value, contentType: options.contentType, enabled: options.enabled ?? true, created: Math.floor(Date.now() / 1000) });
    this.secrets.set(name, versions);
    return version;
  }

  /** Enables or disables one version. */
  setEnabled(name: string, version: string, enabled: boolean): void {
    const v = this.secrets.get(name)?.find((x) => x.version === version);
    if (!v) throw new Error(`no version ${version} of ${name}`);
    v.enabled = enabled;
  }

  delete(name: string): void {
    this.secrets.delete(name);
  }

  versions(name: string): readonly SecretVersion[] {
    return this.secrets.get(name) ?? [];
  }

  /** The answer to an authenticated `GET /secrets/<name>[/<version>]`. */
  get(app: AzureApp, name: string, version: string | undefined): Reply {
    if (!app.canReadSecrets) {
      return vaultError(
        403,
        'Forbidden',
        `The user, group or application 'appid=${app.clientId};oid=${fakeOid(app.clientId)};iss=https://sts.windows.net/${app.tenantId}/' does not have secrets get permission on key vault '${this.vaultName};location=westeurope'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287`,
        'AccessDenied',
      );
    }
    const versions = this.secrets.get(name) ?? [];
    const found = version === undefined ? ([...versions].reverse().find((v) => v.enabled) ?? versions.at(-1)) : versions.find((v) => v.version === version);
    if (!found) {
      const id = version === undefined ? name : `${name}/${version}`;
      return vaultError(
        404,
        'SecretNotFound',
        `A secret with (name/id) ${id} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
      );
    }
    if (!found.enabled) return vaultError(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', 'SecretDisabled');
    return {
      status: 200,
      body: {
        value: found.value,
        ...(found.contentType ? { contentType: found.contentType } : {}),
        id: `${this.baseUrl()}/secrets/${name}/${found.version}`,
        attributes: { enabled: true, created: found.created, updated: found.created, recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90 },
        tags: {},
      },
    };
  }
}

/** Key Vault's error body: `{"error": {"code", "message", "innererror"?}}`. */
export function vaultError(status: number, code: string, message: string, inner?: string): Reply {
  return { status, body: { error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } } };
}

/** A stable object id for an app, as Entra would report it. */
function fakeOid(clientId: string): string {
  const hex = Buffer.from(clientId).toString('hex').padEnd(32, '0').slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
