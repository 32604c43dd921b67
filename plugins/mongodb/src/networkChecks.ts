/** MongoDB's network checks: DNS (with the SRV seed list), TCP (every seed) and TLS. */
import {
  abortedErrorFrom,
  describeCertificateError,
  checkClientKeyPair,
  describeTlsHandshakeFailure,
  describeTlsSession,
  probeTlsOptions,
  dnsCheck,
  failed,
  passed,
  scrubbedErrorText,
  skipped,
  tcpCheck,
  warning,
  type CheckContext,
  type CheckResult,
  connectionArgsOf,
} from '@sourced/core';
import { settingsOf, type Check, type MongoCheckState } from './checkState';
import type { MongoSettings } from './connect';
import { lookupSrv, seedListUrl, srvClientOptions } from './srv';
import { probeTls } from './tlsProbe';

const standardDns = dnsCheck<MongoCheckState>();
const standardTcp = tcpCheck<MongoCheckState>();

/**
 * For `mongodb+srv`: the seed list and TXT options the dns check found (through the target
 * policy's DNS servers), so the probes' drivers resolve no SRV record themselves.
 */
export function seedListFromState(
  ctx: CheckContext<MongoCheckState>,
  settings: MongoSettings,
): { url: string; options: ReturnType<typeof srvClientOptions> } | undefined {
  const srv = ctx.state.srv;
  if (!settings.srv || !srv) return undefined;
  return { url: seedListUrl(srv.seeds), options: srvClientOptions(srv.options, settings.authSource !== undefined) };
}

/** DNS: the host's addresses; for `mongodb+srv`, the SRV seed list and TXT options too. */
export const mongoDnsCheck: Check = {
  id: 'dns',
  title: 'DNS resolution',
  async run(ctx) {
    const settings = settingsOf(ctx);
    if (!settings.srv) return standardDns.run(ctx);
    try {
      const srv = await lookupSrv(settings.host, ctx.signal, ctx.targets);
      const details: Record<string, string> = { srv_record: srv.record, seeds: srv.seeds.map((s) => `${s.host}:${s.port}`).join(',') };
      if (srv.txt) details.txt = srv.txt;
      if (srv.seeds.length === 0)
        return failed(`${srv.record} has no SRV records`, 'Check the cluster\'s SRV name (Atlas: the "mongodb+srv" host of the connection string).', details);
      if (srv.foreign.length > 0) {
        return failed(
          `the SRV records of ${settings.host} name hosts outside its domain (${srv.foreign.join(', ')}); the driver refuses them`,
          'Fix the SRV records, or connect to one member by host and port without SRV.',
          details,
        );
      }
      ctx.state.srv = { seeds: srv.seeds, options: srv.options };
      const seedList = srv.seeds.map((s) => `${s.host}:${s.port}`).join(', ');
      return passed(`${srv.record} lists ${srv.seeds.length} hosts: ${seedList}${srv.txt ? `; TXT options ${srv.txt}` : ''}`, details);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'ERROR';
      if (ctx.signal.aborted)
        return failed(`SRV lookup of ${settings.host} did not finish within ${ctx.timeoutMs} ms`, 'The DNS server is slow or unreachable from the daemon.', {
          code: 'TIMEOUT',
        });
      return failed(
        `no SRV record _mongodb._tcp.${settings.host} (${code})`,
        'Check the host: with connection_properties.srv (or a host starting with _mongodb._tcp.) it must be a mongodb+srv name; otherwise give a host and port.',
        { code },
      );
    }
  },
};

