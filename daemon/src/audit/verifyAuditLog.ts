import { open as openFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import {
  checkpointMacForm,
  GENESIS,
  isCheckpoint,
  keyId,
  outcomeOf,
  sealCheckpoint,
  sealLine,
  type AuditLine,
  type CheckpointLine,
  type HashForm,
} from './lineFormat';

/** What verifyAuditLog found. */
export type VerifyResult =
  | {
      ok: true;
      /** Lines in the file. */
      lines: number;
      /** The last line's hash (GENESIS for an empty file): record it elsewhere to detect truncation later. */
      lastHash: string;
      /** The last line's seq (0 for an empty file). */
      lastSeq: number;
      /** With expectLast: the line that has that hash, and how many lines were appended after it. */
      expected?: { line: number; linesAfter: number };
      /** Signed checkpoints in the file (checked with the key when one was given). */
      checkpoints: number;
      /** With a key: the last line a verified checkpoint signs (0 for none). */
      signedThrough?: number;
      /** Lines hashed (and checkpoints signed) in format 1, the written text, by a daemon from before RFC 8785; absent when none. */
      legacyLines?: number;
    }
  | {
      ok: false;
      /** The line (1-based, as an editor counts) where the first problem shows. */
      line: number;
      /** The problem, naming the line. */
      problem: string;
    };

export interface VerifyOptions {
  /**
   * A hash recorded earlier (the `lastHash` of an earlier verify, or the daemon's last line then).
   * The chain must still contain a line with it; lines appended after it are fine. Without it,
   * lines removed from the end of the file cannot be told from a log that just ended there.
   */
  expectLast?: string;
  /**
   * The audit signing key (audit.signingKey's value). Then every checkpoint's MAC must verify,
   * each run must start where the previous one signed its close, nothing may follow a closing
   * checkpoint but the next run's opening one, and every line must be signed by a checkpoint
   * after it, unless `allowUnsignedTail` (a running daemon signs its latest lines later).
   */
  key?: Buffer;
  allowUnsignedTail?: boolean;
}

/** The file cannot be read at all (missing, a directory, no permission). */
export class AuditFileError extends Error {
  override name = 'AuditFileError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const KEYS = ['time', 'principal', 'rpc', 'outcome', 'code', 'duration_ms', 'trace_id', 'seq', 'prev', 'hash'];
const KEYS_WITH_SOURCE = ['time', 'principal', 'rpc', 'data_source', 'outcome', 'code', 'duration_ms', 'trace_id', 'seq', 'prev', 'hash'];
const SOURCE_KEYS = ['id', 'type', 'host'];
const KEY_USE_KEYS = ['operation', 'key_provider', 'key_id', 'outcome'];
const CHECKPOINT_KEYS = ['time', 'checkpoint', 'seq', 'prev', 'mac', 'hash'];
const REASONS = ['open', 'interval', 'close'];
const AFTER = ['start', 'close', 'unsigned'];

const sameKeys = (value: object, keys: string[]) => {
  const actual = Object.keys(value);
  return actual.length === keys.length && actual.every((k, i) => k === keys[i]);
};
const stringOrNull = (v: unknown) => v === null || typeof v === 'string';

/** Why a parsed line is not one the daemon writes, or undefined when its shape is right. */
function shapeProblem(value: unknown): string | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'it is not a JSON object';
  const o = value as Record<string, unknown>;
  if ('checkpoint' in o) return checkpointShapeProblem(o);
  const keys = [...('data_source' in o ? KEYS_WITH_SOURCE : KEYS)];
  // keys (encryption key uses) go before outcome.
  if ('keys' in o) keys.splice(keys.indexOf('outcome'), 0, 'keys');
  // peer and count (refused callers) go after trace_id, in that order.
  for (const optional of ['count', 'peer']) if (optional in o) keys.splice(keys.indexOf('trace_id') + 1, 0, optional);
  if (!sameKeys(o, keys)) {
    const extra = Object.keys(o).filter((k) => !keys.includes(k));
    const missing = keys.filter((k) => !(k in o));
    if (extra.length) return `it has field "${extra[0]}", which the daemon does not write`;
    if (missing.length) return `field "${missing[0]}" is missing`;
    return 'its fields are not in the order the daemon writes them';
  }
  if (typeof o.time !== 'string' || Number.isNaN(Date.parse(o.time))) return '"time" is not a time';
  if (typeof o.principal !== 'string') return '"principal" is not a string';
  if (typeof o.rpc !== 'string') return '"rpc" is not a string';
  if ('data_source' in o) {
    const ds = o.data_source;
    if (!ds || typeof ds !== 'object' || Array.isArray(ds) || !sameKeys(ds, SOURCE_KEYS)) return '"data_source" is not {id, type, host}';
    if (!SOURCE_KEYS.every((k) => stringOrNull((ds as Record<string, unknown>)[k]))) return 'a "data_source" field is neither a string nor null';
  }
  if ('keys' in o) {
    const uses = o.keys;
    if (!Array.isArray(uses) || uses.length === 0) return '"keys" is not a non-empty list';
    for (const u of uses as unknown[]) {
      if (!u || typeof u !== 'object' || Array.isArray(u) || !sameKeys(u, KEY_USE_KEYS))
        return 'a "keys" entry is not {operation, key_provider, key_id, outcome}';
      if (!KEY_USE_KEYS.every((k) => stringOrNull((u as Record<string, unknown>)[k]))) return 'a "keys" field is neither a string nor null';
    }
  }
  if (!Number.isInteger(o.code)) return '"code" is not a whole number';
  if (o.outcome !== outcomeOf(o.code as number)) return `"outcome" ${JSON.stringify(o.outcome)} is not the name of code ${String(o.code)}`;
  if (typeof o.duration_ms !== 'number' || !(o.duration_ms >= 0)) return '"duration_ms" is not a duration';
  if (!stringOrNull(o.trace_id)) return '"trace_id" is neither a string nor null';
  if ('peer' in o && !stringOrNull(o.peer)) return '"peer" is neither a string nor null';
  if ('count' in o && (!Number.isSafeInteger(o.count) || (o.count as number) < 2)) return '"count" is not a whole number above 1';
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 1) return '"seq" is not a positive whole number';
  if (typeof o.prev !== 'string' || !HEX64.test(o.prev)) return '"prev" is not a SHA-256 hash';
  if (typeof o.hash !== 'string' || !HEX64.test(o.hash)) return '"hash" is not a SHA-256 hash';
  return undefined;
}

