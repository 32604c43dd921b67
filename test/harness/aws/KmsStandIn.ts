import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { verifySigV4, type AwsErrorReply, type StandInAccessKey } from './sigv4';

/** One request the KMS stand-in answered. */
export interface KmsCall {
  /** `GenerateDataKey`, `Decrypt`, ... (the `x-amz-target` operation). */
  operation: string;
  /** The key ARN the request resolved to, when it did. */
  keyArn?: string;
  /** The encryption context as sent. */
  context?: Record<string, string>;
  status: number;
  /** The error's `__type`, when it failed. */
  error?: string;
}

interface StoredKey {
  arn: string;
  id: string;
  material: Buffer;
  enabled: boolean;
  pendingDeletion: boolean;
}

const JSON_11 = 'application/x-amz-json-1.1';

/**
 * An AWS KMS stand-in: `POST /` with `x-amz-target: TrentService.<Operation>` and a JSON 1.1
 * body, every request's SigV4 signature (service `kms`) and body hash verified. It serves
 * `GenerateDataKey` (KeySpec AES_256 or NumberOfBytes 32) and `Decrypt` for symmetric keys it
 * holds (by key id, key ARN, alias name or alias ARN), and refuses what KMS refuses: an unknown
 * key (NotFoundException), a disabled key (DisabledException), a key pending deletion
 * (KMSInvalidStateException), a ciphertext under another key than the KeyId named
 * (IncorrectKeyException), a ciphertext that does not authenticate with the encryption context
 * given (InvalidCiphertextException: the context must match exactly, as in KMS). Its ciphertext
 * blob is its own format (key ARN, nonce, AES-256-GCM of the data key with the canonical context
 * as AAD); real KMS blobs are opaque too.
 */
export class KmsStandIn {
  readonly region: string;
  readonly accountId: string;
  readonly calls: KmsCall[] = [];
  private readonly keys = new Map<string, StandInAccessKey>();
  private readonly kmsKeys = new Map<string, StoredKey>();
  private readonly aliases = new Map<string, string>();
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  private port = 0;
  private isDown = false;

  private constructor(options: { region?: string; accountId?: string; keys?: StandInAccessKey[] }) {
    this.region = options.region ?? 'eu-west-1';
    this.accountId = options.accountId ?? '123456789012';
    for (const key of options.keys ?? []) this.keys.set(key.accessKeyId, key);
  }

