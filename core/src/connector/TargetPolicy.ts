/**
 * The target policy: which hosts and addresses the daemon may open connections to on behalf
 * of its callers. Names are checked as given; addresses after DNS resolution; and the
 * address a driver actually dials is one the policy resolved and vetted itself (its
 * `lookup` replaces the driver's), so a name that resolves to an allowed address for a
 * check and to a denied one a moment later (DNS rebinding) is refused at the dial.
 */
import { type LookupAddress, type LookupOptions, type SrvRecord } from 'node:dns';
import { connect as netConnect, isIP, Socket, type LookupFunction, type NetConnectOpts } from 'node:net';
import { matchesGlob } from '../util/glob';
import { SocksGuard } from './SocksGuard';
import { dnsRecords, serverRecords, serverResolver, systemResolver, type RecordResolver, type TargetResolver } from './TargetPolicyDns';
import { addressRule, embeddedIPv4, normalizeHost, parseRules, type AddressRule, type Rules } from './TargetPolicyRules';

export type { TargetResolver } from './TargetPolicyDns';
export { embeddedIPv4 } from './TargetPolicyRules';

/**
 * Addresses no data source may use unless `allowLinkLocal` says so: link-local and cloud
 * metadata services, and the IPv6 prefixes that carry IPv4 addresses through a gateway. An
 * IPv6 address that embeds an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
 * `::a.b.c.d`, 6to4 `2002:AABB:CCDD::`, NAT64 `64:ff9b::a.b.c.d`) is also checked as that
 * IPv4 address, against these and `targets.deny`.
 */
export const BUILTIN_DENIED_TARGETS: readonly string[] = [
  // IPv4 link-local, with the AWS, GCP, Azure and OpenStack metadata service at 169.254.169.254.
  '169.254.0.0/16',
  // The Alibaba Cloud metadata service.
  '100.100.100.200/32',
  // Azure's WireServer (host agent; hands out certificates and extension settings).
  '168.63.129.16/32',
  // IPv6 link-local.
  'fe80::/10',
  // The AWS metadata service over IPv6 (Nitro).
  'fd00:ec2::254/128',
  // 169.254.0.0/16 through 6to4 (2002::/16 carries the IPv4 address in its next 32 bits).
  '2002:a9fe::/32',
  // NAT64: the well-known prefix (RFC 6052) and the local-use prefix (RFC 8215) reach any
  // IPv4 address, metadata services included, through a translator.
  '64:ff9b::/96',
  '64:ff9b:1::/48',
];

/** The entries of {@link BUILTIN_DENIED_TARGETS} that are translation prefixes (their refusal says so). */
const TRANSLATION_PREFIXES = new Set(['2002:a9fe::/32', '64:ff9b::/96', '64:ff9b:1::/48']);

/** Host names no data source may use unless `allowLinkLocal` says so: metadata services by name. */
export const BUILTIN_DENIED_NAMES: readonly string[] = ['metadata.google.internal'];

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

export interface TargetPolicyOptions {
  /**
   * DNS servers (`ip` or `ip:port`) to resolve data-source names with, instead of the
   * system's resolver; A and AAAA records only, no /etc/hosts.
   */
  dnsServers?: readonly string[];
  /** Replaces the resolver altogether (tests, embedding hosts). */
  resolver?: TargetResolver;
}

export { TargetDeniedError } from './TargetDeniedError';
import { TargetDeniedError } from './TargetDeniedError';

