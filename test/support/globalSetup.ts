import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startPostgres, type PostgresInstance } from '../harness/postgres';

/** Connection facts of a server the global setup started, as tests receive them. */
export interface ServerInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  superuser: string;
  superuserPassword: string;
  caCertPem?: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** PostgreSQL with SCRAM auth and the discovery fixture loaded. */
    postgres: ServerInfo;
    /** PostgreSQL with TLS on (certificate signed by a CA made for the run). */
    postgresTls: ServerInfo;
  }
}

function info(pg: PostgresInstance): ServerInfo {
  return {
    host: pg.host,
    port: pg.port,
    user: pg.user,
    password: pg.password,
    database: pg.database,
    superuser: pg.superuser,
    superuserPassword: pg.superuserPassword,
    caCertPem: pg.caCertPem,
  };
}

/**
 * Starts the real servers the suites share, once per run: a plain PostgreSQL holding the
 * discovery fixture and a TLS PostgreSQL. Both are throwaway instances from the installed
 * binaries, on free ports, in temporary folders, stopped and removed at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [plain, tls] = await Promise.all([startPostgres(), startPostgres({ tls: true })]);
  await plain.psqlFile(resolve(__dirname, '../fixtures/postgres/catalog.sql'));
  project.provide('postgres', info(plain));
  project.provide('postgresTls', info(tls));
  return async () => {
    await Promise.all([plain.destroy(), tls.destroy()]);
  };
}
