import { Client } from 'pg';
import type { ServerInfo } from './globalSetup';
import { DataSource, SslMode } from '@sourced/api';

/** A DataSource for a harness server, with an inline password unless another secret is given. */
export function pgSource(server: ServerInfo, extra: Partial<DataSource> = {}, password: string = server.password): DataSource {
  return DataSource.fromPartial({
    id: 'test-pg',
    type: 'postgres',
    primary: { host: server.host, port: server.port, database: server.database },
    credentials: { username: server.user, password: { source: { $case: 'inlineValue', value: password } } },
    ...extra,
  });
}

/** TLS settings that verify the harness CA. */
export function verifyFull(server: ServerInfo) {
  return { mode: SslMode.SSL_MODE_VERIFY_FULL, ca: server.caCertPem ?? '', cert: '', serverName: '' };
}

/** Runs a query as the superuser over TCP (to look at the server from the side, e.g. pg_stat_activity). */
export async function superuserQuery<T = Record<string, unknown>>(server: ServerInfo, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ host: server.host, port: server.port, user: server.superuser, password: server.superuserPassword, database: server.database });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Polls until the predicate holds or the time is up; returns the last value. */
export async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  let value = await read();
  while (!ok(value) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}
