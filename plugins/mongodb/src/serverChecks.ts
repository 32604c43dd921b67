/** MongoDB's server checks, which need no login: the handshake (topology) and the server version. */
import { abortedErrorFrom, failed, passed, warning, type CheckResult, connectionArgsOf } from '@sourced/core';
import type { Document, MongoClient } from 'mongodb';
import { probeOf, settingsOf, timeoutWithin, type Check } from './checkState';
import { mongoClientOptions, mongoUrl, openClient } from './connect';
import { describeConnectFailure } from './connectFailure';
import { ErrorCode, serverCode } from './mongoErrors';
import { seedListFromState } from './networkChecks';

/**
 * The oldest MongoDB release line MongoDB Inc. still supports: 6.0 reached its end of life
 * in July 2025. Older servers get a warning (discovery still runs on 4.2 and later).
 */
const OLDEST_SUPPORTED_MAJOR = 7;

/** Server versions by wire version, for when buildInfo cannot be read. */
const WIRE_VERSIONS: Partial<Record<number, string>> = { 8: '4.2', 9: '4.4', 13: '5.0', 17: '6.0', 21: '7.0', 25: '8.0' };

/** The server's own hello: `hello` (MongoDB 4.4.2+), else the legacy isMaster. */
export async function helloOf(client: MongoClient, signal: AbortSignal, extra: Document = {}): Promise<Document> {
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
    const role = primary
      ? 'primary'
      : hello.arbiterOnly
        ? 'arbiter'
        : hello.secondary
          ? 'secondary'
          : hello.hidden
            ? 'hidden member'
            : 'member in another state';
    const members = [
      ...((hello.hosts as string[] | undefined) ?? []),
      ...((hello.passives as string[] | undefined) ?? []),
      ...((hello.arbiters as string[] | undefined) ?? []),
    ];
    Object.assign(details, { topology: 'replica-set', set_name: hello.setName, role, members: members.join(',') });
    if (typeof hello.primary === 'string') details.primary = hello.primary;
    if (typeof hello.me === 'string') details.me = hello.me;
    const message = `replica set "${hello.setName}": this server is the ${role}; ${members.length} members (${members.join(', ')})${!primary && hello.primary ? `; primary ${hello.primary}` : ''}`;
    if (hello.arbiterOnly) {
      return failed(`${message}; an arbiter holds no data`, "Point the data source at a data-bearing member, or use the replica set's SRV name.", details);
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

export const handshakeCheck: Check = {
  id: 'handshake',
  title: 'MongoDB handshake',
  dependsOn: ['resolve-credentials', 'tcp', 'tls'],
  async run(ctx) {
    const args = connectionArgsOf(ctx.state);
    const settings = settingsOf(ctx);
    let client: MongoClient;
    const timeoutMs = timeoutWithin(ctx);
    try {
      const options = mongoClientOptions(args, settings, { authenticate: false, maxPoolSize: 1, timeoutMs });
      const seeds = seedListFromState(ctx, settings);
      client = await openClient(seeds?.url ?? mongoUrl(args, settings), { ...options, ...seeds?.options }, ctx.signal, args.targets);
    } catch (error) {
      if (ctx.signal.aborted) throw abortedErrorFrom(ctx.signal);
      const f = describeConnectFailure(error, args, settings, { serverOffersTls: ctx.state.serverOffersTls, timeoutMs, checkLimitMs: ctx.timeoutMs });
      return failed(f.message, f.hint, f.code ? { code: f.code } : undefined);
    }
    ctx.state.probe = client;
    const hello = await helloOf(client, ctx.signal);
    ctx.state.hello = hello;
    return describeTopology(hello, ctx.state.srv?.seeds.length);
  },
};

export const serverVersionCheck: Check = {
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
