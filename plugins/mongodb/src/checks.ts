/**
 * MongoDB's validation plan. The checks live by concern: networkChecks.ts (dns, tcp, tls),
 * serverChecks.ts (handshake, server-version), accessChecks.ts (authenticate, privileges);
 * their shared state in checkState.ts.
 */
import { latencyCheck, resolveCredentialsCheck, type ConnectorCall, type ValidationPlan } from '@sourced/core';
import type { MongoClient } from 'mongodb';
import { clientOf, type MongoCheckState } from './checkState';
import { closeClient } from './connect';
import { authenticateCheck, privilegesCheck } from './accessChecks';
import { mongoDnsCheck, mongoTcpCheck, tlsCheck } from './networkChecks';
import { handshakeCheck, serverVersionCheck } from './serverChecks';

export type { MongoCheckState } from './checkState';

/**
 * The checks of one MongoDB endpoint, in order: resolve-credentials, dns (with the SRV seed
 * list and TXT options for `mongodb+srv`), tcp, tls, handshake (topology), server-version,
 * authenticate, privileges, latency. The handshake and the server version need no login
 * (as on a real server), so they run before authenticate and tell a wrong password apart
 * from a server that cannot be reached.
 */
export function mongoValidationPlan(connector: Pick<ConnectorCall<MongoClient>, 'connectionArgs'>): ValidationPlan<MongoCheckState> {
  return {
    createState: () => ({}),
    checks: [
      resolveCredentialsCheck<MongoCheckState>(connector),
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
