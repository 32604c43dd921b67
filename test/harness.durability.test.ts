import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariadb, type MariadbInstance } from './harness/mariadb';
import { startPostgres, type PostgresInstance } from './harness/postgres';

/**
 * The fault suites crash a server (`stop({ mode: 'immediate' })`) right after seeding it and
 * expect the restarted server to hold the seed. These tests protect that: a commit the
 * server acknowledged survives a crash of the harness's servers, round after round, even
 * when the crash follows the commit at once. (With PostgreSQL's `synchronous_commit = off`
 * and InnoDB's `flush_log_at_trx_commit = 0` it did not: the restarted primary of the
 * HYBRID suites came back as an empty database, issue 25.)
 */
const ROUNDS = 5;

describe('test servers keep acknowledged commits across a crash', () => {
  let pg: PostgresInstance;
  let maria: MariadbInstance;
  beforeAll(async () => {
    [pg, maria] = await Promise.all([startPostgres(), startMariadb()]);
  });
  afterAll(async () => {
    await Promise.all([pg?.destroy(), maria?.destroy()]);
  });

  /** PostgreSQL: a schema, a table and a row committed just before `-m immediate` are there after the restart. */
  it('PostgreSQL', async () => {
    const seen: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await pg.psql(`CREATE SCHEMA crash_${round}; CREATE TABLE crash_${round}.t (id int PRIMARY KEY); INSERT INTO crash_${round}.t VALUES (${round});`);
      await pg.stop({ mode: 'immediate' });
      await pg.start();
      seen.push((await pg.psql(`SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'crash\\_%'; SELECT id FROM crash_${round}.t;`)).trim());
    }
    expect(seen).toEqual(Array.from({ length: ROUNDS }, (_v, round) => `${round + 1}\n${round}`));
  });

  /** MariaDB: an InnoDB row and a MyISAM table committed just before SIGKILL are there after the restart. */
  it('MariaDB', async () => {
    const seen: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await maria.sql(
        `CREATE DATABASE crash_${round}; CREATE TABLE crash_${round}.i (id int PRIMARY KEY) ENGINE=InnoDB; INSERT INTO crash_${round}.i VALUES (${round}); CREATE TABLE crash_${round}.m (id int PRIMARY KEY) ENGINE=MyISAM;`,
      );
      await maria.stop({ mode: 'immediate' });
      await maria.start();
      seen.push(
        (await maria.sql(`SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'crash_${round}'; SELECT id FROM crash_${round}.i;`)).trim(),
      );
    }
    expect(seen).toEqual(Array.from({ length: ROUNDS }, (_v, round) => `2\n${round}`));
  });
});
