/**
 * A stand-in for HashiCorp Vault's HTTP API, as far as a KV version 2 read goes: real routes
 * (`GET /v1/<mount>/data/<path>[?version=n]`, `/v1/sys/health`), real response shapes (the
 * read envelope with `data.data` and `data.metadata`, `{"errors": [...]}` on failure, the 404 of
 * a deleted version carrying its metadata), and the token checks Vault makes: no token or an
 * unknown one → 403 "permission denied" / "invalid token", a token whose policy does not cover
 * the path → 403 "permission denied". Tokens are bound to a namespace when the stand-in has
 * one (`X-Vault-Namespace`). Faults per path: a status (429, 500, 503 sealed) or a delay.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Version {
  data: Record<string, unknown>;
  created: string;
  deleted?: string;
  destroyed?: boolean;
}

/** A token and the paths (`<mount>/data/<path>`, `*` at the end as a prefix) its policy may read. */
export interface StandInToken {
  token: string;
  read: string[];
  /** A root token: may read, write (`POST <mount>/data/<path>`) and delete (`DELETE <mount>/metadata/<path>`) anything. */
  root?: boolean;
}

export interface Fault {
  status?: number;
  /** Holds the answer this long, milliseconds. */
  delayMs?: number;
}

export interface RecordedRequest {
  method: string;
  url: string;
  token?: string;
  namespace?: string;
}

export class VaultStandIn {
  readonly requests: RecordedRequest[] = [];
  private readonly kv = new Map<string, Version[]>();
  private readonly mounts = new Set<string>();
  private readonly tokens = new Map<string, StandInToken>();
  private readonly faults = new Map<string, Fault>();
  private server: Server | undefined;
  private readonly open = new Set<ServerResponse>();

  /** @param namespace when set, every request must carry it in X-Vault-Namespace. */
  constructor(readonly namespace?: string) {}

