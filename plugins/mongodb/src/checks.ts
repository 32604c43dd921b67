import {
  abortedErrorFrom,
  describeCertificateError,
  checkClientKeyPair,
  describeTlsHandshakeFailure,
  describeTlsSession,
  probeTlsOptions,
  dnsCheck,
  failed,
  latencyCheck,
  passed,
  resolveCredentialsCheck,
  scrubbedErrorText,
  skipped,
  tcpCheck,
  warning,
  type CheckContext,
  type CheckDefinition,
  type CheckResult,
  type LocationAwareConnector,
  type StandardCheckState,
  type ValidationPlan,
  connectionArgsOf,
} from '@sourced/core';
import type { Document, MongoClient } from 'mongodb';
import { SYSTEM_DATABASES } from './catalog';
import { closeClient, mongoClientOptions, mongoSettings, mongoUrl, openClient, type MongoSettings } from './connect';
import { describeConnectFailure } from './connectFailure';
import { ErrorCode, serverCode } from './mongoErrors';
import { lookupSrv, seedListUrl, srvClientOptions } from './srv';
import { probeTls } from './tlsProbe';

/** State of one endpoint's checks: the standard checks' facts plus MongoDB's. */
export interface MongoCheckState extends StandardCheckState {
  settings?: MongoSettings;
  /** Set by `dns` for `mongodb+srv`: the seed list and the TXT options. */
  srv?: { seeds: { host: string; port: number }[]; options: Record<string, string> };
  /** Set by `tcp`: the host and port that accepted a connection (a seed, for SRV). */
  reachable?: { host: string; port: number };
  /** Set by `tls` when TLS is off: whether the server speaks TLS anyway. */
  serverOffersTls?: boolean;
  /** Set by `handshake`: a client that has not logged in; closed by cleanup. */
  probe?: MongoClient;
  hello?: Document;
  /** Set by `authenticate`: the logged-in client (the probe when there are no credentials); closed by cleanup. */
  client?: MongoClient;
}

/**
 * The oldest MongoDB release line MongoDB Inc. still supports: 6.0 reached its end of life
 * in July 2025. Older servers get a warning (discovery still runs on 4.2 and later).
 */
const OLDEST_SUPPORTED_MAJOR = 7;

/** Server versions by wire version, for when buildInfo cannot be read. */
const WIRE_VERSIONS: Record<number, string> = { 8: '4.2', 9: '4.4', 13: '5.0', 17: '6.0', 21: '7.0', 25: '8.0' };

/** Databases the privileges check looks into, at most. */
const MAX_DATABASES_CHECKED = 100;

type Check = CheckDefinition<MongoCheckState>;

/**
 * The checks of one MongoDB endpoint, in order: resolve-credentials, dns (with the SRV seed
 * list and TXT options for `mongodb+srv`), tcp, tls, handshake (topology), server-version,
 * authenticate, privileges, latency. The handshake and the server version need no login
 * (as on a real server), so they run before authenticate and tell a wrong password apart
 * from a server that cannot be reached.
 */
export function mongoValidationPlan(connector: LocationAwareConnector<MongoClient>): ValidationPlan<MongoCheckState> {
  return {
    createState: () => ({}),
    checks: [
      resolveCredentialsCheck<MongoCheckState>(connector as LocationAwareConnector<unknown>),
      mongoDnsCheck,
      mongoTcpCheck,
      tlsCheck,
      handshakeCheck,
      serverVersionCheck,
      authenticateCheck,
      privilegesCheck,
      latencyCheck<MongoCheckState>(async (ctx) => {
        await clientOf(ctx).db('admin').command({ ping: 1 }, { signal: ctx.signal });
      }),
    ],
    async cleanup(state) {
      const clients = new Set([state.probe, state.client].filter((c): c is MongoClient => c !== undefined));
      state.probe = undefined;
      state.client = undefined;
      await Promise.all([...clients].map(closeClient));
    },
  };
}

function settingsOf(ctx: CheckContext<MongoCheckState>): MongoSettings {
  ctx.state.settings ??= mongoSettings(ctx.source, ctx.endpoint.host);
  return ctx.state.settings;
}

function probeOf(ctx: CheckContext<MongoCheckState>): MongoClient {
  if (!ctx.state.probe) throw new Error('no connection: handshake did not run');
  return ctx.state.probe;
}

