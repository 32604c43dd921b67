/**
 * A DNS server on UDP for tests of `mongodb+srv` and of the target policy: it answers SRV,
 * TXT and A questions from a table (NXDOMAIN for any other name). Point Node's resolver at it with
 * `dns.setServers(['127.0.0.1:<port>'])`; that changes `dns.resolve*` (what SRV lookups
 * use) and not `dns.lookup` (getaddrinfo), so host names still resolve as usual.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';

export interface SrvTarget {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

export interface DnsRecords {
  /** SRV records by name, e.g. `_mongodb._tcp.cluster0.example.test`. */
  srv?: Record<string, SrvTarget[]>;
  /** TXT records by name; each string is one record. */
  txt?: Record<string, string[]>;
  /**
   * A records by name: a list, or a function called for each question (a name that answers
   * differently from one question to the next, as in DNS rebinding). Sent with TTL 0, so
   * no resolver caches them.
   */
  a?: Record<string, string[] | (() => string[])>;
}

export interface DnsStandIn {
  host: string;
  port: number;
  stop(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_TXT = 16;
const TYPE_SRV = 33;

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)])), Buffer.from([0])]);
}

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = offset;
  while (msg[at] !== 0) {
    const len = msg[at];
    labels.push(msg.toString('utf8', at + 1, at + 1 + len));
    at += 1 + len;
  }
  return { name: labels.join('.').toLowerCase(), end: at + 1 };
}

function record(name: string, type: number, data: Buffer, ttl = 60): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2); // IN
  fixed.writeUInt32BE(ttl, 4);
  fixed.writeUInt16BE(data.length, 8);
  return Buffer.concat([encodeName(name), fixed, data]);
}

function answer(query: Buffer, records: DnsRecords): Buffer {
  const { name, end } = readName(query, 12);
  const type = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const answers: Buffer[] = [];
  const srv = Object.entries(records.srv ?? {}).find(([n]) => n.toLowerCase() === name)?.[1];
  const txt = Object.entries(records.txt ?? {}).find(([n]) => n.toLowerCase() === name)?.[1];
  if (type === TYPE_SRV && srv) {
    for (const s of srv) {
      const head = Buffer.alloc(6);
      head.writeUInt16BE(s.priority, 0);
      head.writeUInt16BE(s.weight, 2);
      head.writeUInt16BE(s.port, 4);
      answers.push(record(name, TYPE_SRV, Buffer.concat([head, encodeName(s.target)])));
    }
  }
  if (type === TYPE_TXT && txt) {
    for (const t of txt) answers.push(record(name, TYPE_TXT, Buffer.concat([Buffer.from([Buffer.byteLength(t)]), Buffer.from(t)])));
  }
  const a = Object.entries(records.a ?? {}).find(([n]) => n.toLowerCase() === name)?.[1];
  if (type === TYPE_A && a) {
    for (const address of typeof a === 'function' ? a() : a) answers.push(record(name, TYPE_A, Buffer.from(address.split('.').map(Number)), 0));
  }
  // Any other question about a known name (AAAA) gets no data: NOERROR, no answers.
  const exists = srv !== undefined || txt !== undefined || a !== undefined;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  // QR, opcode of the query, AA, RD of the query, RA; NXDOMAIN for names it does not know
  header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x7900) | 0x0400 | 0x0080 | (exists ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, question, ...answers]);
}

/** Starts the DNS stand-in on 127.0.0.1 and a free UDP port. */
export async function startDnsStandIn(records: DnsRecords): Promise<DnsStandIn> {
  const socket = createSocket('udp4');
  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    try {
      socket.send(answer(msg, records), from.port, from.address);
    } catch {
      // a malformed question gets no answer
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    host: '127.0.0.1',
    port: socket.address().port,
    stop: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
