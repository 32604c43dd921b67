import { lookup } from 'node:dns/promises';
import { isIP, Socket } from 'node:net';
import type { ConnectionArgs } from '../connector/ConnectionArgs';
import type { DataSource, EndpointRole } from '../datasource/DataSource';
import { NotAllowedError, SourcedError } from '../errors';
import { PEM_FIELDS, pemPaths } from '../secret/credentialRequests';
import { SecretResolutionError } from '../secret/SecretChain';
import { failed, passed, warning, type CheckContext, type CheckDefinition } from './Check';

/** State the standard checks fill in, for the connector's own checks to use. */
export interface StandardCheckState {
  /** Set by `resolve-credentials`. */
  args?: ConnectionArgs;
  /** Set by `dns`: the addresses the host resolved to. */
  addresses?: string[];
  /** Set by `tcp`: the address that accepted the connection. */
  address?: string;
}

/** Resolves every credential through the secret chain and reports where each came from. */
export function resolveCredentialsCheck<S extends StandardCheckState>(connector: {
  connectionArgs(role: EndpointRole, signal: AbortSignal): Promise<ConnectionArgs>;
}): CheckDefinition<S> {
  return {
    id: 'resolve-credentials',
    title: 'Resolve credentials',
    async run(ctx) {
      try {
        const args = await connector.connectionArgs(ctx.role, ctx.signal);
        ctx.state.args = args;
        const sources = Object.entries(args.credentialSources);
        const details: Record<string, string> = {};
        for (const [name, link] of sources) {
          details[`${name}.source`] = link;
          details[`${name}.ms`] = (args.credentialTimings[name] ?? 0).toFixed(1);
        }
        if (args.user) details.user = args.user;
        if (sources.length === 0) return passed('no credentials to resolve: connecting without a password', details);
        return passed(`resolved ${sources.map(([n, l]) => `${n} from ${l} in ${(args.credentialTimings[n] ?? 0).toFixed(1)} ms`).join(', ')}`, details);
      } catch (error) {
        if (error instanceof SecretResolutionError) {
          return failed(
            error.message,
            'Give credentials.password as an inline value or a reference the daemon can read (env://, file://, aws-sm://, azure-kv://), or set it in connection_properties.password.',
          );
        }
        if (error instanceof NotAllowedError) {
          const metadata = error.metadata as Partial<Record<string, string>>;
          const hint = metadata.hint ?? "Use a reference the daemon's secret policy allows, or ask the operator to allow it (secrets.allowedReferences).";
          const file = error.reason === 'SSL_PATH_NOT_ALLOWED' ? tlsFileOf(ctx.source, metadata.field) : undefined;
          if (file) return failed(error.message.replace(`${file.field}: `, `${file.field} (${file.path}): `), hint, { ...file });
          return failed(error.message, hint);
        }
        // An envelope's errors (docs/encryption.md) carry their hint.
        if (error instanceof SourcedError) return failed(error.message, error.metadata.hint);
        throw error;
      }
    },
  };
}

/**
 * The TLS file a refused `ssl_config.ca` or `cert` names, as the caller wrote it (a path is not
 * a secret). Undefined for the client key, whose inline value is never echoed, and for a path
 * that came out of a secret reference.
 */
function tlsFileOf(source: DataSource, field: string | undefined): { field: string; path: string } | undefined {
  if (!field || !Object.values<string>(PEM_FIELDS).includes(field)) return undefined;
  return pemPaths(source).find((p) => p.field === field);
}

/**
 * Resolves the host name to addresses. With the daemon's target policy (`ctx.targets`), through it: only the
 * addresses the policy allows are kept (the later checks dial those), and a refused target
 * fails the check with the rule that refused it.
 */
export function dnsCheck<S extends StandardCheckState>(): CheckDefinition<S> {
  return {
    id: 'dns',
    title: 'DNS resolution',
    async run(ctx) {
      const host = ctx.endpoint.host;
      const policy = ctx.targets;
      try {
        if (isIP(host)) {
          if (policy) await policy.resolve(host);
          ctx.state.addresses = [host];
          return passed(`${host} is an IP address; nothing to resolve`, { addresses: host });
        }
        const found = await raceSignal(policy ? policy.resolve(host) : lookup(host, { all: true, verbatim: true }), ctx.signal);
        const addresses = found.map((a) => a.address);
        ctx.state.addresses = addresses;
        return passed(`${host} resolved to ${addresses.join(', ')}`, { addresses: addresses.join(',') });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'ERROR';
        if (code === 'ETARGETDENIED') {
          return failed(
            (error as Error).message,
            "Ask the daemon's operator to allow this target (targets.allow in its configuration), or use an address the policy allows.",
            { code, rule: String((error as { rule?: unknown }).rule) },
          );
        }
        if (code === 'ENOTFOUND' || code === 'ENODATA') {
          return failed(
            `host name ${host} does not resolve (${code})`,
            'Check the spelling of the host, and that the daemon uses a DNS server that knows it (private zones need the VPC or corporate resolver).',
            { code },
          );
        }
        if (ctx.signal.aborted)
          return failed(`DNS lookup of ${host} did not finish within ${ctx.timeoutMs} ms`, 'The DNS server is slow or unreachable from the daemon.', {
            code: 'TIMEOUT',
          });
        return failed(`DNS lookup of ${host} failed: ${code}`, 'The DNS server is unreachable or refused the query.', { code });
      }
    },
  };
}

