/**
 * The target policy: which hosts and addresses the daemon may open connections to on behalf
 * of its callers. Names are checked as given; addresses after DNS resolution; and the
 * address a driver actually dials is one the policy resolved and vetted itself (its
 * `lookup` replaces the driver's), so a name that resolves to an allowed address for a
 * check and to a denied one a moment later (DNS rebinding) is refused at the dial.
 */
import { lookup as systemLookup, Resolver, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, connect as netConnect, isIP, Socket, type LookupFunction, type NetConnectOpts } from 'node:net';
import { NotAllowedError } from '../errors';
import { globToRegExp } from '../util/glob';
import { SocksGuard } from './SocksGuard';

/** Addresses no data source may use unless `allowLinkLocal` says so: link-local and cloud metadata services. */
export const BUILTIN_DENIED_TARGETS: readonly string[] = [
  // IPv4 link-local, with the AWS, GCP, Azure and OpenStack metadata service at 169.254.169.254.
  '169.254.0.0/16',
  // IPv6 link-local.
  'fe80::/10',
  // The AWS metadata service over IPv6 (Nitro).
  'fd00:ec2::254/128',
  // 169.254.0.0/16 through a NAT64 gateway (64:ff9b::/96 carries IPv4 addresses).
  '64:ff9b::a9fe:0/112',
];

/** The rules, as an operator writes them. */
export interface TargetRules {
  /**
   * When not empty, only these: CIDR blocks or addresses (`10.0.0.0/8`, `2001:db8::/32`,
   * `192.0.2.7`) and host-name globs (`*.db.example.com`). An address passes when it lies in
   * an allowed block, or when the name it was resolved from matches an allowed name.
   */
  allow: readonly string[];
  /** Never these: CIDR blocks, addresses or host-name globs. Deny wins over allow. */
  deny: readonly string[];
  /** Lift the built-in deny of {@link BUILTIN_DENIED_TARGETS}. */
  allowLinkLocal?: boolean;
}

/** How a policy resolves names: the system's resolver (getaddrinfo, with /etc/hosts) by default. */
export type TargetResolver = (host: string) => Promise<LookupAddress[]>;

export interface TargetPolicyOptions {
  /**
   * DNS servers (`ip` or `ip:port`) to resolve data-source names with, instead of the
   * system's resolver; A and AAAA records only, no /etc/hosts.
   */
  dnsServers?: readonly string[];
  /** Replaces the resolver altogether (tests, embedding hosts). */
  resolver?: TargetResolver;
}

/** A connection the policy refused. Maps to PERMISSION_DENIED; `code` is set for drivers that report socket errors by code. */
export class TargetDeniedError extends NotAllowedError {
  /** Always `ETARGETDENIED`, for drivers that classify socket errors by `code`. */
  readonly code = 'ETARGETDENIED';
  constructor(
    /** The host as the connector named it. */
    readonly host: string,
    /** The address that was refused; undefined when the name itself was denied. */
    readonly address: string | undefined,
    /** The rule that refused it: a `targets.deny` entry, a built-in denied block, or `targets.allow` when no allowed target matched. */
    readonly rule: string,
    message: string,
  ) {
    super('TARGET_DENIED', message, { metadata: { host, ...(address ? { address } : {}), rule } });
  }
}

interface AddressRule {
  text: string;
  list: BlockList;
}

interface Rules {
  addresses: AddressRule[];
  names: { text: string; re: RegExp }[];
}

/** A policy; one per daemon, shared by every connection of every call. */
export class TargetPolicy {
  private readonly allow: Rules;
  private readonly deny: Rules;
  private readonly builtin: AddressRule[];
  private readonly resolver: TargetResolver;
  private guard?: SocksGuard;

  /** Throws an Error naming the first entry that is neither a CIDR block, an address nor a host-name glob. */
  constructor(
    /** The rules as the operator wrote them. */
    readonly rules: TargetRules,
    options: TargetPolicyOptions = {},
  ) {
    this.allow = parseRules(rules.allow, 'allow');
    this.deny = parseRules(rules.deny, 'deny');
    this.builtin = rules.allowLinkLocal ? [] : BUILTIN_DENIED_TARGETS.map((t) => addressRule(t));
    this.resolver = options.resolver ?? (options.dnsServers?.length ? serverResolver(options.dnsServers) : systemResolver);
  }

  /** A policy that allows every target but the built-in denied ones. */
  static defaults(): TargetPolicy {
    return new TargetPolicy({ allow: [], deny: [] });
  }

