/** Small conversions shared by the contract mappings (mapping.ts, discoveryMapping.ts, catalogMapping.ts). */
import type { DiscoveryStrategy, EndpointRole as CoreRole } from '@sourced/core';
import { DiscoveryStrategy as PbStrategy, EndpointRole } from '@sourced/api';

/**
 * An RFC 3339 instant ("2024-03-01T09:30:00.123456+00:00") as a google.protobuf.Timestamp with
 * its full precision; undefined for an empty or unparsable text, or one outside the Timestamp's
 * range (years 0001-9999).
 */
export function toTimestamp(text: string | undefined): { seconds: number; nanos: number } | undefined {
  const m = text ? /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i.exec(text.trim()) : null;
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(ms)) return undefined;
  const year = new Date(ms).getUTCFullYear();
  if (year < 1 || year > 9999) return undefined;
  // m[2], the fraction, is an optional group: undefined when the text has none.
  return { seconds: Math.floor(ms / 1000), nanos: Number(((m[2] as string | undefined) ?? '').padEnd(9, '0')) };
}

/**
 * A time in milliseconds (a `*_ms` figure of a result) as a google.protobuf.Duration holding the
 * same time, rounded to the nanosecond (the Duration's resolution; seconds and nanos share the
 * sign); undefined when the figure is absent or not finite.
 */
export function toDuration(ms: number | undefined): { seconds: number; nanos: number } | undefined {
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  const sign = ms < 0 ? -1 : 1;
  const abs = Math.abs(ms);
  let seconds = Math.floor(abs / 1000);
  let nanos = Math.round((abs - seconds * 1000) * 1_000_000);
  if (nanos >= 1_000_000_000) {
    seconds += 1;
    nanos -= 1_000_000_000;
  }
  // `|| 0` turns -0 into 0, which a Duration writes the same but a deep equality does not.
  return { seconds: sign * seconds || 0, nanos: sign * nanos || 0 };
}

/** A core endpoint role as the contract's enum. */
export const role = (r: CoreRole): EndpointRole => (r === 'PRIMARY' ? EndpointRole.ENDPOINT_ROLE_PRIMARY : EndpointRole.ENDPOINT_ROLE_SECONDARY);

const STRATEGY_TO_CORE: Record<number, DiscoveryStrategy> = {
  [PbStrategy.DISCOVERY_STRATEGY_CONSERVATIVE]: 'CONSERVATIVE',
  [PbStrategy.DISCOVERY_STRATEGY_BALANCED]: 'BALANCED',
  [PbStrategy.DISCOVERY_STRATEGY_AGGRESSIVE]: 'AGGRESSIVE',
  [PbStrategy.DISCOVERY_STRATEGY_ADAPTIVE]: 'ADAPTIVE',
};

/** The strategy asked for, or undefined for "not given"; unknown numbers are undefined too (the caller reports them). */
export function toStrategy(s: PbStrategy): DiscoveryStrategy | undefined {
  return STRATEGY_TO_CORE[s];
}

/** A core strategy as the contract's enum. */
export function fromStrategy(s: DiscoveryStrategy): PbStrategy {
  return PbStrategy[`DISCOVERY_STRATEGY_${s}`];
}