/** Opens a TCP connection to the endpoint's port, trying each resolved address in order. */
export function tcpCheck<S extends StandardCheckState>(): CheckDefinition<S> {
  return {
    id: 'tcp',
    title: 'TCP connect',
    dependsOn: ['dns'],
    async run(ctx) {
      const { host, port } = ctx.endpoint;
      const addresses = ctx.state.addresses ?? [host];
      const errors: string[] = [];
      let lastCode = '';
      for (const address of addresses) {
        const started = performance.now();
        try {
          await connectOnce(address, port, ctx.signal, ctx.targets);
          ctx.state.address = address;
          const ms = performance.now() - started;
          return passed(`connected to ${address}:${port} in ${ms.toFixed(1)} ms`, { address: `${address}:${port}`, connect_ms: ms.toFixed(1) });
        } catch (error) {
          lastCode = (error as NodeJS.ErrnoException).code ?? (ctx.signal.aborted ? 'TIMEOUT' : 'ERROR');
          errors.push(`${address}:${port} ${lastCode}`);
          if (ctx.signal.aborted) break;
        }
      }
      const details = { tried: errors.join(', '), code: lastCode };
      if (lastCode === 'ECONNREFUSED') {
        return failed(
          `connection refused by ${host}:${port}: nothing listens on that port`,
          'Check the port, and that the database server is running and listens on this interface (PostgreSQL: listen_addresses).',
          details,
        );
      }
      if (lastCode === 'TIMEOUT' || lastCode === 'ETIMEDOUT') {
        return failed(
          `no answer from ${host}:${port} within ${ctx.timeoutMs} ms`,
          "A firewall or security group is probably dropping the packets; allow the daemon's address to reach this port.",
          details,
        );
      }
      if (lastCode === 'EHOSTUNREACH' || lastCode === 'ENETUNREACH') {
        return failed(
          `${host} is unreachable from the daemon (${lastCode})`,
          'There is no route to the host: check VPN, peering or routing between the daemon and the database.',
          details,
        );
      }
      return failed(`could not connect to ${host}:${port} (${lastCode})`, undefined, details);
    },
  };
}

/** One TCP connection, through the target policy when there is one (a host name is resolved through it). */
function connectOnce(host: string, port: number, signal: AbortSignal, policy: CheckContext<unknown>['targets']): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = policy ? policy.socket() : new Socket();
    const onAbort = () => {
      socket.destroy();
      reject(Object.assign(new Error('timed out'), { code: 'TIMEOUT' }));
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve();
    });
    socket.once('error', (error) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(error);
    });
    socket.connect(port, host);
  });
}

/** Resolves with the promise, or rejects when the signal fires first. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  // The daemon aborts with errors (an AbortedError, a DOMException from AbortSignal.timeout).
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the promise's own failure, passed on as it is
        reject(e);
      },
    );
  });
}

/** Round trips the latency check makes. */
export const LATENCY_ROUNDS = 5;
/** A median round trip above this many milliseconds is a warning. */
export const SLOW_MEDIAN_MS = 100;

/**
 * Measures round-trip latency with a few cheap requests (`ping`, for example `SELECT 1` or
 * MongoDB's `ping`), reporting the median and the maximum; a slow median is a warning.
 */
export function latencyCheck<S>(ping: (ctx: CheckContext<S>) => Promise<void>, dependsOn: string[] = ['authenticate']): CheckDefinition<S> {
  return {
    id: 'latency',
    title: 'Latency',
    dependsOn,
    async run(ctx) {
      const times: number[] = [];
      for (let i = 0; i < LATENCY_ROUNDS; i++) {
        const started = performance.now();
        await ping(ctx);
        times.push(performance.now() - started);
      }
      times.sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)];
      const max = times[times.length - 1];
      const details = { median_ms: median.toFixed(1), max_ms: max.toFixed(1), round_trips: String(LATENCY_ROUNDS) };
      const message = `median round trip ${median.toFixed(1)} ms, max ${max.toFixed(1)} ms over ${LATENCY_ROUNDS} requests`;
      if (median > SLOW_MEDIAN_MS) {
        return warning(
          message,
          'The link to the server is slow; discovery will be slow too. Run the daemon closer to the database, or use larger batches so fewer round trips are needed.',
          details,
        );
      }
      return passed(message, details);
    },
  };
}

/** The connection arguments `resolve-credentials` put in the state; checks that depend on it call this. */
export function connectionArgsOf(state: StandardCheckState): ConnectionArgs {
  if (!state.args) throw new Error('connection arguments are missing: resolve-credentials did not run');
  return state.args;
}