function clientOf(ctx: CheckContext<MongoCheckState>): MongoClient {
  if (!ctx.state.client) throw new Error('no logged-in connection: authenticate did not run');
  return ctx.state.client;
}

/** Client timeouts within the check's own limit, so a failure is reported before the check times out. */
function timeoutWithin(ctx: CheckContext<MongoCheckState>): number {
  return Math.max(100, Math.min(connectionArgsOf(ctx.state).connectTimeoutMs, ctx.timeoutMs - 250));
}

const standardDns = dnsCheck<MongoCheckState>();
const standardTcp = tcpCheck<MongoCheckState>();

/**
 * For `mongodb+srv`: the seed list and TXT options the dns check found (through the target
 * policy's DNS servers), so the probes' drivers resolve no SRV record themselves.
 */
function seedListFromState(ctx: CheckContext<MongoCheckState>, settings: MongoSettings): { url: string; options: ReturnType<typeof srvClientOptions> } | undefined {
  const srv = ctx.state.srv;
  if (!settings.srv || !srv) return undefined;
  return { url: seedListUrl(srv.seeds), options: srvClientOptions(srv.options, settings.authSource !== undefined) };
}

/** DNS: the host's addresses; for `mongodb+srv`, the SRV seed list and TXT options too. */
const mongoDnsCheck: Check = {
  id: 'dns',
  title: 'DNS resolution',
  async run(ctx) {
    const settings = settingsOf(ctx);
    if (!settings.srv) return standardDns.run(ctx);
    try {
      const srv = await lookupSrv(settings.host, ctx.signal, ctx.targets);
      const details: Record<string, string> = { srv_record: srv.record, seeds: srv.seeds.map((s) => `${s.host}:${s.port}`).join(',') };
      if (srv.txt) details.txt = srv.txt;
      if (srv.seeds.length === 0) return failed(`${srv.record} has no SRV records`, 'Check the cluster\'s SRV name (Atlas: the "mongodb+srv" host of the connection string).', details);
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
      if (ctx.signal.aborted) return failed(`SRV lookup of ${settings.host} did not finish within ${ctx.timeoutMs} ms`, 'The DNS server is slow or unreachable from the daemon.', { code: 'TIMEOUT' });
      return failed(
        `no SRV record _mongodb._tcp.${settings.host} (${code})`,
        'Check the host: with connection_properties.srv (or a host starting with _mongodb._tcp.) it must be a mongodb+srv name; otherwise give a host and port.',
        { code },
      );
    }
  },
};

/** TCP: the port; for `mongodb+srv`, every seed (some unreachable is a warning). */
const mongoTcpCheck: Check = {
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
      return warning(`connected to ${reached.length} of ${seeds.length} hosts of the seed list`, firstFailure?.hint ?? 'Some members are unreachable from the daemon.', details);
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
const tlsCheck: Check = {
  id: 'tls',
  title: 'TLS handshake',
  dependsOn: ['resolve-credentials', 'tcp'],
  async run(ctx) {
    const args = connectionArgsOf(ctx.state);
    const target = ctx.state.reachable ?? { host: args.host, port: args.port };
    const name = ctx.state.srv ? target.host : args.host;
    const address = ctx.state.srv ? target.host : ctx.state.address ?? args.host;
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
      if (!describeCertificateError(error, args.tls.servername ?? name, args.tls) && (code === 'ECONNRESET' || /before secure TLS connection|wrong version number/i.test(text))) {
        return failed(
          `the server at ${target.host}:${target.port} does not speak TLS (it closed the connection at the TLS handshake)`,
          'Turn TLS on in mongod (net.tls.mode with a certificate), or, on a trusted network only, set ssl_config.mode to SSL_MODE_DISABLE.',
          { mode: args.tls.mode, code: String(code ?? '') },
        );
      }
      return describeTlsHandshakeFailure(error, args.tls, target.host, target.port, text);
    }
  },
};

/** The server's own hello: `hello` (MongoDB 4.4.2+), else the legacy isMaster. */
async function helloOf(client: MongoClient, signal: AbortSignal, extra: Document = {}): Promise<Document> {
  try {
    return await client.db('admin').command({ hello: 1, ...extra }, { signal });
  } catch (error) {
    if (serverCode(error) !== ErrorCode.CommandNotFound) throw error;
    return client.db('admin').command({ isMaster: 1, ...extra }, { signal });
  }
}

