/**
 * The target policy's rules as data: parsing what an operator wrote (`targets.allow` and
 * `targets.deny`: CIDR blocks, addresses, host-name globs) and the address arithmetic the
 * checks need (normalised host names, the IPv4 address an IPv6 one carries). The policy
 * itself (`TargetPolicy.ts`) applies them.
 */
import { BlockList, isIP } from 'node:net';

/** One CIDR block or address, as written and as a block list. */
export interface AddressRule {
  text: string;
  list: BlockList;
}

/** The address rules and host-name globs of `targets.allow` or `targets.deny`. */
export interface Rules {
  addresses: AddressRule[];
  /** Host-name globs, matched in linear time. */
  names: { text: string }[];
}

/** Lower case, no IPv6 brackets, no trailing dot. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/**
 * The IPv4 address an IPv6 address carries, or undefined: IPv4-mapped (`::ffff:a.b.c.d`),
 * IPv4-compatible (`::a.b.c.d`, not `::` or `::1`), IPv4-translated (`::ffff:0:a.b.c.d`),
 * 6to4 (`2002:AABB:CCDD::/48`) and NAT64 with the well-known prefix (`64:ff9b::a.b.c.d`).
 */
export function embeddedIPv4(address: string): string | undefined {
  const words = ipv6Words(address);
  if (!words) return undefined;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  const zero = (from: number, to: number) => words.slice(from, to).every((w) => w === 0);
  if (zero(0, 5) && words[5] === 0xffff) return v4(words[6], words[7]);
  if (zero(0, 4) && words[4] === 0xffff && words[5] === 0) return v4(words[6], words[7]);
  if (zero(0, 6) && (words[6] !== 0 || words[7] > 1)) return v4(words[6], words[7]);
  if (words[0] === 0x2002) return v4(words[1], words[2]);
  if (words[0] === 0x64 && words[1] === 0xff9b && zero(2, 6)) return v4(words[6], words[7]);
  return undefined;
}

/** The eight 16-bit words of an IPv6 address (a dotted IPv4 tail allowed), or undefined. */
function ipv6Words(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const part = (s: string | undefined) => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
  const left = part(head);
  const right = part(tail);
  const words = tail === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return words.length === 8 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) ? words : undefined;
}
export function addressRule(text: string): AddressRule {
  const list = new BlockList();
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (!family) throw new Error(`"${text}" is not an address or a CIDR block`);
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (slash < 0) {
    list.addAddress(address, type);
  } else {
    const bits = text.slice(slash + 1);
    const prefix = Number(bits);
    if (!/^\d{1,3}$/.test(bits) || prefix > (family === 6 ? 128 : 32)) throw new Error(`"${text}" has a bad prefix length (0-${family === 6 ? 128 : 32})`);
    list.addSubnet(address, prefix, type);
  }
  return { text, list };
}

/** `entries` are typed strings, but a JavaScript caller may hand in others (a number): each is read as its text. */
export function parseRules(entries: readonly unknown[], key: string): Rules {
  const rules: Rules = { addresses: [], names: [] };
  for (const raw of entries) {
    const text = normalizeHost(String(raw));
    if (text === '') throw new Error(`targets.${key} has an empty entry`);
    if (isIP(text.split('/')[0])) {
      try {
        rules.addresses.push(addressRule(text));
      } catch (error) {
        throw new Error(`targets.${key}: ${(error as Error).message}`, { cause: error });
      }
    } else if (/^[a-z0-9*?._-]+$/.test(text)) {
      rules.names.push({ text });
    } else {
      throw new Error(`targets.${key}: "${String(raw)}" is neither a CIDR block, an address nor a host-name pattern`);
    }
  }
  return rules;
}