function checkpointShapeProblem(o: Record<string, unknown>): string | undefined {
  if (!sameKeys(o, CHECKPOINT_KEYS)) return 'its fields are not those of a checkpoint, in the order the daemon writes them';
  const c = o.checkpoint as Record<string, unknown> | null | undefined;
  if (!c || typeof c !== 'object' || Array.isArray(c)) return '"checkpoint" is not an object';
  if (!sameKeys(c, 'after' in c ? ['alg', 'key_id', 'reason', 'after'] : ['alg', 'key_id', 'reason']))
    return '"checkpoint" is not {alg, key_id, reason, after}';
  if (c.alg !== 'HMAC-SHA256') return `"checkpoint.alg" ${JSON.stringify(c.alg)} is not HMAC-SHA256`;
  if (typeof c.key_id !== 'string' || !/^[0-9a-f]{16}$/.test(c.key_id)) return '"checkpoint.key_id" is not a key id';
  if (!REASONS.includes(c.reason as string)) return '"checkpoint.reason" is not open, interval or close';
  if ('after' in c !== (c.reason === 'open') || ('after' in c && !AFTER.includes(c.after as string)))
    return '"checkpoint.after" is not start, close or unsigned on an opening checkpoint';
  if (typeof o.time !== 'string' || Number.isNaN(Date.parse(o.time))) return '"time" is not a time';
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 1) return '"seq" is not a positive whole number';
  if (typeof o.prev !== 'string' || !HEX64.test(o.prev)) return '"prev" is not a SHA-256 hash';
  if (typeof o.mac !== 'string' || !HEX64.test(o.mac)) return '"mac" is not an HMAC-SHA256';
  if (typeof o.hash !== 'string' || !HEX64.test(o.hash)) return '"hash" is not a SHA-256 hash';
  return undefined;
}

type Parsed = { ok: true; line: AuditLine | CheckpointLine; form: HashForm } | { ok: false; problem: string };