/** The topology a hello reply describes. */
function describeTopology(hello: Document, srvSeeds: number | undefined): CheckResult {
  const details: Record<string, string> = {
    max_wire_version: String(hello.maxWireVersion ?? ''),
    min_wire_version: String(hello.minWireVersion ?? ''),
  };
  if (srvSeeds !== undefined) details.seeds = String(srvSeeds);
  if (hello.msg === 'isdbgrid') {
    details.topology = 'sharded';
    return passed('a mongos router of a sharded cluster', details);
  }
  if (typeof hello.setName === 'string') {
    const primary = hello.isWritablePrimary === true || hello.ismaster === true;
    const role = primary ? 'primary' : hello.arbiterOnly ? 'arbiter' : hello.secondary ? 'secondary' : hello.hidden ? 'hidden member' : 'member in another state';
    const members = [...((hello.hosts as string[]) ?? []), ...((hello.passives as string[]) ?? []), ...((hello.arbiters as string[]) ?? [])];
    Object.assign(details, { topology: 'replica-set', set_name: hello.setName, role, members: members.join(',') });
    if (typeof hello.primary === 'string') details.primary = hello.primary;
    if (typeof hello.me === 'string') details.me = hello.me;
    const message = `replica set "${hello.setName}": this server is the ${role}; ${members.length} members (${members.join(', ')})${!primary && hello.primary ? `; primary ${hello.primary}` : ''}`;
    if (hello.arbiterOnly) {
      return failed(`${message}; an arbiter holds no data`, 'Point the data source at a data-bearing member, or use the replica set\'s SRV name.', details);
    }
    if (!primary && !hello.secondary) return warning(message, 'The member is not readable now (recovering, starting up or removed).', details);
    return passed(message, details);
  }
  if (hello.isreplicaset === true) {
    details.topology = 'replica-set (not initialized)';
    return warning('a replica set member whose set is not initialized yet', 'Run rs.initiate() on the server, or start it without --replSet.', details);
  }
  details.topology = 'standalone';
  return passed('a standalone server', details);
}

const handshakeCheck: Check = {
  id: 'handshake',
  title: 'MongoDB handshake',
  dependsOn: ['resolve-credentials', 'tcp', 'tls'],
  async run(ctx) {
    const args = connectionArgsOf(ctx.state);
    const settings = settingsOf(ctx);
    let client: MongoClient;
    try {
      const options = mongoClientOptions(args, settings, { authenticate: false, maxPoolSize: 1, timeoutMs: timeoutWithin(ctx) });
      const seeds = seedListFromState(ctx, settings);
      client = await openClient(seeds?.url ?? mongoUrl(args, settings), { ...options, ...seeds?.options }, ctx.signal, args.targets);
    } catch (error) {
      if (ctx.signal.aborted) throw abortedErrorFrom(ctx.signal);
      const f = describeConnectFailure(error, args, settings, { serverOffersTls: ctx.state.serverOffersTls });
      return failed(f.message, f.hint, f.code ? { code: f.code } : undefined);
    }
    ctx.state.probe = client;
    const hello = await helloOf(client, ctx.signal);
    ctx.state.hello = hello;
    return describeTopology(hello, ctx.state.srv?.seeds.length);
  },
};

const serverVersionCheck: Check = {
  id: 'server-version',
  title: 'Server version',
  dependsOn: ['handshake'],
  async run(ctx) {
    let info: Document;
    try {
      info = await probeOf(ctx).db('admin').command({ buildInfo: 1 }, { signal: ctx.signal });
    } catch (error) {
      if (serverCode(error) !== ErrorCode.Unauthorized) throw error;
      const wire = Number(ctx.state.hello?.maxWireVersion);
      const approx = WIRE_VERSIONS[wire];
      return warning(
        `the server does not show its version before login; its wire version ${wire} means MongoDB ${approx ?? 'of an unknown release'}`,
        undefined,
        { max_wire_version: String(wire) },
      );
    }
    const version = String(info.version);
    const modules = (info.modules as string[] | undefined) ?? [];
    const edition = modules.includes('enterprise') ? ' Enterprise' : '';
    const details: Record<string, string> = { version, git_version: String(info.gitVersion ?? ''), modules: modules.join(','), bits: String(info.bits ?? '') };
    const major = Number.parseInt(version, 10);
    if (major < OLDEST_SUPPORTED_MAJOR) {
      return warning(
        `MongoDB${edition} ${version} has reached its end of life`,
        `Upgrade to MongoDB ${OLDEST_SUPPORTED_MAJOR}.0 or later; discovery works from 4.2, time-series collections need 5.0.`,
        details,
      );
    }
    return passed(`MongoDB${edition} ${version}`, details);
  },
};

