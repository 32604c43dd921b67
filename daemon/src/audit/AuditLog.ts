import { checkpointMac, checkpointVerifies, GENESIS, isCheckpoint, keyId, outcomeOf, sealCheckpoint, sealLine, type CheckpointInfo } from './lineFormat';
import { AuditLogError, fileSink, openAuditFile, streamSink, type Sink } from './auditSinks';

export { AuditLogError } from './auditSinks';

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
 * `lineFormat.ts`; where lines are written (a file and its chain's tail, or a stream), in
 * `auditSinks.ts`.
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

/** A field as a JavaScript caller may really pass it (record() never throws): read as a string or a number. */
type Loose = string | number | boolean | null | undefined;

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
      const after =
        seq === 0
          ? 'start'
          : options.signingKey && isCheckpoint(last) && last.checkpoint.reason === 'close' && checkpointVerifies(options.signingKey, last)
            ? 'close'
            : 'unsigned';
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
      // record() never throws, whatever a JavaScript caller passes: the entry is read as untrusted.
      const rpc = (entry as Partial<AuditEntry> | undefined)?.rpc;
      this.onError(new AuditLogError(`audit log closed: the entry for ${this.clean(String(rpc))} was not written`));
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
    const { key, keyId: id } = this;
    if (!key || id === undefined) throw new AuditLogError('internal error: a checkpoint without a signing key');
    const seq = this.seq + 1;
    const fields = {
      time: new Date().toISOString(),
      checkpoint: { alg: 'HMAC-SHA256' as const, key_id: id, reason, ...(after ? { after } : {}) },
      seq,
      prev: this.prev,
    };
    const { text, hash } = sealCheckpoint({ ...fields, mac: checkpointMac(key, fields) });
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
      (error: unknown) =>
        this.onError(new AuditLogError(`writing ${lines.length} audit line(s) to ${this.sink.describe} failed; they are lost: ${(error as Error).message}`)),
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
    // From a JavaScript caller the duration may be a string or missing.
    const durationMs = entry.durationMs as Loose;
    const duration = Number(durationMs);
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
        ? {
            keys: entry.keys.map((k) => ({
              operation: this.clean(k.operation),
              key_provider: this.clean(k.keyProvider),
              key_id: this.clean(k.keyId),
              outcome: this.clean(k.outcome),
            })),
          }
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
  private clean(value: Loose): string | null {
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

/**
 * Only the host (and port) of a value that may be a URL or carry "user:password@"; undefined and
 * null stay as they are. From a JavaScript caller the value may be anything: it is read as a string.
 */
export function hostOnly(value: Loose): string | null | undefined {
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
