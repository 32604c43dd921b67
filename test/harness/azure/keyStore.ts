import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import type { AzureApp, Reply } from './tokenAuthority';
import { vaultError } from './vaultStore';

/** One version of a Key Vault key: an RSA key pair made with node:crypto. */
export interface KeyVersion {
  version: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  enabled: boolean;
  keyOps: string[];
  created: number;
}

/** Options of {@link KeyStore.create}. */
export interface CreateKeyOptions {
  /** Modulus length; default 2048. */
  size?: number;
  enabled?: boolean;
  /** The key's permitted operations; default all of encrypt, decrypt, wrapKey, unwrapKey, sign, verify. */
  keyOps?: string[];
}

/** What a key operation the stand-in answered saw: for assertions on which version did what. */
export interface KeyCall {
  operation: 'get' | 'versions' | 'wrapKey' | 'unwrapKey';
  name: string;
  /** The version the request named ('' for none). */
  version: string;
  algorithm?: string;
  status: number;
  /** The error code answered (`KeyNotFound`, `Forbidden`/`KeyDisabled`, `BadParameter`). */
  error?: string;
}

const KEY_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const ALL_OPS = ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey', 'sign', 'verify'];
/** The RSA wrap algorithms Key Vault offers, with the OAEP hash each uses (RSA1_5 is PKCS#1 v1.5). */
const RSA_WRAP: Record<string, string | undefined> = { 'RSA-OAEP': 'sha1', 'RSA-OAEP-256': 'sha256', RSA1_5: undefined };

/**
 * The RSA keys of one vault, with versions (the newest is current, as Key Vault's "get key"
 * without a version answers) and Key Vault's answers for the keys API the SDK's `KeyClient` and
 * `CryptographyClient` call once the caller is authenticated: GET the key bundle (JWK with the
 * public part, attributes), list the versions, `wrapkey` and `unwrapkey` with real RSA-OAEP /
 * RSA-OAEP-256 (node:crypto). Refusals are Key Vault's: `KeyNotFound` (404) for an unknown name
 * or version; `Forbidden`/`KeyDisabled` (403) for unwrapping (or decrypting, signing) with a
 * disabled version — wrapping, a public-key operation, is allowed on a disabled key as the real
 * service allows it (reported in Azure/azure-sdk-for-python#45342); `BadParameter` (400) for a
 * value that does not decrypt under the version, a value that is not base64url, or an algorithm
 * the key does not do; `Forbidden` (403) for an app without keys permissions.
 */
export class KeyStore {
  private readonly keys = new Map<string, KeyVersion[]>();
  /** Every key operation answered, in order. */
  readonly calls: KeyCall[] = [];
  /** The data keys the vault wrapped or unwrapped (base64, base64url and hex), for leak checks. */
  readonly dataKeys: string[] = [];

  constructor(
    private readonly baseUrl: () => string,
    readonly vaultName: string,
  ) {}