/** Whether the user exists in its auth source: a real server lists `saslSupportedMechs` only then. */
async function userMechanisms(ctx: CheckContext<MongoCheckState>, authSource: string, user: string): Promise<string[] | undefined> {
  try {
    const hello = await helloOf(probeOf(ctx), ctx.signal, { saslSupportedMechs: `${authSource}.${user}` });
    return Array.isArray(hello.saslSupportedMechs) ? (hello.saslSupportedMechs as string[]) : [];
  } catch {
    return undefined;
  }
}

const authenticateCheck: Check = {
  id: 'authenticate',
  title: 'Authenticate',
  dependsOn: ['handshake'],
  async run(ctx) {
    const args = connectionArgsOf(ctx.state);
    const settings = settingsOf(ctx);
    if (!args.user && settings.authMechanism !== 'MONGODB-X509') return anonymous(ctx);
    const user = args.user ?? '';
    const authSource = settings.authSource ?? ctx.state.srv?.options.authSource ?? 'admin';
    const details: Record<string, string> = { user, auth_source: authSource, tls: args.tls ? 'on' : 'off' };
    if (!args.password && settings.authMechanism !== 'MONGODB-X509') {
      return failed(`user "${user}" has no password`, 'Give credentials.password (an inline value or a reference such as env://, aws-sm://, azure-kv://), or set connection_properties.password.', details);
    }
    const mechanisms = settings.authMechanism === 'MONGODB-X509' ? undefined : await userMechanisms(ctx, authSource, user);
    const mechanism = settings.authMechanism !== 'DEFAULT' ? settings.authMechanism : mechanisms?.includes('SCRAM-SHA-256') || !mechanisms?.length ? 'SCRAM-SHA-256' : 'SCRAM-SHA-1';
    details.mechanism = mechanism;
    let client: MongoClient;
    try {
      const options = mongoClientOptions(args, settings, { authenticate: true, maxPoolSize: 1, timeoutMs: timeoutWithin(ctx) });
      const seeds = seedListFromState(ctx, settings);
      client = await openClient(seeds?.url ?? mongoUrl(args, settings), { ...options, ...seeds?.options }, ctx.signal, args.targets);
    } catch (error) {
      if (ctx.signal.aborted) throw abortedErrorFrom(ctx.signal);
      const f = describeConnectFailure(error, args, { ...settings, authSource }, {
        serverOffersTls: ctx.state.serverOffersTls,
        userExists: mechanisms === undefined ? undefined : mechanisms.length > 0,
      });
      if (f.code) details.code = f.code;
      return failed(f.message, f.hint, details);
    }
    ctx.state.client = client;
    const status = await client.db('admin').command({ connectionStatus: 1 }, { signal: ctx.signal });
    const authInfo = (status.authInfo ?? {}) as { authenticatedUsers?: { user: string; db: string }[]; authenticatedUserRoles?: { role: string; db: string }[] };
    const roles = (authInfo.authenticatedUserRoles ?? []).map((r) => `${r.role}@${r.db}`);
    details.roles = roles.join(',');
    if (!(authInfo.authenticatedUsers ?? []).some((u) => u.user === user || settings.authMechanism === 'MONGODB-X509')) {
      return failed(`the server accepted the login but does not report "${user}" as authenticated`, undefined, details);
    }
    return passed(`authenticated as "${user}" (auth source "${authSource}", ${mechanism}); roles: ${roles.join(', ') || 'none'}`, details);
  },
};

