import { open as openFile, type FileHandle } from 'node:fs/promises';
import { checkpointMac, checkpointVerifies, GENESIS, isCheckpoint, keyId, outcomeOf, sealCheckpoint, sealLine, type AuditLine, type CheckpointInfo } from './lineFormat';

export {
  canonicalJson,
  checkpointMac,
  checkpointMacForm,
  checkpointVerifies,
  GENESIS,
  isCheckpoint,
  keyId,
  lineJson,
  outcomeOf,
  sealCheckpoint,
  sealLine,
  sha256Hex,
  unhashedFields,
  type AuditLine,
  type CheckpointInfo,
  type CheckpointLine,
  type HashForm,
} from './lineFormat';

/**
 * The daemon's audit log: one JSON line per call, each carrying the hash of the line before,
 * so `sourced audit verify FILE` (verifyAuditLog) finds an edited, removed, inserted or
 * reordered line. With a signing key, signed checkpoints are lines of the chain too. What a line
 * holds, its text, and what its hash and a checkpoint's MAC cover (RFC 8785) are in
 * `lineFormat.ts`.
 */

/** What the daemon knows about one finished call. No field can hold a secret by construction. */
export interface AuditEntry {
  /** When the call started; default: when record() is called. */
  time?: Date;
  /** Who called: the client certificate's or token's subject, or "anonymous". */
  principal: string;
  /** The full method, e.g. "/sourced.v1.DataSourceService/DiscoverDataSource". */
  rpc: string;
  /** The data source the call named, when it named one. */
  dataSource?: { id?: string; type?: string; host?: string };
  /** The encryption keys the call used (EncryptSecret, ReencryptSecret, envelopes it opened): provider, key id, outcome. */
  keys?: { operation: string; keyProvider: string; keyId: string; outcome: string }[];
  /** The gRPC status code the call ended with (0 = OK); `outcome` is its name. */
  code: number;
  /** How long the call took, in milliseconds. */
  durationMs: number;
  /** The call's trace id (32 hex digits), when it was traced. */
  traceId?: string;
  /** The caller's address, for a call refused before the caller was known. */
  peer?: string;
  /** How many such calls the line stands for (aggregated failures); absent for one call. */
  count?: number;
}

/** Where lines go: a file (appended to; created with mode 0600), or stdout. Exactly one. */
export interface AuditTarget {
  file?: string;
  stdout?: boolean;
  /** Instead of process.stdout (tests, or an embedding program); the chain starts at GENESIS. */
  stream?: NodeJS.WritableStream;
}

export interface AuditLogOptions {
  /**
   * Told about every write that failed (the lines of that write are lost, which verify will
   * show as missing lines) and every entry recorded after close(). Never throws into record().
   * Default: a JSON log line on stderr.
   */
  onError?: (error: Error) => void;
  /** Longer strings are cut to this many characters plus a "…[+N chars]" marker. Default 512. */
  maxStringLength?: number;
  /** Write signed checkpoints with this key (its bytes; never logged). */
  signingKey?: Buffer;
  /** A checkpoint after this many lines (default 1000) ... */
  checkpointEveryLines?: number;
  /** ... or once lines have waited this long for one, ms (default 60 s; 0: only by count and at close). */
  checkpointEveryMs?: number;
}

/** Thrown by AuditLog.open when the target cannot be used. */
export class AuditLogError extends Error {
  override name = 'AuditLogError';
}

/** How far back open() looks for the start of the file's last line before giving up. */
const MAX_TAIL_BYTES = 1 << 20;
const TAIL_CHUNK = 16 * 1024;

interface Sink {
  write(chunk: string): Promise<void>;
  close(): Promise<void>;
  describe: string;
}

/**
 * The audit log. record() is synchronous and cheap (a JSON serialization and a SHA-256); lines
 * are written in record() order, all lines recorded in one tick in one write, one write at a
 * time, so a call never waits on the log's disk.
 */
export class AuditLog {
  private pending: string[] = [];
  private scheduled = false;
  private writing: Promise<void> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly onError: (error: Error) => void;
  private readonly maxString: number;
  private readonly key?: Buffer;
  private readonly keyId?: string;
  private readonly everyLines: number;
  private sinceCheckpoint = 0;
  private readonly checkpointTimer?: NodeJS.Timeout;

