import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificates } from '../certs';
import { TokenAuthority, VAULT_RESOURCE, type AzureApp, type Reply } from './tokenAuthority';
import { vaultError, VaultStore, type SetSecretOptions } from './vaultStore';
import { KeyStore, type CreateKeyOptions, type KeyCall } from './keyStore';

export type { AzureApp } from './tokenAuthority';

/** Which side of the stand-in a request was for. */
export type RequestKind = 'openid-configuration' | 'token' | 'secret' | 'key' | 'other';

/** One request the stand-in answered (or saw aborted), in arrival order. */
export interface StandInRequest {
  kind: RequestKind;
  method: string;
  path: string;
  status: number;
  /** Vault requests: whether it carried a valid bearer token. */
  authenticated: boolean;
  /** The app: from the token (vault) or `client_id` (token endpoint). */
  clientId?: string;
  tenantId?: string;
  secretName?: string;
  /** Key requests: the key's name. */
  keyName?: string;
  version?: string;
  apiVersion?: string;
  grantType?: string;
  scope?: string;
  /** The caller went away before the answer was written (a delay outlived its time limit). */
  aborted: boolean;
}

/** A fault answered instead of the real reply. */
export interface Fault {
  status: number;
  /** Sent as `Retry-After` (seconds). */
  retryAfterSeconds?: number;
  /** Which endpoint fails: the vault (default) or the token endpoint. */
  target?: 'vault' | 'token';
}

export interface AzureStandInOptions {
  /** The vault's (and the default app's) tenant. Default: a random GUID. */
  tenantId?: string;
  /** The vault's name, used in its messages. Default `sourced-test`. */
  vaultName?: string;
  /** Lifetime of issued tokens. Default 3600 s. */
  tokenLifetimeSeconds?: number;
}

/**
 * A Microsoft Entra ID token authority and an Azure Key Vault in one HTTPS server, so the
 * real `@azure/identity` and `@azure/keyvault-secrets` run end to end against it:
 *
 * - `GET /<tenant>/v2.0/.well-known/openid-configuration` and `POST /<tenant>/oauth2/v2.0/token`
 *   (client credentials with a client secret; `invalid_client` for a wrong secret);
 * - `GET /secrets/<name>[/<version>]?api-version=…`: the first, unauthenticated request gets Key
 *   Vault's 401 challenge naming this authority and `https://vault.azure.net`; with a token from
 *   this authority it answers the secret, `SecretNotFound` (404), or `Forbidden` (403) for an
 *   app without `secrets get` or a disabled version;
 * - `GET /keys/<name>[/<version>]`, `GET /keys/<name>/versions`, `POST /keys/<name>/<version>/wrapkey`
 *   and `unwrapkey` (keyStore.ts: RSA keys with versions, real RSA-OAEP-256), behind the same challenge.
 *
 * Tests drive it in process: apps, secrets with versions and rotation, injected faults
 * (`failNext`), a delay, `down` (connections are reset), and the record of every request.
 */
export class AzureStandIn {
  readonly tenantId: string;
  readonly vaultName: string;
  /** Every request, in arrival order. */
  readonly requests: StandInRequest[] = [];
  private readonly authority: TokenAuthority;
  private readonly vault: VaultStore;
  private readonly keyStore: KeyStore;
  private readonly faults: Required<Fault>[] = [];
  private delays = { vault: 0, token: 0 };
  private isDown = false;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  private constructor(
    private readonly server: Server,
    private readonly certDir: string,
    /** PEM of the CA that signed the server certificate (CN=localhost, SAN localhost and 127.0.0.1). */
    readonly caCertPem: string,
    options: AzureStandInOptions,
  ) {
    this.tenantId = options.tenantId ?? randomUUID();
    this.vaultName = options.vaultName ?? 'sourced-test';
    this.authority = new TokenAuthority(() => this.url, options.tokenLifetimeSeconds ?? 3600);
    this.vault = new VaultStore(() => this.url, this.vaultName);
    this.keyStore = new KeyStore(() => this.url, this.vaultName);
  }

