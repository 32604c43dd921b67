import {
  DEFAULT_SAMPLING,
  EMPTY_FILTER,
  abortedErrorFrom,
  compileFilter,
  checkClientKeyPair,
  describeTlsHandshakeFailure,
  describeTlsSession,
  probeTlsOptions,
  dnsCheck,
  failed,
  latencyCheck,
  matchesLikePattern,
  passed,
  resolveCredentialsCheck,
  scrubbedErrorText,
  tcpCheck,
  warning,
  type CheckContext,
  type CheckDefinition,
  type CheckResult,
  type ConnectionArgs,
  type ConnectorCall,
  type StandardCheckState,
  type ValidationPlan,
  connectionArgsOf,
} from '@sourced/core';
import type { Connection } from 'mysql2';
import { GRANTEE_SQL, readRelations, readSchemas, userSchemaSql } from './catalog';
import { atLeast, connectSession, parseServerVersion, sessionOf } from './connect';
import { describeConnectFailure } from './connectFailure';
import { GreetingError, probeGreeting, type ServerGreeting } from './greetingProbe';
import { closedByCancel, endConnection, query } from './query';

/** State of one endpoint's checks: the standard checks' facts, the greeting and the authenticated connection. */
export interface MysqlCheckState extends StandardCheckState {
  /** Set by `tls`: what the server's greeting said. */
  greeting?: ServerGreeting;
  /** Set by `authenticate`; used by the later checks; closed by cleanup. */
  conn?: Connection;
}

type Check = CheckDefinition<MysqlCheckState>;

/**
 * The oldest releases discovery reads everything from: MySQL 8.0 (invisible indexes,
 * functional key parts from 8.0.13) and MariaDB 10.6 (ignored indexes). Older servers
 * are discovered with less detail.
 */
const MIN_FULL_SUPPORT = { MySQL: [8, 0], MariaDB: [10, 6] } as const;

const TLS_OFF_HINT =
  'Turn TLS on in the server (ssl_cert and ssl_key in its configuration, then restart), or, on a trusted network only, set ssl_config.mode to SSL_MODE_DISABLE.';

/**
 * The checks of one MySQL or MariaDB endpoint, in order: resolve-credentials, dns, tcp, tls,
 * authenticate, server-version, privileges, metadata-read, latency. A check is skipped when
 * one it depends on failed: nothing after `tcp` runs when the port is closed, and nothing
 * after `authenticate` when the login fails.
 */
export function mysqlValidationPlan(connector: Pick<ConnectorCall<Connection>, 'connectionArgs'>): ValidationPlan<MysqlCheckState> {
  return {
    createState: () => ({}),
    checks: [
      resolveCredentialsCheck<MysqlCheckState>(connector),
      dnsCheck<MysqlCheckState>(),
      tcpCheck<MysqlCheckState>(),
      tlsCheck,
      authenticateCheck,
      serverVersionCheck,
      privilegesCheck,
      metadataReadCheck,
      mysqlLatencyCheck,
    ],
    async cleanup(state) {
      const conn = state.conn;
      state.conn = undefined;
      if (conn) await endConnection(conn);
    },
  };
}

function connOf(ctx: CheckContext<MysqlCheckState>): Connection {
  if (!ctx.state.conn) throw new Error('no authenticated connection: authenticate did not run');
  if (closedByCancel(ctx.state.conn)) throw new Error('the connection was closed when an earlier check was cancelled or timed out');
  return ctx.state.conn;
}

/** Facts of a greeting for the details of `tls`. */
function greetingDetails(g: ServerGreeting): Record<string, string> {
  const details: Record<string, string> = {
    'server.version': parseServerVersion(g.serverVersion).text,
    'server.tls': g.tlsOffered ? 'offered' : 'not offered',
  };
  if (g.authPlugin) details['server.default_auth_plugin'] = g.authPlugin;
  return details;
}

/** A check failure for an error packet the server sent instead of its greeting. */
function greetingRefused(error: GreetingError, args: ConnectionArgs): CheckResult {
  const f = describeConnectFailure(error, args);
  return failed(f.message, f.hint, { code: String(error.errno) });
}

/**
 * MySQL negotiates TLS inside its handshake: the server's greeting says whether it offers
 * TLS (CLIENT_SSL), the client answers with an SSLRequest and the TLS handshake follows on
 * the same socket. This check does that on a socket of its own, before any credential is sent.
 */