  private constructor(
    private readonly sink: Sink,
    private seq: number,
    private prev: string,
    options: AuditLogOptions,
    after: NonNullable<CheckpointInfo['after']>,
  ) {
    this.onError = options.onError ?? defaultOnError;
    this.maxString = Math.max(16, options.maxStringLength ?? 512);
    this.everyLines = Math.max(1, options.checkpointEveryLines ?? 1000);
    if (options.signingKey) {
      this.key = options.signingKey;
      this.keyId = keyId(options.signingKey);
      // The first line of every run: signs what came before, and says what that was.
      this.enqueue(this.checkpoint('open', after));
      const everyMs = options.checkpointEveryMs ?? 60_000;
      if (everyMs > 0) {
        this.checkpointTimer = setInterval(() => {
          if (this.sinceCheckpoint > 0 && !this.closed) this.enqueue(this.checkpoint('interval'));
        }, everyMs);
        this.checkpointTimer.unref();
      }
    }
  }

  /**
   * Opens the log. A file is opened for append (created with mode 0600); when it already holds
   * lines, the chain continues from its last line (seq + 1, prev = its hash), read from the end
   * of the file. A file whose last line is not a complete audit line is refused (AuditLogError):
   * appending to it would hide that; verify it and move it aside. Stdout starts a chain at
   * GENESIS on every start.
   */
  static async open(target: AuditTarget, options: AuditLogOptions = {}): Promise<AuditLog> {
    const kinds = [target.file !== undefined, target.stdout === true, target.stream !== undefined].filter(Boolean).length;
    if (kinds !== 1) throw new AuditLogError('the audit log goes to exactly one place: a file or stdout');
    if (target.file !== undefined) {
      if (!target.file) throw new AuditLogError('the audit log file name is empty');
      const { handle, seq, prev, last } = await openAuditFile(target.file);
      // With a key, the previous run must have ended with its signed closing checkpoint;
      // anything else (a crash, lines appended while the daemon was stopped) is recorded as unsigned.
      const after = seq === 0 ? 'start' : options.signingKey && isCheckpoint(last) && last.checkpoint.reason === 'close' && checkpointVerifies(options.signingKey, last) ? 'close' : 'unsigned';
      return new AuditLog(fileSink(handle, target.file), seq, prev, options, after);
    }
    const stream = target.stream ?? process.stdout;
    return new AuditLog(streamSink(stream, target.stream ? 'the audit stream' : 'stdout'), 0, GENESIS, options, 'start');
  }

  /** The hash of the last line recorded (GENESIS before the first): what an operator records to detect truncation. */
  get lastHash(): string {
    return this.prev;
  }

  /** The seq of the last line recorded (0 before the first). */
  get lastSeq(): number {
    return this.seq;
  }

  /** Adds a line for one call. Never throws, never waits; a failure goes to onError. */
  record(entry: AuditEntry): void {
    if (this.closed) {
      this.onError(new AuditLogError(`audit log closed: the entry for ${this.clean(String(entry?.rpc))} was not written`));
      return;
    }
    let text: string;
    try {
      text = this.seal(entry);
    } catch (error) {
      this.onError(new AuditLogError(`audit entry not written: ${(error as Error).message}`));
      return;
    }
    this.enqueue(text);
    if (this.key) {
      this.sinceCheckpoint += 1;
      if (this.sinceCheckpoint >= this.everyLines) this.enqueue(this.checkpoint('interval'));
    }
  }