  /** Why a host name is refused as a name (a deny-listed name), before any resolution; undefined when it is not. */
  checkName(host: string): TargetDeniedError | undefined {
    const name = normalizeHost(host);
    if (isIP(name)) return undefined;
    const rule = this.deny.names.find((r) => r.re.test(name));
    if (rule) return new TargetDeniedError(host, undefined, rule.text, `connecting to ${host} is refused by the daemon's target policy (targets.deny: ${rule.text})`);
    return undefined;
  }

  /**
   * Why connecting to `address` (which `host` resolved to, or which `host` is) is refused;
   * undefined when it is allowed.
   */
  checkAddress(host: string, address: string): TargetDeniedError | undefined {
    const name = normalizeHost(host);
    const addr = normalizeHost(address);
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    const of = name === addr ? host : `${host} (${addr})`;
    const builtin = this.builtin.find((r) => r.list.check(addr, family));
    if (builtin) {
      return new TargetDeniedError(
        host,
        addr,
        builtin.text,
        `connecting to ${of} is refused: ${builtin.text} holds link-local and cloud metadata addresses, which the daemon never connects to unless targets.allowLinkLocal is set`,
      );
    }
    const denied = this.deny.addresses.find((r) => r.list.check(addr, family));
    if (denied) return new TargetDeniedError(host, addr, denied.text, `connecting to ${of} is refused by the daemon's target policy (targets.deny: ${denied.text})`);
    if (this.allow.addresses.length === 0 && this.allow.names.length === 0) return undefined;
    if (this.allow.addresses.some((r) => r.list.check(addr, family))) return undefined;
    if (!isIP(name) && this.allow.names.some((r) => r.re.test(name))) return undefined;
    return new TargetDeniedError(host, addr, 'targets.allow', `connecting to ${of} is refused: it is not in the daemon's allowed targets (targets.allow)`);
  }

  /**
   * Resolves a host (an address stays itself) and returns the addresses the daemon may dial,
   * in the resolver's order. Throws a {@link TargetDeniedError} when the name is denied, when
   * any address it resolves to is explicitly denied (a name pointing at a metadata address
   * is refused outright), or when none is allowed; and the resolver's error when it fails.
   */
  async resolve(host: string): Promise<LookupAddress[]> {
    const name = normalizeHost(host);
    const family = isIP(name);
    if (family) {
      const denied = this.checkAddress(host, name);
      if (denied) throw denied;
      return [{ address: name, family }];
    }
    const byName = this.checkName(host);
    if (byName) throw byName;
    const found = await this.resolver(name);
    const allowed: LookupAddress[] = [];
    let notAllowed: TargetDeniedError | undefined;
    for (const entry of found) {
      const denied = this.checkAddress(host, entry.address);
      if (!denied) allowed.push(entry);
      else if (denied.rule === 'targets.allow') notAllowed ??= denied;
      else throw denied;
    }
    if (allowed.length === 0) {
      if (notAllowed) throw notAllowed;
      throw Object.assign(new Error(`${host} resolved to no address`), { code: 'ENOTFOUND', hostname: host });
    }
    return allowed;
  }

  /**
   * A `lookup` for `net.connect` and drivers that take one: resolves through the policy and
   * answers with vetted addresses only, so what is dialled is what was checked.
   */
  readonly lookup: LookupFunction = (hostname: string, options: LookupOptions, callback: unknown) => {
    // net.connect passes (hostname, options, callback); be lenient with the older forms too.
    const loose = options as unknown;
    const cb = (typeof loose === 'function' ? loose : callback) as (error: Error | null, address: string | LookupAddress[], family?: number) => void;
    const opts: { family?: number | string; all?: boolean } = typeof loose === 'object' && loose !== null ? options : typeof loose === 'number' ? { family: loose } : {};
    const want = opts.family === 4 || opts.family === 'IPv4' ? 4 : opts.family === 6 || opts.family === 'IPv6' ? 6 : 0;
    this.resolve(hostname).then(
      (addresses) => {
        const usable = want ? addresses.filter((a) => a.family === want) : addresses;
        if (usable.length === 0) {
          cb(Object.assign(new Error(`${hostname} has no IPv${want} address the daemon may connect to`), { code: 'ENOTFOUND', hostname }), opts.all ? [] : '');
          return;
        }
        if (opts.all) cb(null, usable);
        else cb(null, usable[0].address, usable[0].family);
      },
      (error: Error) => cb(error, opts.all ? [] : ''),
    );
  };