const tlsCheck: Check = {
  id: 'tls',
  title: 'TLS handshake',
  dependsOn: ['resolve-credentials', 'tcp'],
  async run(ctx) {
    const args = connectionArgsOf(ctx.state);
    const address = ctx.state.address ?? args.host;
    if (!args.tls) return probeWithoutTls(ctx, args, address);

    const keyPair = checkClientKeyPair(args.tls);
    if (keyPair) return keyPair;
    try {
      const probe = await probeGreeting(address, args.port, probeTlsOptions(args.tls, args.host), ctx.signal, ctx.targets);
      ctx.state.greeting = probe.greeting;
      if (!probe.session) {
        return failed(`the server at ${args.host}:${args.port} does not offer TLS`, TLS_OFF_HINT, { mode: args.tls.mode, ...greetingDetails(probe.greeting) });
      }
      const result = describeTlsSession(probe.session, args.tls, args.host);
      return { ...result, details: { ...result.details, ...greetingDetails(probe.greeting) } };
    } catch (error) {
      if (ctx.signal.aborted) throw abortedErrorFrom(ctx.signal);
      if (error instanceof GreetingError) return greetingRefused(error, args);
      const code = (error as { code?: unknown }).code;
      if (code === 'NOT_MYSQL') {
        return failed(
          `${args.host}:${args.port} does not speak the MySQL protocol: ${scrubbedErrorText(error, [])}`,
          'Check that the port is a MySQL or MariaDB server (and not, for example, a proxy for another protocol).',
        );
      }
      return describeTlsHandshakeFailure(error, args.tls, args.host, args.port, scrubbedErrorText(error, [args.tls.key]));
    }
  },
};

/**
 * TLS not requested: read the server's greeting anyway, so the report can say whether it
 * offers TLS. Informational: it gets half the check's time and never fails the run.
 */
async function probeWithoutTls(ctx: CheckContext<MysqlCheckState>, args: ConnectionArgs, address: string): Promise<CheckResult> {
  const notRequested = 'TLS not requested (ssl_config.mode is SSL_MODE_DISABLE)';
  try {
    const probeSignal = AbortSignal.any([ctx.signal, AbortSignal.timeout(Math.max(50, Math.min(2000, ctx.timeoutMs / 2)))]);
    const { greeting } = await probeGreeting(address, args.port, undefined, probeSignal, ctx.targets);
    ctx.state.greeting = greeting;
    if (greeting.tlsOffered) {
      return {
        status: 'SKIPPED',
        message: `${notRequested}; the server offers TLS`,
        hint: `The server supports TLS: set ssl_config.mode to SSL_MODE_VERIFY_FULL with its CA in ssl_config.ca${ctx.source.location === 'ON_PREM' ? '' : '; CLOUD and HYBRID sources should always use it'}.`,
        details: greetingDetails(greeting),
      };
    }
    return { status: 'SKIPPED', message: `${notRequested}; the server does not offer TLS either`, details: greetingDetails(greeting) };
  } catch (error) {
    if (ctx.signal.aborted) throw abortedErrorFrom(ctx.signal);
    return {
      status: 'SKIPPED',
      message: `${notRequested}; whether the server offers TLS is unknown (${scrubbedErrorText(error, [])})`,
      details: { 'server.tls': 'unknown' },
    };
  }
}

/** Server-side names of the client auth plugins. */
const SERVER_PLUGIN: Record<string, string> = { client_ed25519: 'ed25519' };

const authenticateCheck: Check = {
  id: 'authenticate',
  title: 'Authenticate',
  dependsOn: ['resolve-credentials', 'tcp', 'tls'],
  async run(ctx) {
    const args = connectionArgsOf(ctx.state);
    if (!args.user) return failed('no user name given', 'MySQL needs a user: set credentials.username.');
    const details: Record<string, string> = { user: args.user };
    if (args.database) details.database = args.database;
    let conn: Connection;
    try {
      conn = await connectSession(args, ctx.signal, ctx.logger);
    } catch (error) {
      if (ctx.signal.aborted) throw abortedErrorFrom(ctx.signal);
      const f = describeConnectFailure(error, args);
      if (f.code) details.code = f.code;
      return failed(f.message, f.hint, details);
    }
    if (ctx.signal.aborted) {
      await endConnection(conn, 0);
      throw abortedErrorFrom(ctx.signal);
    }
    ctx.state.conn = conn;
    const info = sessionOf(conn);
    const [row] = await query<{ account: string }>(conn, 'SELECT CURRENT_USER() AS account', [], ctx.signal);
    const plugin = SERVER_PLUGIN[info.authPlugin] ?? info.authPlugin;
    Object.assign(details, {
      account: row.account,
      'auth.plugin': plugin,
      'auth.client_plugin': info.authPlugin,
      connection_id: String(info.connectionId),
      tls: info.tls ? 'on' : 'off',
    });
    if (info.tls) {
      details['tls.protocol'] = info.tls.protocol;
      details['tls.cipher'] = info.tls.cipher;
    }
    const as = `authenticated as "${args.user}" (account ${row.account}) with ${plugin}${args.database ? `, default database "${args.database}"` : ''}`;
    if (
      plugin === 'mysql_native_password' &&
      info.version.flavour === 'MySQL' &&
      (atLeast(info.version, 8, 1) || (info.version.major === 8 && info.version.patch >= 34))
    ) {
      return warning(
        `${as}; mysql_native_password is deprecated in MySQL 8 and removed in 9.0`,
        `Move the account to caching_sha2_password: ALTER USER '${args.user}'@'...' IDENTIFIED WITH caching_sha2_password BY '...'.`,
        details,
      );
    }
    return passed(as, details);
  },
};