/** TCP: the port; for `mongodb+srv`, every seed (some unreachable is a warning). */
export const mongoTcpCheck: Check = {
  id: 'tcp',
  title: 'TCP connect',
  dependsOn: ['dns'],
  async run(ctx) {
    const seeds = ctx.state.srv?.seeds;
    if (!seeds) {
      const result = await standardTcp.run(ctx);
      if (result.status === 'PASSED') ctx.state.reachable = { host: ctx.state.address ?? ctx.endpoint.host, port: ctx.endpoint.port };
      return result;
    }
    const reached: string[] = [];
    let firstFailure: CheckResult | undefined;
    for (const seed of seeds) {
      const state: MongoCheckState = {};
      const result = await standardTcp.run({ ...ctx, endpoint: { ...ctx.endpoint, host: seed.host, port: seed.port }, state });
      if (result.status === 'PASSED') {
        reached.push(`${seed.host}:${seed.port}`);
        ctx.state.reachable ??= seed;
      } else {
        firstFailure ??= result;
      }
      if (ctx.signal.aborted) break;
    }
    const details = { reachable: reached.join(','), seeds: String(seeds.length) };
    if (reached.length === 0) return { ...(firstFailure ?? failed('no seed could be reached')), details: { ...firstFailure?.details, ...details } };
    if (reached.length < seeds.length) {
      return warning(
        `connected to ${reached.length} of ${seeds.length} hosts of the seed list`,
        firstFailure?.hint ?? 'Some members are unreachable from the daemon.',
        details,
      );
    }
    return passed(`connected to all ${seeds.length} hosts of the seed list`, details);
  },
};

/**
 * TLS: MongoDB speaks TLS from the first byte, so this is a plain TLS handshake with the
 * data source's settings, reporting protocol, cipher and certificate. With TLS off it
 * tries an unverified handshake (with half the check's time) to say whether the server
 * offers TLS; that never fails the run.
 */
export const tlsCheck: Check = {
  id: 'tls',
  title: 'TLS handshake',
  dependsOn: ['resolve-credentials', 'tcp'],
  async run(ctx) {
    const args = connectionArgsOf(ctx.state);
    const target = ctx.state.reachable ?? { host: args.host, port: args.port };
    const name = ctx.state.srv ? target.host : args.host;
    const address = ctx.state.srv ? target.host : (ctx.state.address ?? args.host);
    if (!args.tls) {
      const notRequested = 'TLS not requested (ssl_config.mode is SSL_MODE_DISABLE)';
      try {
        const budget = AbortSignal.any([ctx.signal, AbortSignal.timeout(Math.max(50, Math.min(2000, ctx.timeoutMs / 2)))]);
        const session = await probeTls(address, target.port, { rejectUnauthorized: false, host: name, servername: undefined }, budget, ctx.targets);
        ctx.state.serverOffersTls = true;
        return {
          status: 'SKIPPED',
          message: `${notRequested}; the server offers TLS (${session.protocol})`,
          hint: `The server supports TLS: set ssl_config.mode to SSL_MODE_VERIFY_FULL with its CA in ssl_config.ca${ctx.source.location === 'ON_PREM' ? '' : '; CLOUD and HYBRID sources should always use it'}.`,
          details: { 'server.tls': 'offered', 'tls.protocol': session.protocol },
        };
      } catch (error) {
        if (ctx.signal.aborted) throw abortedErrorFrom(ctx.signal);
        ctx.state.serverOffersTls = false;
        return skipped(`${notRequested}; the server does not offer TLS either`, { 'server.tls': 'not offered' });
      }
    }
    const keyPair = checkClientKeyPair(args.tls);
    if (keyPair) return keyPair;
    try {
      return describeTlsSession(await probeTls(address, target.port, probeTlsOptions(args.tls, name), ctx.signal, ctx.targets), args.tls, name);
    } catch (error) {
      if (ctx.signal.aborted) throw abortedErrorFrom(ctx.signal);
      const code = (error as { code?: unknown }).code;
      const text = scrubbedErrorText(error, [args.tls.key, args.password]);
      if (
        !describeCertificateError(error, args.tls.servername ?? name, args.tls) &&
        (code === 'ECONNRESET' || /before secure TLS connection|wrong version number/i.test(text))
      ) {
        return failed(
          `the server at ${target.host}:${target.port} does not speak TLS (it closed the connection at the TLS handshake)`,
          'Turn TLS on in mongod (net.tls.mode with a certificate), or, on a trusted network only, set ssl_config.mode to SSL_MODE_DISABLE.',
          { mode: args.tls.mode, code: typeof code === 'string' || typeof code === 'number' ? String(code) : '' },
        );
      }
      return describeTlsHandshakeFailure(error, args.tls, target.host, target.port, text);
    }
  },
};
