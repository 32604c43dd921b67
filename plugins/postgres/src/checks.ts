import {
  abortedErrorFrom,
  checkClientKeyPair,
  describeTlsHandshakeFailure,
  describeTlsSession,
  probeTlsOptions,
  dnsCheck,
  latencyCheck,
  failed,
  passed,
  resolveCredentialsCheck,
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
import type { Client } from 'pg';
import { USER_SCHEMA_SQL } from './catalog';
import { connectClient } from './connect';
import { describeConnectFailure } from './connectFailure';
import { scrubbed } from './pgErrors';
import { closedByCancel, endClient, query } from './query';
import { probeTls } from './tlsProbe';

/** State of one endpoint's checks: the standard checks' facts plus the authenticated client. */
export interface PostgresCheckState extends StandardCheckState {
  /** Set by `authenticate`; used by the later checks; ended by cleanup. */
  client?: Client;
}

/** The lowest major version the PostgreSQL project still supports (and discovery needs). */
const MIN_SUPPORTED_MAJOR = 12;

type Check = CheckDefinition<PostgresCheckState>;

/**
 * The checks of one PostgreSQL endpoint, in order: resolve-credentials, dns, tcp, tls,
 * authenticate, server-version, privileges, metadata-read, latency. A check is skipped
 * when one it depends on failed: nothing after `tcp` runs when the port is closed, and
 * nothing after `authenticate` when the login fails.
 */
export function postgresValidationPlan(connector: Pick<ConnectorCall<Client>, 'connectionArgs'>): ValidationPlan<PostgresCheckState> {
  return {
    createState: () => ({}),
    checks: [
      resolveCredentialsCheck<PostgresCheckState>(connector),
      dnsCheck<PostgresCheckState>(),
      tcpCheck<PostgresCheckState>(),
      tlsCheck,
      authenticateCheck,
      serverVersionCheck,
      privilegesCheck,
      metadataReadCheck,
      pgLatencyCheck,
    ],
    async cleanup(state) {
      const client = state.client;
      state.client = undefined;
      if (client) await endClient(client);
    },
  };
}

function clientOf(ctx: CheckContext<PostgresCheckState>): Client {
  if (!ctx.state.client) throw new Error('no authenticated connection: authenticate did not run');
  if (closedByCancel(ctx.state.client)) {
    throw new Error('the connection was closed when an earlier check was cancelled or timed out');
  }
  return ctx.state.client;
}

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
      const probe = await probeTls(address, args.port, probeTlsOptions(args.tls, args.host), ctx.signal, ctx.targets);
      if (probe.answer === 'N') {
        return failed(
          `the server at ${args.host}:${args.port} does not accept TLS`,
          'Turn TLS on in the server (ssl = on with a certificate), or, on a trusted network only, set ssl_config.mode to SSL_MODE_DISABLE.',
          { mode: args.tls.mode },
        );
      }
      if (probe.answer === 'other') {
        return failed(
          `the server answered the SSLRequest with an unexpected byte (0x${probe.byte.toString(16)}): it does not speak PostgreSQL's protocol 3`,
          'Check that the port is a PostgreSQL server (and not, for example, a proxy for another protocol).',
        );
      }
      return describeTlsSession(probe.session, args.tls, args.host);
    } catch (error) {
      if (ctx.signal.aborted) throw abortedErrorFrom(ctx.signal);
      return describeTlsHandshakeFailure(error, args.tls, args.host, args.port, scrubbed(error, [args.tls.key]));
    }
  },
};

