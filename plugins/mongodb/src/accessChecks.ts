/** MongoDB's access checks: authenticate (or say what an anonymous client may read), then privileges. */
import { abortedErrorFrom, failed, passed, warning, type CheckContext, type CheckResult, connectionArgsOf } from '@sourced/core';
import type { MongoClient } from 'mongodb';
import { clientOf, probeOf, settingsOf, timeoutWithin, type Check, type MongoCheckState } from './checkState';
import { SYSTEM_DATABASES } from './catalog';
import { mongoClientOptions, mongoUrl, openClient } from './connect';
import { describeConnectFailure } from './connectFailure';
import { ErrorCode, serverCode } from './mongoErrors';
import { seedListFromState } from './networkChecks';
import { helloOf } from './serverChecks';

/** Databases the privileges check looks into, at most. */
const MAX_DATABASES_CHECKED = 100;

/** Whether the user exists in its auth source: a real server lists `saslSupportedMechs` only then. */
async function userMechanisms(ctx: CheckContext<MongoCheckState>, authSource: string, user: string): Promise<string[] | undefined> {
  try {
    const hello = await helloOf(probeOf(ctx), ctx.signal, { saslSupportedMechs: `${authSource}.${user}` });
    return Array.isArray(hello.saslSupportedMechs) ? (hello.saslSupportedMechs as string[]) : [];
  } catch {
    return undefined;
  }
}

export const authenticateCheck: Check = {
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
      return failed(
        `user "${user}" has no password`,
        'Give credentials.password (an inline value or a reference such as env://, aws-sm://, azure-kv://), or set connection_properties.password.',
        details,
      );
    }
    const mechanisms = settings.authMechanism === 'MONGODB-X509' ? undefined : await userMechanisms(ctx, authSource, user);
    const mechanism =
      settings.authMechanism !== 'DEFAULT'
        ? settings.authMechanism
        : mechanisms?.includes('SCRAM-SHA-256') || !mechanisms?.length
          ? 'SCRAM-SHA-256'
          : 'SCRAM-SHA-1';
    details.mechanism = mechanism;
    let client: MongoClient;
    const timeoutMs = timeoutWithin(ctx);
    try {
      const options = mongoClientOptions(args, settings, { authenticate: true, maxPoolSize: 1, timeoutMs });
      const seeds = seedListFromState(ctx, settings);
      client = await openClient(seeds?.url ?? mongoUrl(args, settings), { ...options, ...seeds?.options }, ctx.signal, args.targets);
    } catch (error) {
      if (ctx.signal.aborted) throw abortedErrorFrom(ctx.signal);
      const f = describeConnectFailure(
        error,
        args,
        { ...settings, authSource },
        {
          serverOffersTls: ctx.state.serverOffersTls,
          userExists: mechanisms === undefined ? undefined : mechanisms.length > 0,
          timeoutMs,
          checkLimitMs: ctx.timeoutMs,
        },
      );
      if (f.code) details.code = f.code;
      return failed(f.message, f.hint, details);
    }
    ctx.state.client = client;
    const status = await client.db('admin').command({ connectionStatus: 1 }, { signal: ctx.signal });
    const authInfo = (status.authInfo ?? {}) as {
      authenticatedUsers?: { user: string; db: string }[];
      authenticatedUserRoles?: { role: string; db: string }[];
    };
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
    return failed(
      'no user name given, and the server requires authentication',
      'Give credentials.username and credentials.password of a user with the read role on the databases to discover.',
    );
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
export const privilegesCheck: Check = {
  id: 'privileges',
  title: 'Privileges',
  dependsOn: ['authenticate'],
  async run(ctx) {
    const client = clientOf(ctx);
    const admin = client.db('admin');
    const listed = await admin.command({ listDatabases: 1, nameOnly: true, authorizedDatabases: true }, { signal: ctx.signal });
    const databases = (listed.databases as { name: string }[])
      .map((d) => d.name)
      .filter((n) => !SYSTEM_DATABASES.includes(n))
      .sort();
    let invisible: string[] = [];
    try {
      const all = await admin.command({ listDatabases: 1, nameOnly: true, authorizedDatabases: false }, { signal: ctx.signal });
      invisible = (all.databases as { name: string }[])
        .map((d) => d.name)
        .filter((n) => !SYSTEM_DATABASES.includes(n) && !databases.includes(n))
        .sort();
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
