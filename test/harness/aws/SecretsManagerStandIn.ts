import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { verifySigV4, type AwsErrorReply, type StandInAccessKey } from './sigv4';

export type { StandInAccessKey } from './sigv4';

export interface StandInOptions {
  /** The one region this endpoint serves; requests signed for another are refused. Default `eu-west-1`. */
  region?: string;
  accountId?: string;
  keys?: StandInAccessKey[];
}

/** One request the stand-in answered (or dropped). */
export interface StandInCall {
  /** `GetSecretValue`, `DescribeSecret`, ... (the `x-amz-target` operation). */
  operation: string;
  /** The secret's name when the SecretId resolved to one, else the SecretId as sent. */
  secret?: string;
  versionId?: string;
  versionStage?: string;
  /** The region of the signature's credential scope. */
  region?: string;
  accessKeyId?: string;
  status: number;
  /** The error's `__type`, when it failed. */
  error?: string;
}

interface Version {
  versionId: string;
  value: string | Buffer;
  stages: Set<string>;
  created: Date;
}

interface StoredSecret {
  name: string;
  arn: string;
  versions: Version[];
  deleted: boolean;
}

const JSON_11 = 'application/x-amz-json-1.1';

/**
 * An AWS Secrets Manager stand-in: an HTTP server on 127.0.0.1 that speaks the service's JSON
 * 1.1 protocol (`POST /`, `x-amz-target: secretsmanager.<Operation>`) to the real SDK, checks
 * every request's SigV4 signature and body hash against the access keys it knows, and answers
 * `GetSecretValue` with versions, staging labels and binary secrets, per-key access policies and
 * the service's error types. Tests inject faults (throttling, 500s, a delay, a closed port), read
 * the calls it served, and rotate secrets. See README.md.
 */
export class SecretsManagerStandIn {
  readonly region: string;
  readonly accountId: string;
  /** Every request, in arrival order. */
  readonly calls: StandInCall[] = [];
  private readonly keys = new Map<string, StandInAccessKey>();
  private readonly secrets = new Map<string, StoredSecret>();
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  private port = 0;
  private throttled = 0;
  private failures: { count: number; status: number }[] = [];
  private delay = 0;
  private isDown = false;

  private constructor(options: StandInOptions) {
    this.region = options.region ?? 'eu-west-1';
    this.accountId = options.accountId ?? '123456789012';
    for (const key of options.keys ?? []) this.addKey(key);
  }

  /** Starts a stand-in on 127.0.0.1 and a free port. */
  static async start(options: StandInOptions = {}): Promise<SecretsManagerStandIn> {
    const standIn = new SecretsManagerStandIn(options);
    await standIn.listen();
    return standIn;
  }

  /** `http://127.0.0.1:<port>`, for the SDK's `endpoint`. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  addKey(key: StandInAccessKey): void {
    this.keys.set(key.accessKeyId, key);
  }

  /**
   * Stores a new version of a secret, creating the secret when it is new, as `PutSecretValue`
   * does: by default the version becomes AWSCURRENT, the previous AWSCURRENT becomes
   * AWSPREVIOUS (and the old AWSPREVIOUS loses it). Other stages move to the new version.
   */
  putSecret(name: string, value: string | Uint8Array, options: { stages?: string[]; versionId?: string } = {}): { arn: string; versionId: string } {
    let secret = this.secrets.get(name);
    if (!secret) {
      const suffix = randomBytes(6)
        .toString('base64')
        .replace(/[^A-Za-z0-9]/g, 'x')
        .slice(0, 6);
      secret = { name, arn: `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${name}-${suffix}`, versions: [], deleted: false };
      this.secrets.set(name, secret);
    }
    const stages = new Set(options.stages ?? ['AWSCURRENT']);
    const version: Version = {
      versionId: options.versionId ?? randomUUID(),
      value: typeof value === 'string' ? value : Buffer.from(value),
      stages,
      created: new Date(),
    };
    if (stages.has('AWSCURRENT')) {
      const current = secret.versions.find((v) => v.stages.has('AWSCURRENT'));
      if (current) {
        secret.versions.forEach((v) => v.stages.delete('AWSPREVIOUS'));
        current.stages.delete('AWSCURRENT');
        current.stages.add('AWSPREVIOUS');
      }
    }
    for (const stage of stages) {
      if (stage !== 'AWSCURRENT') secret.versions.forEach((v) => v.stages.delete(stage));
    }
    secret.versions.push(version);
    return { arn: secret.arn, versionId: version.versionId };
  }

