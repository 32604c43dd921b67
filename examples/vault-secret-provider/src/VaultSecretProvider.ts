import { readFile } from 'node:fs/promises';
import {
  abortedErrorFrom,
  InputError,
  NotAllowedError,
  NotFoundError,
  Secret,
  SecretErrorReason,
  UnavailableError,
  type SecretProvider,
  type SecretProviderContext,
  type SecretReference,
} from '@sourced/plugin-sdk';
import { parseVaultTarget, type VaultTarget } from './reference';
import type { ResolvedVaultSettings } from './settings';

/** The most of a response body this provider reads (a KV v2 secret is small). */
const MAX_BODY_BYTES = 1024 * 1024;

/** A KV v2 read response (`GET /v1/<mount>/data/<path>`), the parts this provider reads. */
interface KvReadResponse {
  data?: { data?: Record<string, unknown> | null; metadata?: { version?: number; deletion_time?: string; destroyed?: boolean } | null };
  errors?: unknown[];
}

/**
 * Resolves `vault://<mount>/<path>[?version=<n>]#<field>` from a KV version 2 secrets engine
 * through Vault's HTTP API, with Node's global fetch. It returns the secret's key/value data as
 * JSON; the daemon's secret chain then picks `#field` from it (and caches the secret once for
 * all its fields). Errors carry the reasons of `SecretErrorReason` and never the token or a value.
 */
export class VaultSecretProvider implements SecretProvider {
  readonly id = 'vault';
  readonly schemes = ['vault'];
  readonly description = 'HashiCorp Vault KV version 2 (vault://mount/path#field)';

  constructor(private readonly settings: ResolvedVaultSettings) {}

  /** Who fetches: the Vault, namespace and where the token comes from (never the token). */
  identity(): string {
    const { address, namespace, token } = this.settings;
    return `${address}${namespace ? ` namespace=${namespace}` : ''} token=${token.kind === 'file' ? `file:${token.path}` : 'env:VAULT_TOKEN'}`;
  }

  async resolve(reference: SecretReference, context: SecretProviderContext): Promise<string> {
    const target = parseVaultTarget(reference);
    const { signal } = context;
    if (signal.aborted) throw abortedErrorFrom(signal);
    const token = await this.token();
    const url = this.urlOf(target);
    const name = describeTarget(target);

    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method: 'GET',
        headers: {
          'X-Vault-Token': token.reveal(),
          ...(this.settings.namespace ? { 'X-Vault-Namespace': this.settings.namespace } : {}),
          Accept: 'application/json',
        },
        redirect: 'error',
        signal,
      });
      text = await readBody(response);
    } catch (error) {
      if (signal.aborted) throw abortedErrorFrom(signal);
      if (error instanceof UnavailableError) throw error;
      throw new UnavailableError(SecretErrorReason.UNREACHABLE, `Vault at ${this.settings.address} could not be reached (${networkCause(error)})`);
    }

    const body = parseJson(text);
    const vaultErrors = errorsOf(body);
    switch (response.status) {
      case 200: {
        const data = body?.data?.data;
        if (data === null || data === undefined || typeof data !== 'object' || Array.isArray(data)) {
          throw new UnavailableError(SecretErrorReason.UNREACHABLE, `Vault answered ${name} with no key/value data: is ${target.mount} a KV version 2 mount?`);
        }
        return JSON.stringify(data);
      }
      case 404: {
        const metadata = body?.data?.metadata;
        const why = metadata?.destroyed ? ` (version ${metadata.version} was destroyed)` : metadata?.deletion_time ? ` (version ${metadata.version} was deleted)` : '';
        throw new NotFoundError(SecretErrorReason.NOT_FOUND, `Vault has no secret ${name}${why}`);
      }
      case 401:
      case 403: {
        if (response.status === 401 || /invalid token|token is expired|bad token/i.test(vaultErrors)) {
          throw new NotAllowedError(SecretErrorReason.INVALID_CREDENTIALS, `Vault did not accept the plugin's token (${this.tokenOrigin()}): it is invalid or expired`);
        }
        throw new NotAllowedError(SecretErrorReason.ACCESS_DENIED, `Vault denied the plugin's token read access to ${name}: grant its policy "read" on ${target.mount}/data/${target.path}`);
      }
      case 429:
        throw new UnavailableError(SecretErrorReason.THROTTLED, `Vault throttled the read of ${name} (HTTP 429)`);
      case 400:
        throw new InputError([{ field: 'reference', description: `${reference.uri}: Vault refused the request: ${clip(vaultErrors) || 'bad request'}` }], { reason: 'SECRET_REFERENCE_INVALID' });
      default: {
        const sealed = /sealed/i.test(vaultErrors) ? ' (Vault is sealed)' : '';
        throw new UnavailableError(SecretErrorReason.UNREACHABLE, `Vault answered the read of ${name} with HTTP ${response.status}${sealed}`);
      }
    }
  }

  private urlOf(target: VaultTarget): string {
    const path = target.path.split('/').map(encodeURIComponent).join('/');
    return `${this.settings.address}/v1/${encodeURIComponent(target.mount)}/data/${path}${target.version ? `?version=${target.version}` : ''}`;
  }

  private tokenOrigin(): string {
    const t = this.settings.token;
    return t.kind === 'file' ? `from ${t.path}` : 'from VAULT_TOKEN';
  }

  /** The token: read from its file at every look-up (a renewed token is picked up), or the environment's. */
  private async token(): Promise<Secret> {
    const source = this.settings.token;
    if (source.kind === 'env') return new Secret(source.value, 'VAULT_TOKEN');
    let text: string;
    try {
      text = (await readFile(source.path, 'utf8')).trim();
    } catch (error) {
      throw new UnavailableError(SecretErrorReason.UNREACHABLE, `the Vault token file ${source.path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!text) throw new NotAllowedError(SecretErrorReason.INVALID_CREDENTIALS, `the Vault token file ${source.path} is empty`);
    return new Secret(text, `token file ${source.path}`);
  }
}

/** `secret/db/orders` or `secret/db/orders (version 3)`: names a secret, never a value. */
function describeTarget(target: VaultTarget): string {
  return `vault://${target.mount}/${target.path}${target.version ? ` (version ${target.version})` : ''}`;
}

async function readBody(response: Response): Promise<string> {
  const length = Number(response.headers.get('content-length') ?? '0');
  if (length > MAX_BODY_BYTES) {
    await response.body?.cancel();
    throw new UnavailableError(SecretErrorReason.UNREACHABLE, `Vault's answer is larger than ${MAX_BODY_BYTES} bytes`);
  }
  return response.text();
}

function parseJson(text: string): KvReadResponse | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' ? (value as KvReadResponse) : undefined;
  } catch {
    return undefined;
  }
}

/** Vault's `{"errors": [...]}` as one line (these name paths and causes, never values). */
function errorsOf(body: KvReadResponse | undefined): string {
  return Array.isArray(body?.errors) ? body.errors.map((e) => String(e).replace(/\s+/g, ' ').trim()).join('; ') : '';
}

function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** The network cause of a failed fetch: `ECONNREFUSED`, `ENOTFOUND`, a TLS error code. */
function networkCause(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
