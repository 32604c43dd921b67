import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startMariadb, stopAllMariadb, type MariadbInstance } from '../harness/mariadb';
import type { ServerInfo } from './globalSetup';

declare module 'vitest' {
  export interface ProvidedContext {
    /** MariaDB with the discovery fixture loaded (accounts with passwords; ed25519 loaded when shipped). */
    mariadb: ServerInfo;
    /** MariaDB with TLS on (certificate signed by a CA made for the run). */
    mariadbTls: ServerInfo;
  }
}

function info(db: MariadbInstance): ServerInfo {
  return {
    host: db.host,
    port: db.port,
    user: db.user,
    password: db.password,
    database: db.database,
    superuser: db.superuser,
    superuserPassword: db.superuserPassword,
    caCertPem: db.caCertPem,
  };
}

/**
 * Starts the MariaDB servers the MySQL suites share, once per run: a plain one holding the
 * discovery fixture and a TLS one. Both are throwaway instances from the installed binaries,
 * on free ports, in temporary folders, stopped and removed at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  try {
    const started = await Promise.allSettled([startMariadb(), startMariadb({ tls: true })]);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [plain, tls] = started.map((r) => (r as PromiseFulfilledResult<MariadbInstance>).value);
    await plain.sqlFile(resolve(__dirname, '../fixtures/mysql/catalog.sql'));
    project.provide('mariadb', info(plain));
    project.provide('mariadbTls', info(tls));
  } catch (error) {
    await stopAllMariadb();
    throw error;
  }
  return () => stopAllMariadb();
}