  /** Starts a stand-in on 127.0.0.1 with a certificate made for it. */
  static async start(options: AzureStandInOptions = {}): Promise<AzureStandIn> {
    const dir = await mkdtemp(join(tmpdir(), 'sourced-azure-'));
    const certs = await makeCertificates(join(dir, 'pki'));
    const server = createServer({ cert: certs.serverCertPem, key: certs.serverKeyPem });
    const standIn = new AzureStandIn(server, dir, certs.caCertPem, options);
    server.on('connection', (socket: Socket) => standIn.onConnection(socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void standIn.onRequest(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    standIn.port = (server.address() as { port: number }).port;
    return standIn;
  }

  /** The base URL of both the vault and the authority: `https://localhost:<port>`. */
  get url(): string {
    return `https://localhost:${this.port}`;
  }

  /** Registers an app in the vault's tenant (random ids and secret unless given). */
  addApp(app: Partial<AzureApp> = {}): AzureApp {
    const full: AzureApp = {
      tenantId: app.tenantId ?? this.tenantId,
      clientId: app.clientId ?? randomUUID(),
      clientSecret: app.clientSecret ?? `${randomBytes(3).toString('hex')}~${randomBytes(24).toString('base64url')}`,
      canReadSecrets: app.canReadSecrets ?? true,
      canUseKeys: app.canUseKeys ?? true,
    };
    this.authority.apps.set(full.clientId, full);
    return full;
  }

  /** Makes the authority issue `token` for the database scope (`https://ossrdbms-aad.database.windows.net/.default`); undefined: random ones again. */
  setDatabaseToken(token: string | undefined): void {
    this.authority.databaseToken = token;
  }

  /** Adds a version of a secret (the current one from now on; this is also rotation) and returns its id. */
  setSecret(name: string, value: string, options?: SetSecretOptions): string {
    return this.vault.set(name, value, options);
  }

  /** Enables or disables one version of a secret. */
  setSecretEnabled(name: string, version: string, enabled: boolean): void {
    this.vault.setEnabled(name, version, enabled);
  }

  deleteSecret(name: string): void {
    this.vault.delete(name);
  }

  /** Adds a version of an RSA key (the current one from now on: this is rotation) and returns its version id. */
  createKey(name: string, options?: CreateKeyOptions): string {
    return this.keyStore.create(name, options);
  }

  /** A key's id: `https://localhost:<port>/keys/<name>` (current version), or with `/<version>`. */
  keyId(name: string, version?: string): string {
    return version === undefined ? `${this.url}/keys/${name}` : this.keyStore.kid(name, version);
  }

  /** Enables or disables one version of a key. */
  setKeyEnabled(name: string, version: string, enabled: boolean): void {
    this.keyStore.setEnabled(name, version, enabled);
  }

  /** Purges one version of a key: it answers KeyNotFound from now on. */
  purgeKeyVersion(name: string, version: string): void {
    this.keyStore.purge(name, version);
  }

  /** The key operations answered (authenticated requests), in order. */
  get keyCalls(): readonly KeyCall[] {
    return this.keyStore.calls;
  }

  /** The next `times` requests to the target answer `fault` instead. */
  failNext(times: number, fault: Fault): void {
    for (let i = 0; i < times; i++) this.faults.push({ retryAfterSeconds: 0, target: 'vault', ...fault });
  }

  /** Drops the faults not yet used. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Holds every answer of the target this long (0 to stop). */
  setDelay(ms: number, target: 'vault' | 'token' = 'vault'): void {
    this.delays[target] = ms;
  }

  /** While down, every connection is reset as it arrives, and open ones are reset now. */
  setDown(down: boolean): void {
    this.isDown = down;
    if (down) for (const s of this.sockets) s.destroy();
  }

  /** Makes the tokens issued so far (to one app, or to all) invalid: the vault answers 401 for them. */
  revokeTokens(clientId?: string): void {
    for (const t of this.authority.tokens.values()) if (clientId === undefined || t.clientId === clientId) t.revoked = true;
  }

  /** Requests for a secret that carried a valid token (whatever the answer). */
  secretCalls(name: string): number {
    return this.requests.filter((r) => r.kind === 'secret' && r.secretName === name && r.authenticated).length;
  }

  /** Values the stand-in issued or was given that must never appear in the daemon's output: tokens, client secrets, provider trace and correlation ids, data keys it wrapped or unwrapped. */
  sensitiveValues(): string[] {
    return [
      ...this.authority.tokens.keys(),
      ...[...this.authority.apps.values()].map((a) => a.clientSecret),
      ...this.authority.errorIds,
      ...this.keyStore.dataKeys,
    ];
  }

  /** Forgets the recorded requests. */
  clearRequests(): void {
    this.requests.length = 0;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.certDir, { recursive: true, force: true });
  }

  private onConnection(socket: Socket): void {
    if (this.isDown) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const body = await readBody(req);
    const record: StandInRequest = { kind: 'other', method: req.method ?? 'GET', path: url.pathname, status: 0, authenticated: false, aborted: false };
    this.requests.push(record);
    const gone = new Promise<void>((resolve) =>
      res.once('close', () => {
        if (!res.writableEnded) record.aborted = true;
        resolve();
      }),
    );
    let reply: Reply;
    let target: 'vault' | 'token' | undefined;
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && (m = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(url.pathname))) {
      Object.assign(record, { kind: 'openid-configuration', tenantId: m[1] });
      reply = this.authority.openIdConfiguration(m[1]);
    } else if (req.method === 'POST' && (m = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname))) {
      target = 'token';
      const answer = this.authority.token(m[1], new URLSearchParams(body));
      Object.assign(record, { kind: 'token', tenantId: m[1], clientId: answer.clientId, grantType: answer.grantType, scope: answer.scope });
      reply = answer;
    } else if ((m = /^\/secrets\/([^/]+)(?:\/([^/]+))?\/?$/.exec(url.pathname))) {
      target = 'vault';
      reply = this.secretRequest(req, url, m[1], m[2], record);
    } else if ((m = /^\/keys\/([^/]+)((?:\/[^/]*){0,3})$/.exec(url.pathname))) {
      target = 'vault';
      reply = this.keyRequest(req, url, m[1], m[2].split('/').filter(Boolean), body, record);
    } else {
      reply = vaultError(404, 'NotFound', `The requested path ${url.pathname} is not served by this stand-in.`);
    }
    if (target) {
      const index = this.faults.findIndex((f) => f.target === target);
      if (index >= 0) {
        const [fault] = this.faults.splice(index, 1);
        reply = faultReply(fault);
      }
      const delay = this.delays[target];
      if (delay > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([new Promise((r) => (timer = setTimeout(r, delay))), gone]);
        clearTimeout(timer);
      }
    }
    record.status = reply.status;
    if (record.aborted || res.destroyed) return;
    const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      'content-type': 'application/json; charset=utf-8',
      'x-ms-request-id': randomUUID(),
      'x-ms-keyvault-service-version': '1.9.2174.1',
      'x-ms-keyvault-region': 'westeurope',
      ...reply.headers,
    });
    res.end(text);
  }

  private secretRequest(req: IncomingMessage, url: URL, name: string, version: string | undefined, record: StandInRequest): Reply {
    const apiVersion = url.searchParams.get('api-version') ?? undefined;
    Object.assign(record, { kind: 'secret', secretName: decodeURIComponent(name), version, apiVersion });
    const challenge = {
      'www-authenticate': `Bearer authorization="${this.url}/${this.tenantId}", resource="${VAULT_RESOURCE}"`,
    };
    const { app, problem } = this.authority.check(req.headers.authorization, this.tenantId);
    if (!app) return { ...vaultError(401, 'Unauthorized', problem ?? 'Unauthorized'), headers: challenge };
    Object.assign(record, { authenticated: true, clientId: app.clientId, tenantId: app.tenantId });
    if (req.method !== 'GET') return vaultError(405, 'BadParameter', `The method ${req.method} is not allowed by this stand-in.`);
    if (!apiVersion || !/^(7\.\d+(-preview)?|20\d\d-\d\d-\d\d(-preview)?)$/.test(apiVersion)) {
      return vaultError(400, 'BadParameter', `The specified version (${apiVersion ?? 'none'}) is not recognized.`);
    }
    return this.vault.get(app, decodeURIComponent(name), version);
  }

  private keyRequest(req: IncomingMessage, url: URL, name: string, rest: string[], body: string, record: StandInRequest): Reply {
    const apiVersion = url.searchParams.get('api-version') ?? undefined;
    Object.assign(record, { kind: 'key', keyName: decodeURIComponent(name), version: rest[0], apiVersion });
    const { app, problem } = this.authority.check(req.headers.authorization, this.tenantId);
    if (!app) return { ...vaultError(401, 'Unauthorized', problem ?? 'Unauthorized'), headers: this.challenge() };
    Object.assign(record, { authenticated: true, clientId: app.clientId, tenantId: app.tenantId });
    if (!apiVersion || !/^(7\.\d+(-preview)?|20\d\d-\d\d-\d\d(-preview)?)$/.test(apiVersion)) {
      return vaultError(400, 'BadParameter', `The specified version (${apiVersion ?? 'none'}) is not recognized.`);
    }
    return this.keyStore.handle(app, req.method ?? 'GET', decodeURIComponent(name), rest, body);
  }

  private challenge(): Record<string, string> {
    return { 'www-authenticate': `Bearer authorization="${this.url}/${this.tenantId}", resource="${VAULT_RESOURCE}"` };
  }
}

function faultReply(fault: Required<Fault>): Reply {
  const headers: Record<string, string> = fault.retryAfterSeconds > 0 ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
  if (fault.status === 429) {
    if (fault.target === 'token')
      return {
        status: 429,
        headers,
        body: {
          error: 'temporarily_unavailable',
          error_description: 'AADSTS50196: The server terminated an operation because it encountered a client request loop.',
        },
      };
    return {
      ...vaultError(429, 'Throttled', 'Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached'),
      headers,
    };
  }
  if (fault.target === 'token')
    return {
      status: fault.status,
      headers,
      body: { error: 'server_error', error_description: 'AADSTS90033: A transient error has occurred. Please try again.' },
    };
  return { ...vaultError(fault.status, 'InternalServerError', 'An unexpected error occurred.'), headers };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