  private enqueue(text: string): void {
    this.pending.push(text);
    if (!this.scheduled && !this.writing) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** A signed checkpoint line (the chain moves on past it). */
  private checkpoint(reason: CheckpointInfo['reason'], after?: CheckpointInfo['after']): string {
    const seq = this.seq + 1;
    const fields = {
      time: new Date().toISOString(),
      checkpoint: { alg: 'HMAC-SHA256' as const, key_id: this.keyId!, reason, ...(after ? { after } : {}) },
      seq,
      prev: this.prev,
    };
    const { text, hash } = sealCheckpoint({ ...fields, mac: checkpointMac(this.key!, fields) });
    this.seq = seq;
    this.prev = hash;
    this.sinceCheckpoint = 0;
    return text;
  }

  /** Writes the pending lines (and, with a key, the closing checkpoint) and closes the file (stdout stays open). Resolves, never rejects. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      if (this.checkpointTimer) clearInterval(this.checkpointTimer);
      if (this.key) this.enqueue(this.checkpoint('close'));
      this.closing = (async () => {
        // Write what is pending now (flush is idempotent with the scheduled one).
        while (this.writing || this.pending.length > 0) {
          if (this.writing) await this.writing;
          else this.flush();
        }
        try {
          await this.sink.close();
        } catch (error) {
          this.onError(new AuditLogError(`closing ${this.sink.describe} failed: ${(error as Error).message}`));
        }
      })();
    }
    return this.closing;
  }

  private flush(): void {
    this.scheduled = false;
    if (this.writing || this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    const chunk = `${lines.join('\n')}\n`;
    this.writing = this.sink.write(chunk).then(
      () => undefined,
      (error: Error) => this.onError(new AuditLogError(`writing ${lines.length} audit line(s) to ${this.sink.describe} failed; they are lost: ${error.message}`)),
    );
    void this.writing.then(() => {
      this.writing = undefined;
      if (this.pending.length > 0 && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private seal(entry: AuditEntry): string {
    const code = Number.isInteger(entry.code) ? entry.code : 2;
    const duration = Number(entry.durationMs);
    const time = entry.time instanceof Date && !Number.isNaN(entry.time.getTime()) ? entry.time : new Date();
    const ds = entry.dataSource;
    const seq = this.seq + 1;
    const count = Number.isSafeInteger(entry.count) && (entry.count as number) > 1 ? entry.count : undefined;
    const { text, hash } = sealLine({
      time: time.toISOString(),
      principal: this.clean(entry.principal) ?? '',
      rpc: this.clean(entry.rpc) ?? '',
      ...(ds ? { data_source: { id: this.clean(ds.id), type: this.clean(ds.type), host: this.clean(hostOnly(ds.host)) } } : {}),
      ...(entry.keys?.length
        ? { keys: entry.keys.map((k) => ({ operation: this.clean(k.operation), key_provider: this.clean(k.keyProvider), key_id: this.clean(k.keyId), outcome: this.clean(k.outcome) })) }
        : {}),
      outcome: outcomeOf(code),
      code,
      duration_ms: Number.isFinite(duration) && duration > 0 ? Math.round(duration * 1000) / 1000 : 0,
      trace_id: this.clean(entry.traceId),
      ...(entry.peer !== undefined ? { peer: this.clean(entry.peer) } : {}),
      ...(count !== undefined ? { count } : {}),
      seq,
      prev: this.prev,
    });
    this.seq = seq;
    this.prev = hash;
    return text;
  }

  /** A string fit for the log (null when absent or empty): credentials in a URL removed, a token withheld, cut to length. */
  private clean(value: string | undefined | null): string | null {
    if (value === undefined || value === null || value === '') return null;
    let s = String(value).replace(/\/\/[^/@\s]*@/g, '//');
    if (/^eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*$/.test(s)) return '[REDACTED token]';
    if (s.length > this.maxString) {
      let cut = this.maxString;
      const last = s.charCodeAt(cut - 1);
      if (last >= 0xd800 && last <= 0xdbff) cut -= 1; // do not split a surrogate pair
      s = `${s.slice(0, cut)}…[+${s.length - cut} chars]`;
    }
    return s;
  }
}

/** Only the host (and port) of a value that may be a URL or carry "user:password@". */
export function hostOnly(value: string | undefined): string | undefined {
  if (value === undefined || value === null) return value;
  let s = String(value).trim();
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const at = s.lastIndexOf('@');
  if (at >= 0) s = s.slice(at + 1);
  const end = s.search(/[/?#]/);
  return end >= 0 ? s.slice(0, end) : s;
}

function defaultOnError(error: Error): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'audit log', error: error.message })}\n`);
}

/** Opens a file for append and reads where its chain stands from the end of the file. */
async function openAuditFile(path: string): Promise<{ handle: FileHandle; seq: number; prev: string; last?: unknown }> {
  let handle: FileHandle;
  try {
    handle = await openFile(path, 'a+', 0o600);
  } catch (error) {
    throw new AuditLogError(`cannot open the audit log ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    const stat = await handle.stat();
    // A device or pipe (e.g. /dev/stdout) has no lines to continue from.
    if (!stat.isFile() || stat.size === 0) return { handle, seq: 0, prev: GENESIS };
    const last = await readLastLine(handle, stat.size, path);
    const problem = `the audit log ${path} does not end with a complete audit line`;
    let parsed: Partial<AuditLine>;
    try {
      parsed = JSON.parse(last) as Partial<AuditLine>;
    } catch {
      throw new AuditLogError(`${problem} (its last line is not JSON): check it with \`sourced audit verify ${path}\` and move it aside`);
    }
    if (!parsed || typeof parsed.hash !== 'string' || !/^[0-9a-f]{64}$/.test(parsed.hash) || !Number.isSafeInteger(parsed.seq) || (parsed.seq as number) < 1) {
      throw new AuditLogError(`${problem} (its last line has no valid seq and hash): check it with \`sourced audit verify ${path}\` and move it aside`);
    }
    return { handle, seq: parsed.seq as number, prev: parsed.hash, last: parsed };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error instanceof AuditLogError ? error : new AuditLogError(`cannot read the audit log ${path}: ${(error as Error).message}`);
  }
}

