import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import canonicalize from 'canonicalize';

/**
 * The audit log's line format: what a line holds, the text the daemon writes, and what its hash
 * and a checkpoint's MAC are computed over.
 *
 * A call's line holds these fields, written in this order (`data_source` only when the call
 * named one):
 *
 *   {"time","principal","rpc","data_source":{"id","type","host"},
 *    "keys":[{"operation","key_provider","key_id","outcome"}],"outcome","code",
 *    "duration_ms","trace_id","peer","count","seq","prev","hash"}
 *
 * `keys` only on lines of calls that used encryption keys (EncryptSecret, ReencryptSecret, a
 * call whose secrets were envelopes): each use's operation (`encrypt`, `decrypt`,
 * `reencrypt`), key provider, key id and outcome (`OK` or the error's reason); never a value,
 * a data key or an envelope.
 *
 * `peer` (the caller's address) and `count` only on lines for calls refused before the caller
 * was known (authentication failed, or the peer's failures are rate-limited): the first such
 * failure of a peer in `audit.aggregateFailuresMs` is a line of its own, the rest of that window
 * one line with their `count` (`time` is the first one's, `duration_ms` their total).
 *
 * With a signing key (`audit.signingKey`, a secret reference), the log also holds signed
 * checkpoints, each a line of the chain:
 *
 *   {"time","checkpoint":{"alg":"HMAC-SHA256","key_id","reason","after"},"seq","prev","mac","hash"}
 *
 * `reason` is `open` (first line of each run; `after` says what it found before it: `start` an
 * empty log, `close` the previous run's closing checkpoint, `unsigned` anything else — lines
 * nobody signed), `interval` (every `audit.checkpointEveryLines` lines or
 * `audit.checkpointEveryMs`) or `close` (the last line of a run). `key_id` names the key without
 * revealing it (see {@link keyId}).
 *
 * Hash and MAC (format 2, RFC 8785): `hash` is the hex SHA-256 of the UTF-8 bytes of the
 * RFC 8785 (JSON Canonicalization Scheme) serialization of the line's other members; a
 * checkpoint's `mac` is the hex HMAC-SHA256, under the key, of the RFC 8785 serialization of the
 * line without `mac` and `hash`. Since `prev` chains every line before, a checkpoint signs them
 * all. Any JCS library reproduces both from the parsed line.
 *
 * The written text is not the canonical form: it keeps the members in the order above (time
 * first, hash last) and escapes, as `\uXXXX`, the characters a terminal or log viewer could
 * misread (DEL, C1 controls, line/paragraph separators, bidirectional overrides) besides the C0
 * controls JSON.stringify escapes. RFC 8785 sorts members by their UTF-16 code units and writes
 * those characters raw; the text is for people, the canonical form for hashing.
 *
 * Format 1 (logs written before the RFC 8785 switch) hashed and signed the written text itself
 * (the line with `,"hash":"…"` cut out; for a checkpoint also without `,"mac":"…"`). The two
 * forms never give the same bytes (the written order is not sorted), so a verifier tells them
 * apart by which one the line's hash matches; verifyAuditLog accepts both, and a checkpoint's MAC
 * must be in the same form as its hash.
 */

/** One line as written (and as verifyAuditLog reads it). */
export interface AuditLine {
  time: string;
  principal: string;
  rpc: string;
  data_source?: { id: string | null; type: string | null; host: string | null };
  keys?: { operation: string | null; key_provider: string | null; key_id: string | null; outcome: string | null }[];
  outcome: string;
  code: number;
  duration_ms: number;
  trace_id: string | null;
  peer?: string | null;
  count?: number;
  seq: number;
  prev: string;
  hash: string;
}

/** Why a checkpoint was written; `after` (open only) what the daemon found before it. */
export interface CheckpointInfo {
  alg: 'HMAC-SHA256';
  key_id: string;
  reason: 'open' | 'interval' | 'close';
  after?: 'start' | 'close' | 'unsigned';
}

/** A signed checkpoint line. */
export interface CheckpointLine {
  time: string;
  checkpoint: CheckpointInfo;
  seq: number;
  prev: string;
  mac: string;
  hash: string;
}

/**
 * What a line's hash (and a checkpoint's MAC) is computed over: `rfc8785`, the RFC 8785
 * serialization (what the daemon writes), or `legacy`, the written text (logs from before).
 */
export type HashForm = 'rfc8785' | 'legacy';

/** The `prev` of a chain's first line. */
export const GENESIS = '0'.repeat(64);

/** The gRPC status names, by code. */
const STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/** "OK", or the status name of a gRPC code ("UNKNOWN" for a code outside 0–16). */
export function outcomeOf(code: number): string {
  return STATUS_NAMES[code] ?? 'UNKNOWN';
}

