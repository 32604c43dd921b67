/**
 * The MongoDB wire protocol, as much of it as the official driver uses against a server:
 * the message header, legacy OP_QUERY (the first `ismaster` of every connection) answered
 * with OP_REPLY, and OP_MSG for every command after it. Little-endian throughout; a
 * message is framed by the `messageLength` at its start.
 * https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/
 */
import { deserialize, Long, serialize, type Document } from 'bson';

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;

/** OP_MSG flag bits. */
export const CHECKSUM_PRESENT = 1 << 0;
export const MORE_TO_COME = 1 << 1;
export const EXHAUST_ALLOWED = 1 << 16;

/** The largest message a server accepts (`maxMessageSizeBytes` in hello). */
export const MAX_MESSAGE_SIZE = 48_000_000;

/** A command as a client sent it, whatever the opcode. */
export interface IncomingCommand {
  requestId: number;
  opCode: typeof OP_QUERY | typeof OP_MSG;
  /** The command document; OP_MSG document sequences (kind 1) are folded in under their identifier. */
  command: Document;
  /** OP_QUERY: `<db>.$cmd`'s database; OP_MSG: `$db`. */
  db: string;
  /** OP_MSG moreToCome: the client expects no reply. */
  moreToCome: boolean;
}

/**
 * Splits a byte stream into whole messages. Feed it chunks as they arrive; it returns the
 * complete frames so far and keeps the rest.
 */
export class MessageFramer {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Buffer[] = [];
    while (this.buffered.length >= 4) {
      const length = this.buffered.readInt32LE(0);
      if (length < 16 || length > MAX_MESSAGE_SIZE) throw new Error(`invalid messageLength ${length}`);
      if (this.buffered.length < length) break;
      frames.push(this.buffered.subarray(0, length));
      this.buffered = this.buffered.subarray(length);
    }
    return frames;
  }
}

/** Parses one frame into a command. Throws on opcodes the stand-in does not speak. */
export function parseMessage(frame: Buffer): IncomingCommand {
  const requestId = frame.readInt32LE(4);
  const opCode = frame.readInt32LE(12);
  if (opCode === OP_QUERY) {
    let offset = 20; // header + flags
    const end = frame.indexOf(0, offset);
    const fullCollectionName = frame.toString('utf8', offset, end);
    offset = end + 1 + 8; // cstring, numberToSkip, numberToReturn
    const size = frame.readInt32LE(offset);
    let query = deserialize(frame.subarray(offset, offset + size));
    // Drivers may wrap the command: { $query: {...}, $readPreference: ... }
    if (query.$query) query = query.$query as Document;
    const db = fullCollectionName.endsWith('.$cmd') ? fullCollectionName.slice(0, -5) : fullCollectionName;
    return { requestId, opCode, command: query, db, moreToCome: false };
  }
  if (opCode === OP_MSG) {
    const flags = frame.readUInt32LE(16);
    const end = flags & CHECKSUM_PRESENT ? frame.length - 4 : frame.length;
    let offset = 20;
    let body: Document | undefined;
    const sequences: Record<string, Document[]> = {};
    while (offset < end) {
      const kind = frame.readUInt8(offset);
      offset += 1;
      if (kind === 0) {
        const size = frame.readInt32LE(offset);
        body = deserialize(frame.subarray(offset, offset + size));
        offset += size;
      } else if (kind === 1) {
        const size = frame.readInt32LE(offset);
        const sectionEnd = offset + size;
        const idEnd = frame.indexOf(0, offset + 4);
        const identifier = frame.toString('utf8', offset + 4, idEnd);
        let docOffset = idEnd + 1;
        const docs: Document[] = [];
        while (docOffset < sectionEnd) {
          const docSize = frame.readInt32LE(docOffset);
          docs.push(deserialize(frame.subarray(docOffset, docOffset + docSize)));
          docOffset += docSize;
        }
        sequences[identifier] = docs;
        offset = sectionEnd;
      } else {
        throw new Error(`unknown OP_MSG section kind ${kind}`);
      }
    }
    if (!body) throw new Error('OP_MSG without a body section');
    const command = { ...body, ...sequences };
    return { requestId, opCode, command, db: String(body.$db ?? 'admin'), moreToCome: (flags & MORE_TO_COME) !== 0 };
  }
  throw new Error(`unsupported opcode ${opCode}`);
}

let nextRequestId = 1;

function header(length: number, responseTo: number, opCode: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeInt32LE(length, 0);
  h.writeInt32LE(nextRequestId++ & 0x7fffffff, 4);
  h.writeInt32LE(responseTo, 8);
  h.writeInt32LE(opCode, 12);
  return h;
}

/** An OP_REPLY carrying one document (the answer to a legacy OP_QUERY command). */
export function encodeOpReply(responseTo: number, doc: Document): Buffer {
  const body = serialize(doc);
  const fixed = Buffer.alloc(20);
  fixed.writeInt32LE(0, 0); // responseFlags
  const cursorId = Long.ZERO;
  fixed.writeInt32LE(cursorId.low, 4);
  fixed.writeInt32LE(cursorId.high, 8);
  fixed.writeInt32LE(0, 12); // startingFrom
  fixed.writeInt32LE(1, 16); // numberReturned
  const length = 16 + fixed.length + body.length;
  return Buffer.concat([header(length, responseTo, OP_REPLY), fixed, body]);
}

/** An OP_MSG with flags 0 and one body section. */
export function encodeOpMsg(responseTo: number, doc: Document): Buffer {
  const body = serialize(doc);
  const fixed = Buffer.alloc(5);
  fixed.writeUInt32LE(0, 0); // flagBits
  fixed.writeUInt8(0, 4); // section kind 0
  const length = 16 + fixed.length + body.length;
  return Buffer.concat([header(length, responseTo, OP_MSG), fixed, body]);
}

/** The reply to a command in the opcode it came in. */
export function encodeReply(request: IncomingCommand, doc: Document): Buffer {
  return request.opCode === OP_QUERY ? encodeOpReply(request.requestId, doc) : encodeOpMsg(request.requestId, doc);
}