/** The file's last line (which must end with "\n"), read backwards in chunks. */
async function readLastLine(handle: FileHandle, size: number, path: string): Promise<string> {
  const end = Buffer.alloc(1);
  await handle.read(end, 0, 1, size - 1);
  if (end[0] !== 0x0a) {
    throw new AuditLogError(`the audit log ${path} does not end with a complete audit line (no newline at its end: a write was cut short?): check it with \`sourced audit verify ${path}\` and move it aside`);
  }
  const lineEnd = size - 1; // the final "\n"
  let start = lineEnd;
  let tail = Buffer.alloc(0);
  while (start > 0) {
    const from = Math.max(0, start - TAIL_CHUNK);
    const chunk = Buffer.alloc(start - from);
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, from);
    tail = Buffer.concat([chunk.subarray(0, bytesRead), tail]);
    start = from;
    const nl = tail.lastIndexOf(0x0a, tail.length - 1);
    if (nl >= 0) return tail.subarray(nl + 1).toString('utf8');
    if (tail.length > MAX_TAIL_BYTES) throw new AuditLogError(`the audit log ${path} does not end with an audit line (its last line is over 1 MiB)`);
  }
  return tail.toString('utf8');
}

function fileSink(handle: FileHandle, path: string): Sink {
  // After a write that failed part-way, the next one starts on a fresh line, so the torn line
  // stays a line of its own (verify reports it) instead of swallowing the next one.
  let torn = false;
  return {
    describe: path,
    async write(chunk) {
      let buffer = Buffer.from(torn ? `\n${chunk}` : chunk, 'utf8');
      let wroteAny = false;
      try {
        while (buffer.length > 0) {
          const { bytesWritten } = await handle.write(buffer, 0, buffer.length, null);
          if (bytesWritten > 0) wroteAny = true;
          buffer = buffer.subarray(bytesWritten);
        }
        torn = false;
      } catch (error) {
        if (wroteAny) torn = true;
        throw error;
      }
    },
    close: () => handle.close(),
  };
}

function streamSink(stream: NodeJS.WritableStream, describe: string): Sink {
  let failure: Error | undefined;
  const onStreamError = (error: Error) => {
    failure = error;
  };
  stream.on('error', onStreamError);
  return {
    describe,
    write: (chunk) =>
      new Promise<void>((resolve, reject) => {
        if (failure) return reject(failure);
        stream.write(chunk, (error?: Error | null) => (error ? reject(error) : resolve()));
      }),
    async close() {
      stream.off('error', onStreamError);
    },
  };
}
