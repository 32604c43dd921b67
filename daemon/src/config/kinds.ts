/**
 * The building blocks of the configuration schema: each kind of value with the message a bad
 * one gets (the path and where it came from are added by `errors.ts`), and `ConfigMeta`, what a
 * leaf tells the environment mapping, the path resolver and the README table.
 */
import { TargetPolicy } from '@sourced/core';
import { z } from 'zod';

/** What a schema node carries besides its description (set with `.meta()`). */
export interface ConfigMeta {
  /** One line for the README's configuration table. */
  description?: string;
  /** Older names of the leaf's environment variable, still read (README "Configuration"). */
  envAliases?: string[];
  /** The `sourced serve` flag that sets the leaf, e.g. `--log-level`. */
  flag?: string;
  /**
   * A path: `file` is resolved against the config file's folder (or the working folder, from the
   * environment and flags); `module` only when it starts with `./` or `../` (a package name stays);
   * `fileOrUrl` unless it is an http(s) URL.
   */
  path?: 'file' | 'module' | 'fileOrUrl';
  /** The default as the README shows it, when the value alone does not say it. */
  defaultText?: string;
}

declare module 'zod' {
  // What `.meta()` accepts: zod's own keys (description, …) and ours.
  interface GlobalMeta extends ConfigMeta {} // eslint-disable-line @typescript-eslint/no-empty-object-type -- zod's documented way to type .meta()
}

/** A value as an error message quotes it. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return JSON.stringify(value);
}

/** The same message for every way a value can fail: the type and each check. */
const says = (what: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? `missing: ${what}` : `${show(issue.input)} is not ${what}`),
});

export type NumberKind = 'nonNegative' | 'nonNegativeInt' | 'positiveInt' | 'port';
const NUMBER_KINDS: Record<NumberKind, string> = {
  nonNegative: 'a non-negative number',
  nonNegativeInt: 'a non-negative whole number',
  positiveInt: 'a positive whole number',
  port: 'a port (1-65535)',
};

/** A number of one kind; zod's number already refuses NaN and the infinities. */
export function number(kind: NumberKind) {
  const base = says(NUMBER_KINDS[kind]).error;
  // `"2500"` in a YAML or JSON file is a string: say how to write the number.
  const e = {
    error: (issue: { input?: unknown }) =>
      `${base(issue)}${typeof issue.input === 'string' && issue.input.trim() !== '' && Number.isFinite(Number(issue.input)) ? ' (a string: write the number without quotes)' : ''}`,
  };
  const n = kind === 'nonNegative' ? z.number(e) : z.number(e).int(e);
  const min = kind === 'nonNegative' || kind === 'nonNegativeInt' ? 0 : 1;
  return kind === 'port' ? n.min(min, e).max(65535, e) : n.min(min, e);
}

export const bool = () => z.boolean(says('true or false'));

/** A string that is not blank; `what` names what it should be. */
export const text = (what = 'a non-empty string') => z.string(says(what)).refine((v) => v.trim() !== '', says(what));

/** One of `values`, in any case (`WARN`, `adaptive`); the value kept is the canonical one. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  const canonical = (v: unknown) => (typeof v === 'string' ? (values.find((a) => a.toLowerCase() === v.trim().toLowerCase()) ?? v) : v);
  return z.preprocess(canonical, z.enum(values, says(`one of ${values.join(', ')}`)));
}

/** A list of `item`s; `what` says what the list is for a message. */
export const list = <T extends z.ZodType>(item: T, what: string) => z.array(item, says(what));

/** Globs (column names, references, …): non-empty strings. */
export const patterns = () => list(text('a pattern (a non-empty string)'), 'a list of patterns');

/** `HOST:PORT`, IPv6 in brackets. */
const LISTEN = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/;
export const LISTEN_HINT = 'HOST:PORT (for example 127.0.0.1:50051, or [::]:50051)';

/** Splits `host:port` (IPv6 in brackets), or undefined when it is not one. */
export function splitListen(value: string): { host: string; port: number } | undefined {
  const m = LISTEN.exec(value);
  return m && Number(m[2]) <= 65535 ? { host: m[1], port: Number(m[2]) } : undefined;
}
export const listenAddress = () => z.string(says(LISTEN_HINT)).refine((v) => splitListen(v) !== undefined, says(LISTEN_HINT));

/** Target-policy entries (CIDR blocks, addresses, host-name globs), trimmed, each checked by core's TargetPolicy. */
export function targetEntries(key: 'allow' | 'deny') {
  const hint = 'an entry is a CIDR block such as 10.0.0.0/8, an address, or a host-name pattern such as *.db.example.com';
  return list(
    z.string(says('a CIDR block, an address or a host-name pattern')).trim().min(1, says('a CIDR block, an address or a host-name pattern')),
    'a list of CIDR blocks, addresses or host-name patterns',
  ).superRefine((entries, ctx) => {
    try {
      new TargetPolicy({ allow: key === 'allow' ? entries : [], deny: key === 'deny' ? entries : [] });
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `${(error as Error).message.replace(/^targets\.(allow|deny): /, '')} (${hint})`, input: entries });
    }
  });
}

/** DNS servers for data-source names: `ip` or `ip:port`, checked by core's TargetPolicy. */
export function dnsServers() {
  const what = 'a DNS server (ip or ip:port)';
  return list(z.string(says(what)).trim().min(1, says(what)), 'a list of addresses (ip or ip:port)').superRefine((servers, ctx) => {
    try {
      new TargetPolicy({ allow: [], deny: [] }, { dnsServers: servers });
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `${(error as Error).message.replace(/^targets\.dnsServers: /, '')} (a DNS server is an address, ip or ip:port, such as 10.0.0.2 or [fd00::2]:53)`,
        input: servers,
      });
    }
  });
}

/** A secret reference (`env://NAME`, `file:///path`, `aws-sm://...`), never a value. */
export const secretReference = () =>
  z
    .string(says('a secret reference'))
    .regex(/^[a-z][a-z0-9+.-]*:\/\//i, { error: 'must be a secret reference (env://NAME, file:///path, aws-sm://..., azure-kv://...), never the key itself' });

/** A static bearer token as the daemon keeps it: the hex SHA-256, never the token. */
export const tokenEntry = () =>
  z.strictObject({
    principal: text().refine((p) => !/^(jwt|token|mtls):/i.test(p), {
      // `jwt:` names JWT subjects (and `token:`/`mtls:` are binding prefixes): a token named so would pass for one.
      error: (issue) => `${show(issue.input)} starts with a prefix that names how a caller authenticated (jwt:, token:, mtls:); pick another name`,
    }),
    sha256: z
      .string(says('the hex SHA-256 of the token'))
      .toLowerCase()
      .regex(/^[0-9a-f]{64}$/, { error: 'must be the hex SHA-256 of the token (64 hex digits; printf %s "$TOKEN" | sha256sum), never the token itself' }),
  });