  /** Rotation: a new AWSCURRENT version (the old one becomes AWSPREVIOUS). */
  rotate(name: string, value: string | Uint8Array): string {
    return this.putSecret(name, value).versionId;
  }

  /** The ARN of a stored secret. */
  arnOf(name: string): string {
    const secret = this.secrets.get(name);
    if (!secret) throw new Error(`stand-in: no secret ${name}`);
    return secret.arn;
  }

  /** Marks a secret for deletion: reads then fail with InvalidRequestException. */
  scheduleDeletion(name: string): void {
    const secret = this.secrets.get(name);
    if (secret) secret.deleted = true;
  }

  /** The next `count` requests fail with 400 ThrottlingException "Rate exceeded". */
  throttleNext(count: number): void {
    this.throttled = count;
  }

  /** The next `count` requests fail with `status` (default 500, InternalServiceError). */
  failNext(count: number, status = 500): void {
    this.failures.push({ count, status });
  }

  /** Every request waits this long before it is answered. */
  setDelay(ms: number): void {
    this.delay = ms;
  }

  /** Down: every connection (open or new) is closed without an answer. */
  setDown(down: boolean): void {
    this.isDown = down;
    if (down) for (const socket of this.sockets) socket.destroy();
  }

  /** How many requests named this secret (by name or ARN), whatever their outcome. */
  callsFor(name: string, operation = 'GetSecretValue'): number {
    return this.calls.filter((c) => c.secret === name && c.operation === operation).length;
  }