  /**
   * `net.connect` under the policy: a name is resolved through {@link lookup}; an address is
   * checked before anything is sent. A refused target makes the socket fail with a
   * {@link TargetDeniedError} (asynchronously, like any other connect error).
   */
  connect(options: NetConnectOpts & { host: string; port: number }): Socket {
    const host = normalizeHost(options.host);
    if (isIP(host)) {
      const denied = this.checkAddress(options.host, host);
      if (denied) return failedSocket(denied);
      return netConnect({ ...options, host });
    }
    return netConnect({ ...options, host, lookup: this.lookup });
  }

  /**
   * A socket that is not yet connected, whose `connect(port, host)` (or `connect(options)`)
   * goes through the policy: for drivers that take a stream and connect it themselves (pg).
   */
  socket(): Socket {
    return new GuardedSocket(this);
  }

  /**
   * The policy's SOCKS5 guard, for drivers that dial hosts of their own finding and can
   * connect through a SOCKS5 proxy (the MongoDB driver's `proxyHost`). Started on first use.
   */
  socksGuard(): SocksGuard {
    return (this.guard ??= new SocksGuard(this));
  }

  /** Stops the SOCKS5 guard, if it was started. */
  async close(): Promise<void> {
    await this.guard?.close();
  }
}

/** A `net.Socket` whose TCP `connect` is checked by a policy. */
class GuardedSocket extends Socket {
  constructor(private readonly policy: TargetPolicy) {
    super();
  }

  override connect(...args: unknown[]): this {
    let options: Record<string, unknown>;
    let listener: (() => void) | undefined;
    if (typeof args[0] === 'object' && args[0] !== null) {
      options = { ...(args[0] as Record<string, unknown>) };
      listener = args[1] as (() => void) | undefined;
    } else {
      options = { port: args[0], ...(typeof args[1] === 'string' ? { host: args[1] } : {}) };
      listener = (typeof args[1] === 'function' ? args[1] : args[2]) as (() => void) | undefined;
    }
    if (typeof options.path === 'string') {
      process.nextTick(() => this.destroy(new TargetDeniedError(options.path as string, undefined, 'unix sockets', 'data sources are reached over TCP; a socket path is refused')));
      return this;
    }
    const host = normalizeHost(String(options.host ?? 'localhost'));
    if (isIP(host)) {
      const denied = this.policy.checkAddress(String(options.host), host);
      if (denied) {
        process.nextTick(() => this.destroy(denied));
        return this;
      }
      return super.connect({ ...options, host } as NetConnectOpts, listener);
    }
    return super.connect({ ...options, host, lookup: this.policy.lookup } as NetConnectOpts, listener);
  }
}

function failedSocket(error: Error): Socket {
  const socket = new Socket();
  process.nextTick(() => socket.destroy(error));
  return socket;
}

/** Lower case, no IPv6 brackets, no trailing dot. */
function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

function addressRule(text: string): AddressRule {
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

function parseRules(entries: readonly string[], key: string): Rules {
  const rules: Rules = { addresses: [], names: [] };
  for (const raw of entries) {
    const text = normalizeHost(String(raw));
    if (text === '') throw new Error(`targets.${key} has an empty entry`);
    if (isIP(text.split('/')[0])) {
      try {
        rules.addresses.push(addressRule(text));
      } catch (error) {
        throw new Error(`targets.${key}: ${(error as Error).message}`);
      }
    } else if (/^[a-z0-9*?._-]+$/.test(text)) {
      rules.names.push({ text, re: globToRegExp(text) });
    } else {
      throw new Error(`targets.${key}: "${raw}" is neither a CIDR block, an address nor a host-name pattern`);
    }
  }
  return rules;
}

/** getaddrinfo, as drivers use by default: every address, in the system's order. */
const systemResolver: TargetResolver = (host) =>
  new Promise((resolve, reject) => systemLookup(host, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))));

/** A and AAAA records from the given DNS servers. */
function serverResolver(servers: readonly string[]): TargetResolver {
  const resolver = new Resolver({ timeout: 5000, tries: 2 });
  resolver.setServers([...servers]);
  const query = (host: string, rrtype: 'A' | 'AAAA') =>
    new Promise<string[]>((resolve, reject) =>
      resolver.resolve(host, rrtype, (error, records) => {
        if (!error) return resolve(records as string[]);
        if (error.code === 'ENODATA' || error.code === 'ENOTFOUND') return resolve([]);
        reject(error);
      }),
    );
  return async (host) => {
    const [v4, v6] = await Promise.all([query(host, 'A'), query(host, 'AAAA')]);
    const found = [...v4.map((address) => ({ address, family: 4 })), ...v6.map((address) => ({ address, family: 6 }))];
    if (found.length === 0) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host });
    return found;
  };
}
