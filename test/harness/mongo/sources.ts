/**
 * What the MongoDB suites share: data sources for the servers of the global setup, and a
 * look at the server from the side (its open connections) through a superuser client.
 */
import { MongoClient } from 'mongodb';
import { DataSource, SslMode } from '@sourced/api';
import type { MongoServerInfo } from '../../support/mongoSetup';

/** A MongoDB data source for a suite's server, with an inline password unless another is given. */
export function mongoSource(server: MongoServerInfo, extra: Partial<DataSource> = {}, password: string = server.password): DataSource {
  return DataSource.fromPartial({
    id: 'test-mongo',
    type: 'mongodb',
    primary: { host: server.host, port: server.port, database: server.database },
    credentials: { username: server.user, password: { source: { $case: 'inlineValue', value: password } } },
    ...extra,
  });
}

/** TLS settings that verify the test CA. */
export function verifyFull(server: MongoServerInfo) {
  return { mode: SslMode.SSL_MODE_VERIFY_FULL, ca: server.caCertPem ?? '', cert: '', serverName: '' };
}

/** Polls the server's running schema samples (by the plugin's comment) until `done` resolves; returns the most seen at once. */
export async function peakSamplingOps(server: MongoServerInfo, done: Promise<unknown>): Promise<number> {
  const client = new MongoClient(server.url, { appName: 'sourced-test-observer', serverSelectionTimeoutMS: 5000 });
  let finished = false;
  void done.finally(() => (finished = true));
  let peak = 0;
  try {
    while (!finished) {
      const ops = await client
        .db('admin')
        .aggregate([{ $currentOp: { allUsers: true } }, { $match: { 'command.comment': 'sourced schema sampling' } }])
        .toArray();
      peak = Math.max(peak, ops.length);
      await new Promise((r) => setTimeout(r, 25));
    }
    return peak;
  } finally {
    await client.close();
  }
}

/**
 * Connections the server holds open for an application name, idle ones included
 * (`$currentOp` with idleConnections, as a real server answers it).
 */
export async function openConnections(server: MongoServerInfo, appName: string): Promise<number> {
  const client = new MongoClient(server.url, { appName: 'sourced-test-observer', serverSelectionTimeoutMS: 5000 });
  try {
    const ops = await client
      .db('admin')
      .aggregate([{ $currentOp: { allUsers: true, idleConnections: true } }, { $match: { appName } }])
      .toArray();
    return ops.length;
  } finally {
    await client.close();
  }
}