  static async start(options: { region?: string; accountId?: string; keys?: StandInAccessKey[] } = {}): Promise<KmsStandIn> {
    const s = new KmsStandIn(options);
    await s.listen();
    return s;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Creates a symmetric key (and an alias for it); returns its ARN. */
  createKey(alias?: string): string {
    const id = randomUUID();
    const arn = `arn:aws:kms:${this.region}:${this.accountId}:key/${id}`;
    this.kmsKeys.set(arn, { arn, id, material: randomBytes(32), enabled: true, pendingDeletion: false });
    if (alias) this.aliases.set(alias.startsWith('alias/') ? alias : `alias/${alias}`, arn);
    return arn;
  }

  /** Points an alias at another key (rotation by alias). */
  setAlias(alias: string, arn: string): void {
    this.aliases.set(alias, arn);
  }

  setEnabled(arn: string, enabled: boolean): void {
    this.kmsKeys.get(arn)!.enabled = enabled;
  }

  scheduleDeletion(arn: string): void {
    this.kmsKeys.get(arn)!.pendingDeletion = true;
  }

  /** Down: every connection is closed without an answer. */
  setDown(down: boolean): void {
    this.isDown = down;
    if (down) for (const socket of this.sockets) socket.destroy();
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async listen(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) this.reply(res, { status: 500, type: 'KMSInternalException', message: `stand-in failure: ${String(error)}` });
      });
    });
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

  private resolveKey(keyId: unknown): StoredKey | undefined {
    if (typeof keyId !== 'string') return undefined;
    if (keyId.startsWith('alias/')) return this.kmsKeys.get(this.aliases.get(keyId) ?? '');
    const aliasArn = /^arn:aws:kms:[^:]+:\d+:(alias\/.+)$/.exec(keyId);
    if (aliasArn) return this.kmsKeys.get(this.aliases.get(aliasArn[1]) ?? '');
    if (keyId.startsWith('arn:')) return this.kmsKeys.get(keyId);
    return [...this.kmsKeys.values()].find((k) => k.id === keyId);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (this.isDown) {
      req.socket.destroy();
      return;
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : target;
    const call: KmsCall = { operation, status: 0 };
    this.calls.push(call);
    const send = (status: number, payload: unknown, error?: AwsErrorReply) => {
      call.status = status;
      if (error) {
        call.error = error.type;
        this.reply(res, error);
      } else this.json(res, status, payload);
    };
    const verified = await verifySigV4({ method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body }, this.keys, {
      region: this.region,
      service: 'kms',
    });
    if ('type' in verified) return send(verified.status, undefined, verified);
    if (
      String(req.headers['content-type'] ?? '')
        .split(';')[0]
        .trim() !== JSON_11
    ) {
      return send(400, undefined, { status: 400, type: 'SerializationException', message: `expected content-type ${JSON_11}` });
    }
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return send(400, undefined, { status: 400, type: 'SerializationException', message: 'body is not JSON' });
    }
    const context = (input.EncryptionContext ?? {}) as Record<string, string>;
    call.context = context;
    if (operation === 'GenerateDataKey') {
      const key = this.resolveKey(input.KeyId);
      call.keyArn = key?.arn;
      const refused = this.usable(key, input.KeyId);
      if (refused) return send(400, undefined, refused);
      if (input.KeySpec !== 'AES_256' && input.NumberOfBytes !== 32) {
        return send(400, undefined, { status: 400, type: 'ValidationException', message: 'the stand-in makes AES_256 data keys only' });
      }
      const dataKey = randomBytes(32);
      return send(200, { KeyId: key!.arn, Plaintext: dataKey.toString('base64'), CiphertextBlob: this.wrap(key!, dataKey, context).toString('base64') });
    }
    if (operation === 'Decrypt') {
      const blob = typeof input.CiphertextBlob === 'string' ? Buffer.from(input.CiphertextBlob, 'base64') : Buffer.alloc(0);
      const arnLength = blob.length >= 2 ? blob.readUInt16BE(0) : 0;
      const blobArn = blob.subarray(2, 2 + arnLength).toString('utf8');
      const key = this.kmsKeys.get(blobArn);
      call.keyArn = key?.arn;
      if (input.KeyId !== undefined) {
        const named = this.resolveKey(input.KeyId);
        if (!named)
          return send(400, undefined, {
            status: 400,
            type: 'NotFoundException',
            message: `Key '${String(input.KeyId)}' does not exist`,
            messageKey: 'message',
          });
        if (key && named.arn !== key.arn)
          return send(400, undefined, {
            status: 400,
            type: 'IncorrectKeyException',
            message: 'The key ID in the request does not identify a CMK that can perform this operation.',
            messageKey: 'message',
          });
      }
      if (!key) return send(400, undefined, { status: 400, type: 'InvalidCiphertextException', message: '', messageKey: 'message' });
      const refused = this.usable(key, key.arn);
      if (refused) return send(400, undefined, refused);
      const plain = this.unwrap(key, blob.subarray(2 + arnLength), context);
      if (!plain) return send(400, undefined, { status: 400, type: 'InvalidCiphertextException', message: '', messageKey: 'message' });
      return send(200, { KeyId: key.arn, Plaintext: plain.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    }
    return send(400, undefined, { status: 400, type: 'UnknownOperationException', message: `The stand-in does not serve ${target || '(no x-amz-target)'}` });
  }

  private usable(key: StoredKey | undefined, asked: unknown): AwsErrorReply | undefined {
    if (!key) return { status: 400, type: 'NotFoundException', message: `Key '${String(asked)}' does not exist`, messageKey: 'message' };
    if (key.pendingDeletion) return { status: 400, type: 'KMSInvalidStateException', message: `${key.arn} is pending deletion.`, messageKey: 'message' };
    if (!key.enabled) return { status: 400, type: 'DisabledException', message: `${key.arn} is disabled.`, messageKey: 'message' };
    return undefined;
  }

  private aad(context: Record<string, string>): Buffer {
    return Buffer.from(
      JSON.stringify(
        Object.keys(context)
          .sort()
          .map((k) => [k, context[k]]),
      ),
      'utf8',
    );
  }

  private wrap(key: StoredKey, dataKey: Buffer, context: Record<string, string>): Buffer {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.material, nonce);
    cipher.setAAD(this.aad(context));
    const arn = Buffer.from(key.arn, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(arn.length);
    return Buffer.concat([len, arn, nonce, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  }

  private unwrap(key: StoredKey, rest: Buffer, context: Record<string, string>): Buffer | undefined {
    if (rest.length !== 12 + 32 + 16) return undefined;
    try {
      const d = createDecipheriv('aes-256-gcm', key.material, rest.subarray(0, 12));
      d.setAAD(this.aad(context));
      d.setAuthTag(rest.subarray(44));
      return Buffer.concat([d.update(rest.subarray(12, 44)), d.final()]);
    } catch {
      return undefined;
    }
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