  /** Clears faults and the call log; the secrets and keys stay. */
  reset(): void {
    this.calls.length = 0;
    this.throttled = 0;
    this.failures = [];
    this.delay = 0;
    this.setDown(false);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async listen(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) this.reply(res, { status: 500, type: 'InternalServiceError', message: `stand-in failure: ${String(error)}` });
      });
    });
    this.server.keepAliveTimeout = 5000;
    this.server.on('connection', (socket) => {
      if (this.isDown) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : target;
    const call: StandInCall = { operation, status: 0 };
    this.calls.push(call);
    let input: Record<string, unknown> = {};
    try {
      input = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
    } catch {
      input = {};
    }
    const secretId = typeof input.SecretId === 'string' ? input.SecretId : undefined;
    call.secret = secretId === undefined ? undefined : (this.find(secretId)?.name ?? secretId);
    if (typeof input.VersionId === 'string') call.versionId = input.VersionId;
    if (typeof input.VersionStage === 'string') call.versionStage = input.VersionStage;

    if (this.delay > 0) {
      const closed = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), this.delay);
        res.once('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (closed) return;
    }
    if (this.isDown) {
      req.socket.destroy();
      return;
    }

    const send = (status: number, payload: unknown, error?: AwsErrorReply) => {
      call.status = status;
      if (error) call.error = error.type;
      if (error) this.reply(res, error);
      else this.json(res, status, payload);
    };

    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://x').pathname !== '/') {
      return send(404, undefined, { status: 404, type: 'UnknownOperationException', message: `${req.method} ${req.url} is not an operation` });
    }
    const verified = await verifySigV4({ method: req.method, url: req.url ?? '/', headers: req.headers, body }, this.keys, {
      region: this.region,
      service: 'secretsmanager',
    });
    if ('type' in verified) return send(verified.status, undefined, verified);
    call.region = verified.region;
    call.accessKeyId = verified.key.accessKeyId;

    if (
      String(req.headers['content-type'] ?? '')
        .split(';')[0]
        .trim() !== JSON_11
    ) {
      return send(400, undefined, { status: 400, type: 'SerializationException', message: `expected content-type ${JSON_11}` });
    }
    if (this.throttled > 0) {
      this.throttled--;
      return send(400, undefined, { status: 400, type: 'ThrottlingException', message: 'Rate exceeded', messageKey: 'message' });
    }
    const failure = this.failures[0];
    if (failure) {
      if (--failure.count <= 0) this.failures.shift();
      return send(failure.status, undefined, {
        status: failure.status,
        type: failure.status >= 500 ? 'InternalServiceError' : 'InvalidRequestException',
        message: 'An error occurred on the server side.',
      });
    }

    if (operation !== 'GetSecretValue') {
      return send(400, undefined, { status: 400, type: 'UnknownOperationException', message: `The stand-in does not serve ${target || '(no x-amz-target)'}` });
    }
    const result = this.getSecretValue(input, verified.key);
    if (isError(result)) return send(result.status, undefined, result);
    return send(200, result);
  }

  private getSecretValue(input: Record<string, unknown>, key: StandInAccessKey): Record<string, unknown> | AwsErrorReply {
    const { SecretId: secretId, VersionId: versionId, VersionStage: versionStage } = input;
    if (typeof secretId !== 'string' || secretId.length === 0 || secretId.length > 2048) {
      return {
        status: 400,
        type: 'InvalidParameterException',
        message: 'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      };
    }
    if (versionId !== undefined && (typeof versionId !== 'string' || versionId.length < 32 || versionId.length > 64)) {
      return { status: 400, type: 'InvalidParameterException', message: 'Invalid versionId. The length must be between 32 and 64 characters.' };
    }
    const secret = this.find(secretId);
    const name = secret?.name ?? secretId;
    if (!allows(key, name)) {
      const principal = `arn:aws:iam::${this.accountId}:${key.principal ?? `user/${key.accessKeyId}`}`;
      return {
        status: 400,
        type: 'AccessDeniedException',
        message: `User: ${principal} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${secretId} because no identity-based policy allows the secretsmanager:GetSecretValue action`,
        messageKey: 'Message',
      };
    }
    if (!secret) return { status: 400, type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." };
    if (secret.deleted) {
      return { status: 400, type: 'InvalidRequestException', message: "You can't perform this operation on the secret because it was marked for deletion." };
    }
    let version: Version | undefined;
    if (typeof versionId === 'string') {
      version = secret.versions.find((v) => v.versionId === versionId);
      if (!version)
        return { status: 400, type: 'ResourceNotFoundException', message: `Secrets Manager can't find the specified secret value for VersionId: ${versionId}` };
      if (typeof versionStage === 'string' && !version.stages.has(versionStage)) {
        return { status: 400, type: 'InvalidRequestException', message: 'You provided a VersionStage that is not associated to the provided VersionId.' };
      }
    } else {
      const stage = typeof versionStage === 'string' ? versionStage : 'AWSCURRENT';
      version = secret.versions.find((v) => v.stages.has(stage));
      if (!version)
        return { status: 400, type: 'ResourceNotFoundException', message: `Secrets Manager can't find the specified secret value for staging label: ${stage}` };
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      ...(typeof version.value === 'string' ? { SecretString: version.value } : { SecretBinary: version.value.toString('base64') }),
      VersionStages: [...version.stages],
      CreatedDate: version.created.getTime() / 1000,
    };
  }

  /** By name, full ARN, or partial ARN (without the six-character suffix). */
  private find(secretId: string): StoredSecret | undefined {
    if (!secretId.startsWith('arn:')) return this.secrets.get(secretId);
    for (const secret of this.secrets.values()) {
      if (secret.arn === secretId || secret.arn.slice(0, -7) === secretId) return secret;
    }
    return undefined;
  }

  private json(res: ServerResponse, status: number, payload: unknown): void {
    const text = JSON.stringify(payload);
    res.writeHead(status, { 'content-type': JSON_11, 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': randomUUID() });
    res.end(text);
  }

  private reply(res: ServerResponse, error: AwsErrorReply): void {
    const text = JSON.stringify({ __type: error.type, [error.messageKey ?? 'Message']: error.message });
    res.writeHead(error.status, { 'content-type': JSON_11, 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': randomUUID() });
    res.end(text);
  }
}

function isError(value: Record<string, unknown> | AwsErrorReply): value is AwsErrorReply {
  return typeof value.type === 'string' && typeof value.status === 'number';
}

function allows(key: StandInAccessKey, name: string): boolean {
  if (!key.allow) return true;
  return key.allow.some((pattern) => new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`).test(name));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