// Characters JSON.stringify leaves raw that a terminal or viewer may act on.
const EXTRA_ESCAPES = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The RFC 8785 (JSON Canonicalization Scheme) text of `value`. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('the value has no JSON form');
  return text;
}

/** The written text of `value`: members in their order, characters a terminal could misread escaped. */
export function lineJson(value: unknown): string {
  return JSON.stringify(value).replace(EXTRA_ESCAPES, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The bytes a hash or MAC covers, in a form. */
function hashInput(value: unknown, form: HashForm): string {
  return form === 'rfc8785' ? canonicalJson(value) : lineJson(value);
}

/** Hex SHA-256 of a text's UTF-8 bytes. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The fields of a line other than `hash`, in line order (the object whose canonical form is hashed). */
export function unhashedFields(line: Omit<AuditLine, 'hash'>): Omit<AuditLine, 'hash'> {
  return {
    time: line.time,
    principal: line.principal,
    rpc: line.rpc,
    ...(line.data_source ? { data_source: { id: line.data_source.id, type: line.data_source.type, host: line.data_source.host } } : {}),
    ...(line.keys ? { keys: line.keys.map((k) => ({ operation: k.operation, key_provider: k.key_provider, key_id: k.key_id, outcome: k.outcome })) } : {}),
    outcome: line.outcome,
    code: line.code,
    duration_ms: line.duration_ms,
    trace_id: line.trace_id,
    ...(line.peer !== undefined ? { peer: line.peer } : {}),
    ...(line.count !== undefined ? { count: line.count } : {}),
    seq: line.seq,
    prev: line.prev,
  };
}

/** The fields of a checkpoint that its MAC covers, in line order. */
function checkpointSigned(line: Pick<CheckpointLine, 'time' | 'checkpoint' | 'seq' | 'prev'>) {
  const c = line.checkpoint;
  return {
    time: line.time,
    checkpoint: { alg: c.alg, key_id: c.key_id, reason: c.reason, ...(c.after !== undefined ? { after: c.after } : {}) },
    seq: line.seq,
    prev: line.prev,
  };
}

/** A signing key's id: the first 16 hex digits of HMAC-SHA256(key, "sourced audit key id"), which names the key without revealing it. */
export function keyId(key: Buffer): string {
  return createHmac('sha256', key).update('sourced audit key id').digest('hex').slice(0, 16);
}

/** The MAC a checkpoint line must carry under `key` (RFC 8785 form unless told). */
export function checkpointMac(key: Buffer, line: Pick<CheckpointLine, 'time' | 'checkpoint' | 'seq' | 'prev'>, form: HashForm = 'rfc8785'): string {
  return createHmac('sha256', key)
    .update(hashInput(checkpointSigned(line), form), 'utf8')
    .digest('hex');
}

/** The form in which a checkpoint's MAC is the one `key` gives (constant-time comparisons), or undefined when it is neither. */
export function checkpointMacForm(key: Buffer, line: CheckpointLine): HashForm | undefined {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- exported: a JavaScript caller may pass a parsed line whose mac is no string (Buffer.from would throw)
  const actual = Buffer.from(String(line.mac), 'hex');
  for (const form of ['rfc8785', 'legacy'] as const) {
    const expected = Buffer.from(checkpointMac(key, line, form), 'hex');
    if (actual.length === expected.length && timingSafeEqual(actual, expected)) return form;
  }
  return undefined;
}

/** Whether a checkpoint's MAC is the one `key` gives, in either form (constant time). */
export function checkpointVerifies(key: Buffer, line: CheckpointLine): boolean {
  return checkpointMacForm(key, line) !== undefined;
}

/** Serializes a checkpoint line (without its hash) and hashes it. */
export function sealCheckpoint(fields: Omit<CheckpointLine, 'hash'>, form: HashForm = 'rfc8785'): { text: string; hash: string } {
  return seal({ ...checkpointSigned(fields), mac: fields.mac }, form);
}

/** Serializes a line (without its hash) and hashes it: the line's text and its hash. */
export function sealLine(fields: Omit<AuditLine, 'hash'>, form: HashForm = 'rfc8785'): { text: string; hash: string } {
  return seal(unhashedFields(fields), form);
}

/** The written text of the members (hash appended last) and the hash of their canonical form. */
function seal(members: object, form: HashForm): { text: string; hash: string } {
  const body = lineJson(members);
  const hash = sha256Hex(hashInput(members, form));
  return { text: `${body.slice(0, -1)},"hash":"${hash}"}`, hash };
}

/** Whether a parsed line is a checkpoint (its shape; not its MAC). */
export function isCheckpoint(line: unknown): line is CheckpointLine {
  const c = (line as { checkpoint?: unknown } | null)?.checkpoint;
  return typeof c === 'object' && c !== null && typeof (line as { mac?: unknown }).mac === 'string';
}