/** Parses one line and checks it against its own hash (nothing about its neighbours). */
function parseLine(text: string, n: number): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: text.trim() === '' ? `line ${n} is empty (not JSON)` : `line ${n} is not JSON` };
  }
  const shape = shapeProblem(value);
  if (shape) return { ok: false, problem: `line ${n} was edited: it is not an audit line as the daemon writes it (${shape})` };
  const line = value as AuditLine | CheckpointLine;
  const { hash: _hash, ...fields } = line;
  const seal = (form: HashForm) =>
    isCheckpoint(line) ? sealCheckpoint(fields as Omit<CheckpointLine, 'hash'>, form) : sealLine(fields as Omit<AuditLine, 'hash'>, form);
  // RFC 8785 (format 2, what the daemon writes), else the written text (format 1, logs from before).
  let form: HashForm = 'rfc8785';
  let sealed = seal(form);
  if (sealed.hash !== line.hash) {
    form = 'legacy';
    sealed = seal(form);
  }
  if (sealed.hash !== line.hash) return { ok: false, problem: `line ${n} was edited (its hash does not match its content)` };
  if (sealed.text !== text) return { ok: false, problem: `line ${n} was edited (its values match its hash, but its text is not what the daemon writes)` };
  return { ok: true, line, form };
}

/**
 * Reads an audit log line by line and checks the chain: every line's hash against its content,
 * `prev` against the previous line's hash (GENESIS for the first line), `seq` counting up by
 * one. Reports the first problem, naming its line. Rejects with AuditFileError when the file
 * cannot be read.
 *
 * What it proves: no line up to the last one was edited, removed, inserted or reordered, unless
 * whoever did it recomputed every hash after it (the chain has no key); lines removed from the
 * end are invisible without `expectLast`. A hash recorded elsewhere (expectLast) closes both
 * gaps for the lines up to it.
 */