const serverVersionCheck: Check = {
  id: 'server-version',
  title: 'Server version',
  dependsOn: ['authenticate'],
  async run(ctx) {
    const [row] = await query<{ version: string; comment: string | null; os: string | null; read_only: number | string }>(
      connOf(ctx),
      'SELECT VERSION() AS version, @@version_comment AS comment, @@version_compile_os AS os, @@read_only AS read_only',
      [],
      ctx.signal,
    );
    const v = parseServerVersion(row.version);
    const percona = /percona/i.test(row.comment ?? '');
    const name = v.flavour === 'MariaDB' ? 'MariaDB' : percona ? 'Percona Server for MySQL' : 'MySQL';
    const readOnly = Number(row.read_only) === 1;
    const details: Record<string, string> = {
      version: `${v.major}.${v.minor}.${v.patch}`,
      flavour: v.flavour,
      build: row.version,
      read_only: String(readOnly),
    };
    if (row.comment) details.comment = row.comment;
    if (row.os) details.os = row.os;
    const message = `${name} ${v.major}.${v.minor}.${v.patch}${row.comment ? ` (${row.comment})` : ''}${readOnly ? ', read-only' : ''}`;
    const [major, minor] = MIN_FULL_SUPPORT[v.flavour];
    if (!atLeast(v, major, minor)) {
      return warning(
        `${message} is older than ${v.flavour} ${major}.${minor}`,
        `Discovery works, but reads less from this server (no invisible or ignored indexes${v.flavour === 'MySQL' ? ', no functional key parts' : ''}); ${v.flavour} ${major}.${minor} or later is fully supported.`,
        details,
      );
    }
    return passed(message, details);
  },
};

/** SHOW GRANTS lines without the password hash or authentication string MariaDB prints in them. */
function withoutCredentials(grant: string): string {
  return grant.replace(/\s+IDENTIFIED\s+(?:BY\s+PASSWORD|VIA|WITH)\s.*?(?=\s+(?:REQUIRE|WITH\s+(?:GRANT|MAX_)|PASSWORD\s+EXPIRE|ACCOUNT\s)|$)/i, '');
}