  address = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.address = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // fetch keeps connections alive: end them rather than wait for their idle timeout.
    server.closeAllConnections();
    await closed;
  }

  mount(name: string): this {
    this.mounts.add(name);
    return this;
  }

  addToken(token: StandInToken): this {
    this.tokens.set(token.token, token);
    return this;
  }

  /** Writes a new version of a secret (as `vault kv put`). */
  put(mount: string, path: string, data: Record<string, unknown>): this {
    this.mounts.add(mount);
    const key = `${mount}/${path}`;
    this.kv.set(key, [...(this.kv.get(key) ?? []), { data, created: new Date().toISOString() }]);
    return this;
  }

  /** Soft-deletes the current version (as `vault kv delete`). */
  deleteLatest(mount: string, path: string): this {
    const versions = this.kv.get(`${mount}/${path}`);
    if (versions?.length) versions[versions.length - 1].deleted = new Date().toISOString();
    return this;
  }

  fault(mount: string, path: string, fault: Fault): this {
    this.faults.set(`${mount}/${path}`, fault);
    return this;
  }

  /** `vault kv put` (POST/PUT <mount>/data/<path> {"data": {...}}) and `vault kv metadata delete` (DELETE <mount>/metadata/<path>), for root tokens. */
  private write(req: IncomingMessage, res: ServerResponse, token: StandInToken, route: string): void {
    if (!token.root) return this.errors(res, 403, '1 error occurred:\n\t* permission denied\n\n');
    const [mount, kind, ...rest] = route.split('/');
    if (!this.mounts.has(mount) || rest.length === 0) return this.errors(res, 404, `no handler for route "${route}". route entry not found.`);
    const path = rest.join('/');
    if (req.method === 'DELETE' && kind === 'metadata') {
      this.kv.delete(`${mount}/${path}`);
      res.writeHead(204).end();
      return;
    }
    if (kind !== 'data' || req.method === 'DELETE') return this.errors(res, 405, '1 error occurred:\n\t* unsupported operation\n\n');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: { data?: Record<string, unknown> };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return this.errors(res, 400, 'failed to parse JSON input');
      }
      if (!body.data || typeof body.data !== 'object') return this.errors(res, 400, 'no data provided');
      this.put(mount, path, body.data);
      const version = this.kv.get(`${mount}/${path}`)!.length;
      this.send(res, 200, { request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, data: { created_time: new Date().toISOString(), custom_metadata: null, deletion_time: '', destroyed: false, version }, wrap_info: null, warnings: null, auth: null, mount_type: 'kv' });
    });
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
    res.end(text);
  }

  private errors(res: ServerResponse, status: number, ...errors: string[]): void {
    this.send(res, status, { errors });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://vault');
    const token = header(req, 'x-vault-token');
    const namespace = header(req, 'x-vault-namespace');
    this.requests.push({ method: req.method ?? '', url: `${url.pathname}${url.search}`, token, namespace });

    if (url.pathname === '/v1/sys/health') {
      return this.send(res, 200, { initialized: true, sealed: false, standby: false, version: '1.17.0-standin', cluster_name: 'standin' });
    }
    if (!url.pathname.startsWith('/v1/')) return this.errors(res, 404);
    const route = decodeURIComponent(url.pathname.slice('/v1/'.length));
    if (req.method !== 'GET' && req.method !== 'POST' && req.method !== 'PUT' && req.method !== 'DELETE') return this.errors(res, 405, '1 error occurred:\n\t* unsupported operation\n\n');

    // Vault checks the token before it routes.
    if (!token) return this.errors(res, 403, 'permission denied');
    const known = this.tokens.get(token);
    if (!known) return this.errors(res, 403, '2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n');
    if (this.namespace !== undefined && namespace !== this.namespace) return this.errors(res, 403, '1 error occurred:\n\t* permission denied\n\n');

    if (req.method !== 'GET') return this.write(req, res, known, route);
    const [mount, kind, ...rest] = route.split('/');
    if (!this.mounts.has(mount) || kind !== 'data' || rest.length === 0) {
      return this.errors(res, 404, `no handler for route "${route}". route entry not found.`);
    }
    const path = rest.join('/');
    const allowed = known.root || known.read.some((p) => (p.endsWith('*') ? `${mount}/data/${path}`.startsWith(p.slice(0, -1)) : p === `${mount}/data/${path}`));
    if (!allowed) return this.errors(res, 403, '1 error occurred:\n\t* permission denied\n\n');

    const answer = () => {
      const fault = this.faults.get(`${mount}/${path}`);
      if (fault?.status === 503) return this.errors(res, 503, 'Vault is sealed');
      if (fault?.status === 429) return this.errors(res, 429, 'request path "' + route + '": rate limit quota exceeded');
      if (fault?.status) return this.errors(res, fault.status, '1 error occurred:\n\t* internal error\n\n');
      const versions = this.kv.get(`${mount}/${path}`);
      if (!versions?.length) return this.errors(res, 404);
      const wanted = url.searchParams.get('version');
      const n = wanted && wanted !== '0' ? Number(wanted) : versions.length;
      if (!Number.isInteger(n) || n < 1) return this.errors(res, 400, `invalid version "${wanted}"`);
      const version = versions[n - 1];
      if (!version) return this.errors(res, 404);
      const metadata = { created_time: version.created, custom_metadata: null, deletion_time: version.deleted ?? '', destroyed: version.destroyed ?? false, version: n };
      if (version.deleted || version.destroyed) return this.send(res, 404, { data: { data: null, metadata } });
      return this.send(res, 200, {
        request_id: randomUUID(),
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        data: { data: version.data, metadata },
        wrap_info: null,
        warnings: null,
        auth: null,
        mount_type: 'kv',
      });
    };
    const delay = this.faults.get(`${mount}/${path}`)?.delayMs;
    if (!delay) return answer();
    this.open.add(res);
    const timer = setTimeout(() => {
      this.open.delete(res);
      if (!res.destroyed) answer();
    }, delay);
    res.on('close', () => {
      clearTimeout(timer);
      this.open.delete(res);
    });
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
