/**
 * How the target policy resolves names: the system's resolver (getaddrinfo, with /etc/hosts)
 * by default, or the DNS servers of `targets.dnsServers` (A and AAAA records; SRV and TXT for
 * MongoDB's seed lists), so a split-horizon deployment sees one DNS.
 */
import { lookup as systemLookup, promises as dnsPromises, Resolver, type LookupAddress, type SrvRecord } from 'node:dns';

/** How a policy resolves names: the system's resolver (getaddrinfo, with /etc/hosts) by default. */
export type TargetResolver = (host: string) => Promise<LookupAddress[]>;

/** getaddrinfo, as drivers use by default: every address, in the system's order. */
export const systemResolver: TargetResolver = (host) =>
  new Promise((resolve, reject) => systemLookup(host, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))));

/** SRV and TXT look-ups (node's `dns.promises` or a `Resolver` of the configured servers). */
export interface RecordResolver {
  resolveSrv(name: string): Promise<SrvRecord[]>;
  resolveTxt(name: string): Promise<string[][]>;
}

/** SRV and TXT records from the system's DNS servers (node's `dns.promises`). */
export const dnsRecords: RecordResolver = dnsPromises;

/** SRV and TXT records from the given DNS servers. */
export function serverRecords(servers: readonly string[]): RecordResolver {
  const resolver = new dnsPromises.Resolver({ timeout: 5000, tries: 2 });
  resolver.setServers([...servers]);
  return { resolveSrv: (name) => resolver.resolveSrv(name), resolveTxt: (name) => resolver.resolveTxt(name) };
}

/** A and AAAA records from the given DNS servers. */
export function serverResolver(servers: readonly string[]): TargetResolver {
  const resolver = new Resolver({ timeout: 5000, tries: 2 });
  resolver.setServers([...servers]);
  const query = (host: string, rrtype: 'A' | 'AAAA') =>
    new Promise<string[]>((resolve, reject) =>
      resolver.resolve(host, rrtype, (error, records) => {
        if (!error) resolve(records);
        else if (error.code === 'ENODATA' || error.code === 'ENOTFOUND') resolve([]);
        else reject(error);
      }),
    );
  return async (host) => {
    const [v4, v6] = await Promise.all([query(host, 'A'), query(host, 'AAAA')]);
    const found = [...v4.map((address) => ({ address, family: 4 })), ...v6.map((address) => ({ address, family: 6 }))];
    if (found.length === 0) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host });
    return found;
  };
}