/** TLS not requested: ask the server whether it offers TLS anyway, so the report can say so. */
async function probeWithoutTls(ctx: CheckContext<PostgresCheckState>, args: ConnectionArgs, address: string): Promise<CheckResult> {
  const notRequested = 'TLS not requested (ssl_config.mode is SSL_MODE_DISABLE)';
  try {
    // Complete the handshake (unverified) rather than hang up after 'S', which would leave
    // an "could not accept SSL connection" line in the server's log.
    // The probe is informational: it gets half the check's time, so a server that never
    // answers the SSLRequest leaves the check SKIPPED (unknown) and authentication still runs.
    const probeSignal = AbortSignal.any([ctx.signal, AbortSignal.timeout(Math.max(50, Math.min(2000, ctx.timeoutMs / 2)))]);
    const probe = await probeTls(address, args.port, { rejectUnauthorized: false, host: args.host }, probeSignal, ctx.targets);
    if (probe.answer === 'S') {
      return {
        status: 'SKIPPED',
        message: `${notRequested}; the server offers TLS (${probe.session.protocol})`,
        hint: `The server supports TLS: set ssl_config.mode to SSL_MODE_VERIFY_FULL with its CA in ssl_config.ca${ctx.source.location === 'ON_PREM' ? '' : '; CLOUD and HYBRID sources should always use it'}.`,
        details: { 'server.tls': 'offered', 'tls.protocol': probe.session.protocol },
      };
    }
    return { status: 'SKIPPED', message: `${notRequested}; the server does not offer TLS either`, details: { 'server.tls': 'not offered' } };
  } catch (error) {
    if (ctx.signal.aborted) throw abortedErrorFrom(ctx.signal);
    return {
      status: 'SKIPPED',
      message: `${notRequested}; whether the server offers TLS is unknown (${scrubbed(error, [])})`,
      details: { 'server.tls': 'unknown' },
    };
  }
}

const authenticateCheck: Check = {
  id: 'authenticate',
  title: 'Authenticate',
  dependsOn: ['resolve-credentials', 'tcp', 'tls'],
  async run(ctx) {
    const args = connectionArgsOf(ctx.state);
    const database = args.database ?? args.user ?? '';
    if (!args.user) {
      return failed('no user name given', 'PostgreSQL needs a user: set credentials.username.');
    }
    const details: Record<string, string> = { user: args.user, database };
    try {
      const opened = await connectClient(args, ctx.signal, ctx.logger);
      if (ctx.signal.aborted) {
        await endClient(opened.client, 0);
        throw abortedErrorFrom(ctx.signal);
      }
      ctx.state.client = opened.client;
      details['auth.method'] = opened.authMethod;
      details.tls = opened.tls ? 'on' : 'off';
      const as = `authenticated as "${args.user}" to database "${database}"`;
      if (opened.authMethod === 'password' && !opened.tls) {
        return warning(
          `${as}, but the server asked for the password in clear text over an unencrypted connection`,
          'Use scram-sha-256 in pg_hba.conf, or TLS (ssl_config.mode), so the password never crosses the network readable.',
          details,
        );
      }
      if (opened.authMethod === 'trust') return passed(`${as} (trust: the server asked for no password)`, details);
      return passed(`${as} (${opened.authMethod})`, details);
    } catch (error) {
      if (ctx.signal.aborted) throw abortedErrorFrom(ctx.signal);
      const f = describeConnectFailure(error, args);
      if (f.code) details.code = f.code;
      return failed(f.message, f.hint, details);
    }
  },
};

const serverVersionCheck: Check = {
  id: 'server-version',
  title: 'Server version',
  dependsOn: ['authenticate'],
  async run(ctx) {
    // current_setting('server_version') is SHOW server_version, in the same round trip.
    const [row] = await query<{ server_version: string; version_num: number; version: string; in_recovery: boolean }>(
      clientOf(ctx),
      `SELECT current_setting('server_version') AS server_version,
              current_setting('server_version_num')::int AS version_num,
              version() AS version,
              pg_is_in_recovery() AS in_recovery`,
      [],
      ctx.signal,
    );
    const major = row.version_num >= 100000 ? Math.floor(row.version_num / 10000) : row.version_num / 10000;
    const details = {
      version: row.server_version,
      version_num: String(row.version_num),
      build: row.version,
      in_recovery: String(row.in_recovery),
    };
    const role = row.in_recovery ? ' (a standby in recovery)' : '';
    if (major < MIN_SUPPORTED_MAJOR) {
      return warning(
        `PostgreSQL ${row.server_version}${role} is no longer supported by the PostgreSQL project`,
        `Upgrade to PostgreSQL ${MIN_SUPPORTED_MAJOR} or later; discovery reads catalog columns that version ${MIN_SUPPORTED_MAJOR} introduced and may fail here.`,
        details,
      );
    }
    return passed(`PostgreSQL ${row.server_version}${role}`, details);
  },
};