const privilegesCheck: Check = {
  id: 'privileges',
  title: 'Privileges',
  dependsOn: ['authenticate'],
  async run(ctx) {
    const conn = connOf(ctx);
    const databases = await query<{ name: string }>(
      conn,
      `SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE ${userSchemaSql('SCHEMA_NAME')} ORDER BY CAST(SCHEMA_NAME AS BINARY)`,
      [],
      ctx.signal,
    );
    const visible = await query<{ name: string; tables: number | string }>(
      conn,
      `SELECT TABLE_SCHEMA AS name, COUNT(*) AS tables FROM information_schema.TABLES WHERE ${userSchemaSql('TABLE_SCHEMA')} GROUP BY TABLE_SCHEMA`,
      [],
      ctx.signal,
    );
    const privileges = await query<{ level: string; schema_name: string | null; table_name: string | null; privilege: string }>(
      conn,
      `SELECT 'global' AS level, NULL AS schema_name, NULL AS table_name, PRIVILEGE_TYPE AS privilege
         FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ${GRANTEE_SQL}
       UNION ALL
       SELECT 'schema', TABLE_SCHEMA, NULL, PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ${GRANTEE_SQL}
       UNION ALL
       SELECT 'table', TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ${GRANTEE_SQL}
       UNION ALL
       SELECT DISTINCT 'column', TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE FROM information_schema.COLUMN_PRIVILEGES WHERE GRANTEE = ${GRANTEE_SQL}`,
      [],
      ctx.signal,
    );
    const grants = (await query<Record<string, string | Buffer | undefined>>(conn, 'SHOW GRANTS', [], ctx.signal)).map((r) =>
      withoutCredentials(String(Object.values(r)[0] ?? '')),
    );

    const visibleTables = new Map(visible.map((r) => [r.name, Number(r.tables)]));
    const global = new Set(privileges.filter((p) => p.level === 'global').map((p) => p.privilege));
    const onSchema = (name: string, privilege: string) =>
      global.has(privilege) || privileges.some((p) => p.level === 'schema' && p.privilege === privilege && matchesLikePattern(name, p.schema_name ?? ''));
    const tableSelect = new Set(privileges.filter((p) => (p.level === 'table' || p.level === 'column') && p.privilege === 'SELECT').map((p) => p.schema_name));

    const readable: string[] = [];
    const partly: string[] = [];
    const none: string[] = [];
    const noShowView: string[] = [];
    for (const { name } of databases) {
      if (onSchema(name, 'SELECT')) readable.push(name);
      // Some tables by grant, or tables visible through roles or other privileges.
      else if (tableSelect.has(name) || (visibleTables.get(name) ?? 0) > 0) partly.push(name);
      else {
        none.push(name);
        continue;
      }
      if (!onSchema(name, 'SHOW VIEW')) noShowView.push(name);
    }
    const user = ctx.state.args?.user ?? 'the user';
    const flavour = sessionOf(conn).version.flavour;
    const details: Record<string, string> = {
      readable: readable.join(','),
      partly_readable: partly.join(','),
      not_readable: none.join(','),
      without_show_view: noShowView.join(','),
      'tables.visible': String([...visibleTables.values()].reduce((a, b) => a + b, 0)),
      grants: grants.join(' | '),
    };
    const grantHint = (what: string) => `GRANT ${what} ON \`<database>\`.* TO '${user}'@'%'`;
    if (databases.length === 0) {
      return warning(
        'the account sees no databases besides the system ones: there is nothing to discover',
        `Grant access to the databases to discover: ${grantHint('SELECT, SHOW VIEW')}.`,
        details,
      );
    }
    if (readable.length + partly.length === 0) {
      return failed(
        `${user} may read none of the ${databases.length} databases it sees (${databases.map((d) => d.name).join(', ')})`,
        `Grant read access to the databases to discover: ${grantHint('SELECT, SHOW VIEW')}.`,
        details,
      );
    }
    const summary = [`can read ${readable.length} of ${databases.length} databases${readable.length ? ` (${readable.join(', ')})` : ''}`];
    if (partly.length) summary.push(`some tables of ${partly.join(', ')}`);
    const problems: string[] = [];
    const hints: string[] = [];
    if (none.length > 0) {
      problems.push(`cannot read ${none.join(', ')}`);
      hints.push(`Discovery lists ${none.join(', ')} without tables; to include them: ${grantHint('SELECT, SHOW VIEW')}.`);
    }
    if (noShowView.length > 0) {
      problems.push(`no SHOW VIEW on ${noShowView.join(', ')}`);
      hints.push(
        `Without SHOW VIEW the server hides view definitions${flavour === 'MariaDB' ? ', and MariaDB also the actions (ON UPDATE / ON DELETE) of foreign keys' : ''}: ${grantHint('SHOW VIEW')}.`,
      );
    }
    if (problems.length > 0) return warning(`${summary.join('; ')}; ${problems.join('; ')}`, hints.join(' '), details);
    return passed(summary.join('; '), details);
  },
};

const metadataReadCheck: Check = {
  id: 'metadata-read',
  title: 'Metadata read',
  dependsOn: ['authenticate'],
  async run(ctx) {
    const conn = connOf(ctx);
    const started = performance.now();
    // A real discovery read: the schema query and the first page with every per-kind query.
    const filter = compileFilter(EMPTY_FILTER);
    const schemas = await readSchemas(conn, filter, ctx.signal);
    const relations = await readRelations(conn, { filter, limit: 10, concurrency: 1, sampling: DEFAULT_SAMPLING }, ctx.signal);
    const ms = (performance.now() - started).toFixed(1);
    const usable = schemas.filter((s) => s.usable).length;
    const columns = relations.reduce((n, r) => n + r.columns.length, 0);
    return passed(
      `read the catalog: ${usable} usable of ${schemas.length} databases; the first ${relations.length} relations with ${columns} columns (${ms} ms)`,
      {
        databases: String(schemas.length),
        usable_databases: String(usable),
        relations_read: String(relations.length),
        columns_read: String(columns),
        read_ms: ms,
      },
    );
  },
};

const mysqlLatencyCheck = latencyCheck<MysqlCheckState>(async (ctx) => {
  await query(connOf(ctx), 'SELECT 1', [], ctx.signal);
});
