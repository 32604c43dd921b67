import * as systemDns from 'node:dns/promises';
import type { SrvRecord } from 'node:dns';
import { isIP } from 'node:net';
import { raceSignal, SourcedError } from '@sourced/core';
import type { MongoClientOptions } from 'mongodb';
import { SRV_PREFIX } from './connect';

/**
 * Where SRV and TXT records come from: the daemon's target policy (`ConnectionArgs.targets`,
 * `CheckContext.targets`), which asks the configured `targets.dnsServers`; the system's
 * resolver only when there is no policy.
 */
export interface SrvResolver {
  resolveSrv(name: string): Promise<SrvRecord[]>;
  resolveTxt(name: string): Promise<string[][]>;
}

/** What the DNS says about a `mongodb+srv` name: the seed list and the TXT options. */
export interface SrvLookup {
  /** The SRV record name, `_mongodb._tcp.<host>`. */
  record: string;
  seeds: { host: string; port: number }[];
  /** Seeds that do not share the host's parent domain (the driver refuses them). */
  foreign: string[];
  /** The TXT record's options (`authSource=admin&replicaSet=rs0`), if there is one. */
  txt?: string;
  /** The TXT record's options parsed. */
  options: Record<string, string>;
}

/** Options a TXT record may set (the seed list discovery specification's list). */
const TXT_OPTIONS = new Set(['authsource', 'replicaset', 'loadbalanced']);

/**
 * Whether an SRV target shares the parent domain of the SRV host, as the driver requires:
 * `a.cluster0.example.net` for `cluster0.example.net`; for a name of fewer than three
 * parts, the target must end with the name itself.
 */
export function sharesParentDomain(target: string, srvHost: string): boolean {
  const t = target.toLowerCase().replace(/\.$/, '');
  const parts = srvHost.toLowerCase().replace(/\.$/, '').split('.');
  const domain = parts.length >= 3 ? parts.slice(1).join('.') : parts.join('.');
  return t.endsWith(`.${domain}`);
}

/**
 * Looks up the SRV records (the seed list, by priority then weight) and the TXT record of
 * a `mongodb+srv` host through `dns` (see {@link SrvResolver}). A missing TXT record is
 * fine; more than one is an error, as for the driver. Rejects with the resolver's error
 * (`code` ENOTFOUND, ENODATA, ...).
 */
export async function lookupSrv(host: string, signal: AbortSignal, dns: SrvResolver = systemDns): Promise<SrvLookup> {
  const record = `${SRV_PREFIX}${host}`;
  const records = await raceSignal(dns.resolveSrv(record), signal);
  records.sort((a, b) => a.priority - b.priority || b.weight - a.weight);
  const seeds = records.map((r) => ({ host: r.name.replace(/\.$/, ''), port: r.port }));
  const foreign = seeds.filter((s) => !sharesParentDomain(s.host, host)).map((s) => s.host);
  let txt: string | undefined;
  try {
    const texts = await raceSignal(dns.resolveTxt(host), signal);
    if (texts.length > 1) throw Object.assign(new Error(`${host} has ${texts.length} TXT records; MongoDB allows one`), { code: 'EMULTIPLETXT' });
    txt = texts[0]?.join('');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENODATA' && code !== 'ENOTFOUND') throw error;
  }
  const options: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(txt ?? '')) if (TXT_OPTIONS.has(k.toLowerCase())) options[k] = v;
  return { record, seeds, foreign, txt, options };
}

/**
 * The seed list of a `mongodb+srv` host for the driver, looked up by the daemon (through the
 * target policy's DNS servers) instead of by the driver (which would ask the system's
 * resolver): a `mongodb://` URL of the seeds, and the TXT record's options (`replicaSet`,
 * `loadBalanced`, and `authSource` unless the data source names one). Refuses, as the driver
 * would, an empty seed list and seeds outside the host's parent domain.
 */
export async function seedListOf(
  host: string,
  signal: AbortSignal,
  dns: SrvResolver | undefined,
  explicitAuthSource: boolean,
): Promise<{ url: string; options: MongoClientOptions; lookup: SrvLookup }> {
  const lookup = await lookupSrv(host, signal, dns);
  if (lookup.seeds.length === 0) {
    throw Object.assign(new Error(`${lookup.record} has no SRV records`), { code: 'ENODATA', hostname: host });
  }
  if (lookup.foreign.length > 0) {
    throw new SourcedError(
      'SRV_FOREIGN_HOSTS',
      `the SRV records of ${host} name hosts outside its domain (${lookup.foreign.join(', ')}); MongoDB drivers refuse them`,
      {
        metadata: { host },
      },
    );
  }
  return { url: seedListUrl(lookup.seeds), options: srvClientOptions(lookup.options, explicitAuthSource), lookup };
}

/** A seed list as a `mongodb://` URL (hosts only). */
export function seedListUrl(seeds: readonly { host: string; port: number }[]): string {
  return `mongodb://${seeds.map((s) => `${isIP(s.host) === 6 ? `[${s.host}]` : s.host}:${s.port}`).join(',')}/`;
}

/** The TXT record's options as driver options: `replicaSet`, `loadBalanced`, and `authSource` unless the data source names one. */
export function srvClientOptions(txt: Record<string, string>, explicitAuthSource: boolean): MongoClientOptions {
  const options: MongoClientOptions = {};
  for (const [k, v] of Object.entries(txt)) {
    const key = k.toLowerCase();
    if (key === 'replicaset') options.replicaSet = v;
    else if (key === 'loadbalanced') options.loadBalanced = v === 'true';
    else if (key === 'authsource' && !explicitAuthSource) options.authSource = v;
  }
  return options;
}