/** A policy; one per daemon, shared by every connection of every call. */
export class TargetPolicy {
  private readonly allow: Rules;
  private readonly deny: Rules;
  private readonly builtin: AddressRule[];
  private readonly builtinNames: readonly string[];
  private readonly resolver: TargetResolver;
  private readonly records: RecordResolver;
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
    this.builtinNames = rules.allowLinkLocal ? [] : BUILTIN_DENIED_NAMES;
    this.resolver = options.resolver ?? (options.dnsServers?.length ? serverResolver(options.dnsServers) : systemResolver);
    this.records = options.dnsServers?.length ? serverRecords(options.dnsServers) : dnsRecords;
  }

  /**
   * The SRV records of a name (`_mongodb._tcp.cluster0.example.net`), from the policy's DNS
   * servers (`targets.dnsServers`) when it has some, else the system's: the same servers
   * the policy resolves host names with, so a split-horizon deployment sees one DNS. Only
   * the look-up: every host a record names is still checked when it is dialled.
   */
  resolveSrv(name: string): Promise<SrvRecord[]> {
    return this.records.resolveSrv(name);
  }

  /** The TXT records of a name, from the same servers as {@link resolveSrv}. */
  resolveTxt(name: string): Promise<string[][]> {
    return this.records.resolveTxt(name);
  }

  /** A policy that allows every target but the built-in denied ones. */
  static defaults(): TargetPolicy {
    return new TargetPolicy({ allow: [], deny: [] });
  }

  /** Why a host name is refused as a name (a deny-listed name), before any resolution; undefined when it is not. */
  checkName(host: string): TargetDeniedError | undefined {
    const name = normalizeHost(host);
    if (isIP(name)) return undefined;
    const builtin = this.builtinNames.find((n) => n === name);
    if (builtin) {
      return new TargetDeniedError(
        host,
        undefined,
        builtin,
        `connecting to ${host} is refused: it names a cloud metadata service, which the daemon never connects to unless targets.allowLinkLocal is set`,
      );
    }
    const rule = this.deny.names.find((r) => matchesGlob(name, r.text));
    if (rule)
      return new TargetDeniedError(host, undefined, rule.text, `connecting to ${host} is refused by the daemon's target policy (targets.deny: ${rule.text})`);
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
    // The address itself, then the IPv4 address it carries, if any.
    const forms: [string, 'ipv4' | 'ipv6'][] = [[addr, family]];
    const embedded = family === 'ipv6' ? embeddedIPv4(addr) : undefined;
    if (embedded) forms.push([embedded, 'ipv4']);
    const builtin = this.builtin.find((r) => forms.some(([a, f]) => r.list.check(a, f)));
    // "::ffff:a9fe:a9fe carries 169.254.169.254, and …" when only the embedded form matched.
    const carried = (rule: AddressRule) => (embedded && !rule.list.check(addr, family) ? `${addr} carries ${embedded}, and ` : '');
    if (builtin) {
      return new TargetDeniedError(
        host,
        addr,
        builtin.text,
        `connecting to ${of} is refused: ${carried(builtin)}${builtin.text} ${TRANSLATION_PREFIXES.has(builtin.text) ? 'reaches IPv4 addresses through a translator, metadata services included' : 'holds link-local and cloud metadata addresses'}, which the daemon never connects to unless targets.allowLinkLocal is set`,
      );
    }
    const denied = this.deny.addresses.find((r) => forms.some(([a, f]) => r.list.check(a, f)));
    if (denied)
      return new TargetDeniedError(
        host,
        addr,
        denied.text,
        `connecting to ${of} is refused by the daemon's target policy (${carried(denied)}targets.deny: ${denied.text})`,
      );
    if (this.allow.addresses.length === 0 && this.allow.names.length === 0) return undefined;
    if (this.allow.addresses.some((r) => r.list.check(addr, family))) return undefined;
    if (!isIP(name) && this.allow.names.some((r) => matchesGlob(name, r.text))) return undefined;
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
    const opts: { family?: number | string; all?: boolean } =
      typeof loose === 'object' && loose !== null ? options : typeof loose === 'number' ? { family: loose } : {};
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
      // The resolver's error, passed to the driver's callback as it came (getaddrinfo's, or the policy's refusal).
      (error: unknown) => cb(error as Error, opts.all ? [] : ''),
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
      process.nextTick(() =>
        this.destroy(new TargetDeniedError(options.path as string, undefined, 'unix sockets', 'data sources are reached over TCP; a socket path is refused')),
      );
      return this;
    }
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a driver's options are untyped: the host is checked as its text, whatever it is (absent: localhost, as for net.connect)
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