/** No credentials: say whether the server lets anyone read its catalog. */
async function anonymous(ctx: CheckContext<MongoCheckState>): Promise<CheckResult> {
  const client = probeOf(ctx);
  ctx.state.client = client;
  try {
    await client.db('admin').command({ listDatabases: 1, nameOnly: true }, { signal: ctx.signal });
  } catch (error) {
    if (serverCode(error) !== ErrorCode.Unauthorized) throw error;
    return failed('no user name given, and the server requires authentication', 'Give credentials.username and credentials.password of a user with the read role on the databases to discover.');
  }
  return warning(
    'connected without credentials: the server does not require authentication',
    'Anyone who reaches the port can read every database. Turn access control on (security.authorization: enabled) and give sourced a read-only user.',
    { user: '' },
  );
}

/**
 * Which databases and collections the user may list: listDatabases with
 * authorizedDatabases, then per database listCollections (names only), which needs the
 * listCollections privilege on the database; a user with privileges on some collections
 * only sees those (authorizedCollections), which is a warning. When the user may also list
 * every database, those it holds no privilege in are named.
 */
const privilegesCheck: Check = {
  id: 'privileges',
  title: 'Privileges',
  dependsOn: ['authenticate'],
  async run(ctx) {
    const client = clientOf(ctx);
    const admin = client.db('admin');
    const listed = await admin.command({ listDatabases: 1, nameOnly: true, authorizedDatabases: true }, { signal: ctx.signal });
    const databases = (listed.databases as { name: string }[]).map((d) => d.name).filter((n) => !SYSTEM_DATABASES.includes(n)).sort();
    let invisible: string[] = [];
    try {
      const all = await admin.command({ listDatabases: 1, nameOnly: true, authorizedDatabases: false }, { signal: ctx.signal });
      invisible = (all.databases as { name: string }[]).map((d) => d.name).filter((n) => !SYSTEM_DATABASES.includes(n) && !databases.includes(n)).sort();
    } catch (error) {
      if (serverCode(error) !== ErrorCode.Unauthorized) throw error;
      // The user may not list every database: which ones it cannot see stays unknown.
    }
    const full: string[] = [];
    const partial: string[] = [];
    const none: string[] = [];
    let collections = 0;
    for (const db of databases.slice(0, MAX_DATABASES_CHECKED)) {
      try {
        collections += (await client.db(db).listCollections({}, { nameOnly: true, signal: ctx.signal }).toArray()).length;
        full.push(db);
      } catch (error) {
        if (serverCode(error) !== ErrorCode.Unauthorized) throw error;
        try {
          const some = await client.db(db).listCollections({}, { nameOnly: true, authorizedCollections: true, signal: ctx.signal }).toArray();
          collections += some.length;
          partial.push(`${db} (${some.length})`);
        } catch (second) {
          if (serverCode(second) !== ErrorCode.Unauthorized) throw second;
          none.push(db);
        }
      }
    }
    const details: Record<string, string> = {
      databases: databases.join(','),
      'databases.listable': full.join(','),
      'databases.partly_listable': partial.join(','),
      'databases.not_listable': none.join(','),
      collections: String(collections),
    };
    if (invisible.length > 0) details['databases.without_privileges'] = invisible.join(',');
    if (databases.length > MAX_DATABASES_CHECKED) details['databases.checked'] = String(MAX_DATABASES_CHECKED);
    const user = ctx.state.args?.user ? `"${ctx.state.args.user}"` : 'the connection';
    if (databases.length === 0) {
      return failed(
        `${user} may list no database besides MongoDB's own`,
        'Grant the read role on the databases to discover (db.grantRolesToUser(user, [{ role: "read", db: "<db>" }])), or readAnyDatabase.',
        details,
      );
    }
    const summary = `may list ${databases.length} databases with ${collections} collections`;
    const gaps: string[] = [];
    if (partial.length > 0) gaps.push(`only some collections of ${partial.join(', ')}`);
    if (none.length > 0) gaps.push(`no collections of ${none.join(', ')}`);
    if (invisible.length > 0) gaps.push(`nothing of ${invisible.join(', ')}`);
    if (gaps.length > 0) {
      return warning(
        `${summary}; ${gaps.join('; ')}`,
        'Discovery lists only what the user may see. For whole databases grant the read role on them (it includes listCollections and listIndexes).',
        details,
      );
    }
    return passed(summary, details);
  },
};
