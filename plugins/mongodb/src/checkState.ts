/**
 * The state MongoDB's validation checks share, and how a check reaches the settings and the
 * clients that earlier checks opened.
 */
import { type CheckContext, type CheckDefinition, type StandardCheckState, connectionArgsOf } from '@sourced/core';
import type { Document, MongoClient } from 'mongodb';
import { mongoSettings, type MongoSettings } from './connect';

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

export type Check = CheckDefinition<MongoCheckState>;

export function settingsOf(ctx: CheckContext<MongoCheckState>): MongoSettings {
  ctx.state.settings ??= mongoSettings(ctx.source, ctx.endpoint.host);
  return ctx.state.settings;
}

export function probeOf(ctx: CheckContext<MongoCheckState>): MongoClient {
  if (!ctx.state.probe) throw new Error('no connection: handshake did not run');
  return ctx.state.probe;
}

export function clientOf(ctx: CheckContext<MongoCheckState>): MongoClient {
  if (!ctx.state.client) throw new Error('no logged-in connection: authenticate did not run');
  return ctx.state.client;
}

/** Client timeouts within the check's own limit, so a failure is reported before the check times out. */
export function timeoutWithin(ctx: CheckContext<MongoCheckState>): number {
  return Math.max(100, Math.min(connectionArgsOf(ctx.state).connectTimeoutMs, ctx.timeoutMs - 250));
}