  /** Adds a new version of a key (the current one from now on: this is rotation) and returns the version id. */
  create(name: string, options: CreateKeyOptions = {}): string {
    if (!KEY_NAME.test(name)) throw new Error(`invalid key name ${name}`);
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: options.size ?? 2048 });
    const version = randomBytes(16).toString('hex');
    const versions = this.keys.get(name) ?? [];
    versions.push({
      version,
      privateKey,
      publicKey,
      enabled: options.enabled ?? true,
      keyOps: options.keyOps ?? ALL_OPS,
      created: Math.floor(Date.now() / 1000),
    });
    this.keys.set(name, versions);
    return version;
  }

  /** The full key id of a version: `https://localhost:<port>/keys/<name>/<version>`. */
  kid(name: string, version: string): string {
    return `${this.baseUrl()}/keys/${name}/${version}`;
  }

  setEnabled(name: string, version: string, enabled: boolean): void {
    this.find(name, version).enabled = enabled;
  }

  /** Purges a version (as after deletion and purge): it answers KeyNotFound from now on. */
  purge(name: string, version: string): void {
    const versions = this.keys.get(name) ?? [];
    this.keys.set(
      name,
      versions.filter((v) => v.version !== version),
    );
  }

  /**
   * The answer to an authenticated keys request: `GET /keys/<name>[/<version>]`,
   * `GET /keys/<name>/versions`, `POST /keys/<name>/<version>/wrapkey|unwrapkey`.
   */
  handle(app: AzureApp, method: string, name: string, rest: string[], body: string): Reply {
    const call: KeyCall = { operation: 'get', name, version: '', status: 0 };
    this.calls.push(call);
    const reply = this.answer(app, method, name, rest, body, call);
    call.status = reply.status;
    const code = (reply.body as { error?: { code?: string; innererror?: { code?: string } } } | undefined)?.error;
    if (code) call.error = code.innererror?.code ? `${code.code}/${code.innererror.code}` : code.code;
    return reply;
  }

  private answer(app: AzureApp, method: string, name: string, rest: string[], body: string, call: KeyCall): Reply {
    const op = rest.at(-1)?.toLowerCase();
    if (method === 'GET' && rest.length === 1 && op === 'versions') {
      call.operation = 'versions';
      const denied = this.permission(app, 'list');
      if (denied) return denied;
      const versions = this.keys.get(name) ?? [];
      return { status: 200, body: { value: versions.map((v) => ({ kid: this.kid(name, v.version), attributes: this.attributes(v) })), nextLink: null } };
    }
    if (method === 'GET' && rest.length <= 1) {
      call.version = rest[0] ?? '';
      const denied = this.permission(app, 'get');
      if (denied) return denied;
      const found = this.lookup(name, rest[0]);
      if (!found) return this.notFound(name, rest[0]);
      return { status: 200, body: this.bundle(name, found) };
    }
    if (method === 'POST' && (op === 'wrapkey' || op === 'unwrapkey') && rest.length <= 2) {
      const operation = op === 'wrapkey' ? 'wrapKey' : 'unwrapKey';
      Object.assign(call, { operation, version: rest.length === 2 ? rest[0] : '' });
      const denied = this.permission(app, operation);
      if (denied) return denied;
      const found = this.lookup(name, call.version || undefined);
      if (!found) return this.notFound(name, call.version || undefined);
      let request: { alg?: unknown; value?: unknown };
      try {
        request = JSON.parse(body) as { alg?: unknown; value?: unknown };
      } catch {
        return vaultError(400, 'BadParameter', 'The request body is not valid JSON.');
      }
      call.algorithm = typeof request.alg === 'string' ? request.alg : undefined;
      if (typeof request.value !== 'string' || !/^[A-Za-z0-9_-]*$/.test(request.value)) {
        return vaultError(400, 'BadParameter', "Content of 'value' is not base64url.\r\nProperty 'value' is required.\r\n");
      }
      if (typeof request.alg !== 'string' || !(request.alg in RSA_WRAP)) {
        return vaultError(400, 'BadParameter', `Algorithm '${String(request.alg)}' is not supported for this key type.`);
      }
      if (!found.keyOps.includes(operation))
        return vaultError(403, 'Forbidden', `Operation ${operation} is not permitted on this key.`, 'KeyOperationForbidden');
      if (operation === 'unwrapKey' && !found.enabled) {
        return vaultError(403, 'Forbidden', 'Operation unwrapKey is not allowed on a disabled key.', 'KeyDisabled');
      }
      const value = Buffer.from(request.value, 'base64url');
      const padding = request.alg === 'RSA1_5' ? constants.RSA_PKCS1_PADDING : constants.RSA_PKCS1_OAEP_PADDING;
      const oaepHash = RSA_WRAP[request.alg];
      let result: Buffer;
      try {
        result =
          operation === 'wrapKey'
            ? publicEncrypt({ key: found.publicKey, padding, oaepHash }, value)
            : privateDecrypt({ key: found.privateKey, padding, oaepHash }, value);
      } catch {
        return vaultError(400, 'BadParameter', 'Unable to decrypt specified value with this key.');
      }
      const dataKey = operation === 'wrapKey' ? value : result;
      this.dataKeys.push(dataKey.toString('base64'), dataKey.toString('base64url'), dataKey.toString('hex'));
      return { status: 200, body: { kid: this.kid(name, found.version), value: result.toString('base64url') } };
    }
    return vaultError(405, 'BadParameter', `The method ${method} on /keys/${name}/${rest.join('/')} is not allowed by this stand-in.`);
  }

  private permission(app: AzureApp, operation: string): Reply | undefined {
    if (app.canUseKeys !== false) return undefined;
    return vaultError(
      403,
      'Forbidden',
      `The user, group or application 'appid=${app.clientId};iss=https://sts.windows.net/${app.tenantId}/' does not have keys ${operation} permission on key vault '${this.vaultName};location=westeurope'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287`,
      'AccessDenied',
    );
  }

  private lookup(name: string, version: string | undefined): KeyVersion | undefined {
    const versions = this.keys.get(name) ?? [];
    return version === undefined ? versions.at(-1) : versions.find((v) => v.version === version);
  }

  private find(name: string, version: string): KeyVersion {
    const found = this.lookup(name, version);
    if (!found) throw new Error(`no version ${version} of key ${name}`);
    return found;
  }

  private notFound(name: string, version: string | undefined): Reply {
    return vaultError(
      404,
      'KeyNotFound',
      `A key with (name/id) ${version === undefined ? name : `${name}/${version}`} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
    );
  }

  private attributes(v: KeyVersion) {
    return { enabled: v.enabled, created: v.created, updated: v.created, recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90, exportable: false };
  }

  private bundle(name: string, v: KeyVersion) {
    const jwk = v.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
    return {
      key: { kid: this.kid(name, v.version), kty: 'RSA', key_ops: v.keyOps, n: jwk.n, e: jwk.e },
      attributes: this.attributes(v),
      tags: {},
    };
  }
}