const privilegesCheck: Check = {
  id: 'privileges',
  title: 'Privileges',
  dependsOn: ['authenticate'],
  async run(ctx) {
    // One set-based query: every user schema, whether the role may use it, and how many of
    // its relations the role may SELECT (discovery itself needs only USAGE).
    const rows = await query<{ name: string; usable: boolean; relations: number; selectable: number }>(
      clientOf(ctx),
      `SELECT n.nspname::text AS name,
              has_schema_privilege(n.oid, 'USAGE') AS usable,
              count(c.oid)::int AS relations,
              (count(c.oid) FILTER (WHERE has_table_privilege(c.oid, 'SELECT')))::int AS selectable
       FROM pg_namespace n
       LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
       WHERE ${USER_SCHEMA_SQL}
       GROUP BY n.oid, n.nspname
       ORDER BY n.nspname COLLATE "C"`,
      [],
      ctx.signal,
    );
    const usable = rows.filter((r) => r.usable);
    const notUsable = rows.filter((r) => !r.usable);
    const relations = usable.reduce((sum, r) => sum + r.relations, 0);
    const selectable = usable.reduce((sum, r) => sum + r.selectable, 0);
    const details: Record<string, string> = {
      usable: usable.map((r) => r.name).join(','),
      not_usable: notUsable.map((r) => r.name).join(','),
      'relations.in_usable_schemas': String(relations),
      'relations.selectable': String(selectable),
    };
    const user = ctx.state.args?.user ?? 'the user';
    if (rows.length === 0) {
      return warning('the database has no schemas besides the system ones: there is nothing to discover', undefined, details);
    }
    const summary = `can use ${usable.length} of ${rows.length} schemas; may SELECT ${selectable} of their ${relations} relations`;
    if (usable.length === 0) {
      return failed(
        `${user} may use none of the ${rows.length} schemas`,
        `Grant USAGE on the schemas to discover: GRANT USAGE ON SCHEMA <schema> TO "${user}".`,
        details,
      );
    }
    if (notUsable.length > 0) {
      return warning(
        `${summary}; no USAGE on ${notUsable.map((r) => r.name).join(', ')}`,
        `Discovery will list these schemas without their relations. To include them: GRANT USAGE ON SCHEMA <schema> TO "${user}".`,
        details,
      );
    }
    return passed(summary, details);
  },
};

const metadataReadCheck: Check = {
  id: 'metadata-read',
  title: 'Metadata read',
  dependsOn: ['authenticate'],
  async run(ctx) {
    const started = performance.now();
    const [row] = await query<{ schemas: number; relations: number }>(
      clientOf(ctx),
      `SELECT count(DISTINCT n.oid)::int AS schemas, count(c.oid)::int AS relations
       FROM pg_namespace n
       LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
       WHERE ${USER_SCHEMA_SQL} AND has_schema_privilege(n.oid, 'USAGE')`,
      [],
      ctx.signal,
    );
    const ms = (performance.now() - started).toFixed(1);
    return passed(`read the catalog: ${row.relations} relations in ${row.schemas} usable schemas (${ms} ms)`, {
      relations: String(row.relations),
      schemas: String(row.schemas),
      read_ms: ms,
    });
  },
};

const pgLatencyCheck = latencyCheck<PostgresCheckState>(async (ctx) => {
  await query(clientOf(ctx), 'SELECT 1', [], ctx.signal);
});
