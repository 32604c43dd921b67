import { resolveSrv, resolveTxt } from 'node:dns/promises';
import { raceSignal } from '@sourced/core';
import { SRV_PREFIX } from './connect';

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
 * a `mongodb+srv` host. A missing TXT record is fine; more than one is an error, as for
 * the driver. Rejects with the resolver's error (`code` ENOTFOUND, ENODATA, ...).
 */
export async function lookupSrv(host: string, signal: AbortSignal): Promise<SrvLookup> {
  const record = `${SRV_PREFIX}${host}`;
  const records = await raceSignal(resolveSrv(record), signal);
  records.sort((a, b) => a.priority - b.priority || b.weight - a.weight);
  const seeds = records.map((r) => ({ host: r.name.replace(/\.$/, ''), port: r.port }));
  const foreign = seeds.filter((s) => !sharesParentDomain(s.host, host)).map((s) => s.host);
  let txt: string | undefined;
  try {
    const texts = await raceSignal(resolveTxt(host), signal);
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