export async function verifyAuditLog(path: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const expectLast = options.expectLast?.toLowerCase();
  const handle = await openFile(path, 'r').catch((reason: unknown) => {
    const error = reason as NodeJS.ErrnoException;
    const why = { ENOENT: 'no such file', EACCES: 'permission denied', EPERM: 'permission denied' }[error.code ?? ''];
    throw new AuditFileError(`cannot read ${path} (${why ? `${why}, ${error.code}` : (error.code ?? error.message)})`, error.code);
  });
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new AuditFileError(
      `cannot read ${path} (${stat.isDirectory() ? 'it is a directory' : 'it is not a regular file'})`,
      stat.isDirectory() ? 'EISDIR' : 'EINVAL',
    );
  }
  const stream = handle.createReadStream({ encoding: 'utf8', highWaterMark: 256 * 1024 });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });

  let n = 0;
  let lastHash = GENESIS;
  let lastSeq = 0;
  let expectedLine: number | undefined;
  const key = options.key;
  const wantedKeyId = key ? keyId(key) : undefined;
  let checkpoints = 0;
  let legacyLines = 0;
  // With a key: the last line a verified checkpoint signs, and the line of the last closing checkpoint.
  let signedThrough = 0;
  let closedAt: number | undefined;
  // A seq jump waits one line: when the next line holds the missing seq, lines were reordered.
  let jump: { line: number; from: number; to: number } | undefined;
  const fail = (line: number, problem: string): VerifyResult => ({ ok: false, line, problem });
  const missing = (j: { line: number; from: number; to: number }) => {
    const count = j.to - j.from - 1;
    return fail(j.line, `${count === 1 ? 'a line is' : `${count} lines are`} missing before line ${j.line} (seq jumps from ${j.from} to ${j.to})`);
  };

  try {
    for await (const text of lines) {
      n += 1;
      const parsed = parseLine(text, n);
      if (jump) {
        if (parsed.ok && parsed.line.seq === jump.from + 1) {
          return fail(jump.line, `line ${jump.line} (seq ${jump.to}) comes before line ${n} (seq ${jump.from + 1}): lines were reordered`);
        }
        return missing(jump);
      }
      if (!parsed.ok) return fail(n, parsed.problem);
      const { seq, prev, hash } = parsed.line;
      if (n === 1) {
        if (prev !== GENESIS || seq !== 1) {
          return fail(
            1,
            `the first line does not start a chain: lines before it were removed (its seq is ${seq} and its prev is ${prev === GENESIS ? 'the genesis value' : 'not the genesis value'})`,
          );
        }
      } else if (prev === GENESIS) {
        return fail(
          n,
          `line ${n} starts a new chain (seq ${seq}, genesis prev): this file joins the lines of several chains (stdout of several runs?), or the lines before it were replaced`,
        );
      } else if (seq > lastSeq + 1) {
        jump = { line: n, from: lastSeq, to: seq };
        continue;
      } else if (seq <= lastSeq) {
        return fail(n, `line ${n} is out of order (seq ${seq} after ${lastSeq}): lines were reordered or repeated`);
      } else if (prev !== lastHash) {
        return fail(n, `line ${n} does not follow line ${n - 1} (prev hash differs): a line was removed, inserted or replaced`);
      }
      const line = parsed.line;
      if (isCheckpoint(line)) checkpoints += 1;
      if (parsed.form === 'legacy') legacyLines += 1;
      if (key) {
        const problem = signatureProblem(key, line, n, parsed.form);
        if (problem) return fail(n, problem);
      }
      lastHash = hash;
      lastSeq = seq;
      if (expectLast !== undefined && hash === expectLast) expectedLine = n;
    }
  } finally {
    lines.close();
    stream.destroy();
  }
  if (jump) return missing(jump);
  if (key && signedThrough < n && !options.allowUnsignedTail) {
    return fail(
      signedThrough + 1,
      `${range(signedThrough + 1, n)} not signed by a checkpoint after ${n - signedThrough === 1 ? 'it' : 'them'}: appended to the log, or written by a daemon that is still running or crashed before signing them (it signs every audit.checkpointEveryLines lines, every audit.checkpointEveryMs and when it stops); --allow-unsigned-tail accepts lines a running daemon has not signed yet`,
    );
  }
  const signed = { checkpoints, ...(key ? { signedThrough } : {}), ...(legacyLines ? { legacyLines } : {}) };
  if (expectLast !== undefined) {
    if (expectedLine === undefined && !(n === 0 && expectLast === GENESIS)) {
      return fail(
        n,
        `the recorded hash ${expectLast} is not in the chain: lines were removed from the end (the file now ends at line ${n}${n ? `, seq ${lastSeq}` : ''}), or this is another file`,
      );
    }
    return { ok: true, lines: n, lastHash, lastSeq, expected: { line: expectedLine ?? 0, linesAfter: n - (expectedLine ?? 0) }, ...signed };
  }
  return { ok: true, lines: n, lastHash, lastSeq, ...signed };

  /** With the key: what is wrong with line n as to signatures (its chain is already checked). */
  function signatureProblem(key: Buffer, line: AuditLine | CheckpointLine, n: number, form: HashForm): string | undefined {
    const opening = isCheckpoint(line) && line.checkpoint.reason === 'open';
    if (closedAt === n - 1 && !opening) return `line ${n} was appended after the daemon closed the log (its signed closing checkpoint is line ${n - 1})`;
    if (!isCheckpoint(line)) return undefined;
    if (line.checkpoint.key_id !== wantedKeyId) {
      return `line ${n} is a checkpoint under another key (key id ${line.checkpoint.key_id}; the key given has ${wantedKeyId}): forged, or checked with the wrong key`;
    }
    // The MAC is in the form of the line's hash (a checkpoint is written in one format).
    if (checkpointMacForm(key, line) !== form)
      return `line ${n} is a checkpoint whose signature does not verify: it was forged or edited, or checked with the wrong key`;
    if (opening) {
      const after = line.checkpoint.after;
      if (after === 'start' && n !== 1) return `line ${n} says the daemon started an empty log, but ${n - 1} line${n === 2 ? '' : 's'} come before it`;
      if (after === 'close' && closedAt !== n - 1) return `line ${n} says the daemon started after a signed close, but line ${n - 1} is not one`;
      if (after === 'unsigned') {
        return `${range(signedThrough + 1, n - 1)} not signed: when the daemon started again (line ${n}) it found ${n - 1 - signedThrough === 1 ? 'it' : 'them'} after its last signed checkpoint (it had crashed, or lines were appended while it was stopped)`;
      }
    }
    signedThrough = n;
    closedAt = line.checkpoint.reason === 'close' ? n : undefined;
    return undefined;
  }
}

/** "line 5 is" / "lines 5–9 are". */
function range(from: number, to: number): string {
  return from >= to ? `line ${from} is` : `lines ${from}–${to} are`;
}
