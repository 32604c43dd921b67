import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariadb, type MariadbInstance } from '../harness/mariadb';
import { freePort } from '../harness/ports';
import { startPostgres, type PostgresInstance } from '../harness/postgres';
import { blocksOf } from '../support/markdownBlocks';
import { captureSource, captureText, registerSecret } from '../support/secretScan';
import { childEnv } from './support/processes';

/**
 * docs/getting-started.md, steps 1 to 4, as a newcomer runs them on their own database: this
 * suite starts its own PostgreSQL and MariaDB with TLS on (a database `shop`, a schema `sales`
 * holding tables, as the page assumes), runs the page's SQL of step 1 as it is written (as the
 * superuser; the read-only user and its password are the page's), writes the files of step 2
 * with the servers' address and CA in place of `db.internal` and the `...` of the PEM, starts the
 * daemon of step 3 as written (the passwords in its environment) and runs the commands of step 4
 * as written. Then it checks that the page's user can read and cannot write.
 */

const ROOT = resolve(__dirname, '../..');
const PAGE = 'docs/getting-started.md';
const blocks = blocksOf(PAGE, readFileSync(join(ROOT, PAGE), 'utf8'));
/** The password the page's SQL gives the read-only user, and its step 3 gives the daemon. */
const PAGE_PASSWORD = 'choose-one';
registerSecret('the read-only password of getting-started.md', PAGE_PASSWORD);

/** One block of the page, found by what it holds; a page that lost it fails here, naming what is missing. */
function block(what: string, lang: string, test: RegExp): string {
  const found = blocks.filter((b) => b.lang === lang && test.test(b.code));
  if (found.length !== 1) throw new Error(`${PAGE}: expected one ${lang} block with ${what} (${String(test)}), found ${found.length}`);
  return found[0].code;
}

/** `text` with `pattern` replaced; throws when the page no longer has it (the substitution would silently not happen). */
function substitute(text: string, pattern: RegExp, replacement: string): string {
  if (!pattern.test(text)) throw new Error(`${PAGE}: a step 2 file no longer matches ${String(pattern)}:\n${text}`);
  return text.replace(pattern, replacement);
}

const PG_FIXTURE = `
CREATE SCHEMA sales;
CREATE TABLE sales.customers (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE sales.orders (
  id integer PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES sales.customers (id),
  placed_at timestamptz NOT NULL,
  total numeric(10, 2) NOT NULL
);
INSERT INTO sales.customers VALUES (1, 'Ada'), (2, 'Grace');
INSERT INTO sales.orders VALUES (1, 1, '2026-01-02 10:00+00', 12.50), (2, 2, '2026-01-03 11:00+00', 40.00), (3, 1, '2026-01-04 12:00+00', 7.25);
`;

const MARIADB_FIXTURE = `
CREATE TABLE shop.customers (id int PRIMARY KEY, name varchar(100) NOT NULL);
CREATE TABLE shop.orders (
  id int PRIMARY KEY,
  customer_id int NOT NULL,
  placed_at datetime NOT NULL,
  total decimal(10, 2) NOT NULL,
  FOREIGN KEY (customer_id) REFERENCES shop.customers (id)
);
INSERT INTO shop.customers VALUES (1, 'Ada'), (2, 'Grace');
INSERT INTO shop.orders VALUES (1, 1, '2026-01-02 10:00', 12.50), (2, 2, '2026-01-03 11:00', 40.00);
`;

describe('docs/getting-started.md on its own PostgreSQL and MariaDB, with TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sourced-started-'));
  let pg: PostgresInstance | undefined;
  let maria: MariadbInstance | undefined;
  let daemon: ChildProcess | undefined;
  let address = '';

  beforeAll(async () => {
    [pg, maria] = await Promise.all([startPostgres({ tls: true, database: 'shop' }), startMariadb({ tls: true, database: 'shop' })]);
    registerSecret('getting-started PostgreSQL password', pg.password);
    registerSecret('getting-started PostgreSQL superuser password', pg.superuserPassword);
    registerSecret('getting-started MariaDB password', maria.password);
    registerSecret('getting-started MariaDB root password', maria.superuserPassword);
    await pg.psql(PG_FIXTURE, { database: 'shop' });
    await maria.sql(MARIADB_FIXTURE);

    // Step 1, as written, by the administrator of each server (the superuser, in `shop`).
    await pg.psql(block('the PostgreSQL read-only user', 'sql', /^CREATE ROLE sourced_reader\b/m), { database: 'shop' });
    await maria.sql(block('the MariaDB read-only user', 'sql', /^CREATE USER 'sourced_reader'/m));
    // A table made after step 1, by the same administrator: the page's default privileges cover it.
    await pg.psql('CREATE TABLE sales.returns (id integer PRIMARY KEY, order_id integer NOT NULL REFERENCES sales.orders (id));', { database: 'shop' });

    // Step 2: the files, with this server's address and CA in place of the page's.
    const pgFile = block('the PostgreSQL file', 'yaml', /^type: postgres$/m);
    let text = substitute(pgFile, /host: db\.internal, port: 5432\b/, `host: ${pg.host}, port: ${pg.port}`);
    text = substitute(text, /ca: "-----BEGIN CERTIFICATE-----\\n\.\.\."/, `ca: ${JSON.stringify(pg.caCertPem ?? '')}`);
    writeFileSync(join(dir, 'my-postgres.yaml'), text);
    const mariaFile = block('the MariaDB file', 'yaml', /^type: mariadb$/m);
    writeFileSync(join(dir, 'my-mariadb.yaml'), substitute(mariaFile, /host: db\.internal, port: 3306\b/, `host: ${maria.host}, port: ${maria.port}`));

    // Step 3, as written, on a free port instead of 50051.
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    address = `127.0.0.1:${await freePort()}`;
    const serve = block('`sourced serve`', 'sh', /npx sourced serve$/m).replace(/npx sourced serve$/m, `exec npx sourced serve --listen ${address}`);
    const child = spawn('bash', ['-c', serve], {
      cwd: dir,
      env: childEnv({ PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}` }),
      detached: true,
    });
    daemon = child;
    let err = '';
    captureSource('the daemon of step 3', () => err);
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`the daemon of step 3 did not start:\n${err}`)), 60_000);
      child.stderr.setEncoding('utf8').on('data', (t: string) => {
        err += t;
        if (err.includes('"msg":"sourced listening"')) {
          clearTimeout(timer);
          ready();
        }
      });
      child.once('exit', (c) => {
        clearTimeout(timer);
        fail(new Error(`the daemon of step 3 exited (${c}):\n${err}`));
      });
    });
  }, 180_000);

  afterAll(async () => {
    if (daemon?.pid && daemon.exitCode === null) process.kill(-daemon.pid, 'SIGTERM');
    await Promise.all([pg?.destroy(), maria?.destroy()]);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** Step 4 as written: both servers validate over TLS as the read-only user, PostgreSQL's `sales` is discovered and previewed. */
  it('validates, discovers and previews with the commands of step 4, as the read-only user, over TLS', () => {
    const step4 = block('the commands of step 4', 'sh', /npx sourced validate my-postgres\.yaml/);
    const r = spawnSync('bash', ['-e', '-c', step4], {
      cwd: dir,
      env: childEnv({ SOURCED_ADDRESS: address, NO_COLOR: '1', PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}` }),
      encoding: 'utf8',
      timeout: 240_000,
    });
    captureText('the commands of step 4', `${r.stdout}\n${r.stderr}`);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout.match(/^valid in \d+ ms$/gm)).toHaveLength(2);
    expect(r.stdout).toContain('password from env://SOURCED_SECRET_PG_PASSWORD');
    expect(r.stdout).toContain('password from env://SOURCED_SECRET_MARIADB_PASSWORD');
    // As the page's user, over TLS: PostgreSQL's certificate verified against the CA (VERIFY_FULL), MariaDB's not (REQUIRE).
    expect(r.stdout.match(/^\[ok {2}\] Authenticate .*authenticated as "sourced_reader"/gm)).toHaveLength(2);
    expect(r.stdout.match(/^\[ok {2}\] TLS handshake .*: TLSv1\.[23] /gm)).toHaveLength(2);
    expect(r.stdout).toMatch(/^\[ok {2}\] TLS handshake .*issued by sourced test CA$/m);
    expect(r.stdout).toContain('the certificate was not verified (mode require)');
    expect(r.stdout).toMatch(/^schema sales$/m);
    expect(r.stdout).toMatch(/^ {2}sales\.orders {2}table: 4 columns/m);
    expect(r.stdout).toMatch(/^ {2}sales\.returns {2}table: 2 columns/m);
    expect(r.stdout).toMatch(/^3 rows$/m);
    expect(r.stdout).toMatch(/^ {2}shop\.orders {2}table: 4 columns/m);
  }, 300_000);

  /** The user of step 1 reads (a table made after it too), and the server refuses its writes, on both. */
  it('makes a user that can read and cannot write', async () => {
    if (!pg || !maria) throw new Error('servers not started');
    const client = new Client({ host: pg.host, port: pg.port, database: 'shop', user: 'sourced_reader', password: PAGE_PASSWORD, ssl: { ca: pg.caCertPem } });
    await client.connect();
    try {
      expect((await client.query('SELECT count(*)::int AS n FROM sales.orders')).rows).toEqual([{ n: 3 }]);
      expect((await client.query('SELECT count(*)::int AS n FROM sales.returns')).rows).toEqual([{ n: 0 }]);
      await expect(client.query('INSERT INTO sales.orders VALUES (9, 1, now(), 1)')).rejects.toMatchObject({ code: '42501' });
      await expect(client.query('CREATE TABLE sales.mine (id int)')).rejects.toMatchObject({ code: '42501' });
    } finally {
      await client.end();
    }
    const conn = await createConnection({
      host: maria.host,
      port: maria.port,
      database: 'shop',
      user: 'sourced_reader',
      password: PAGE_PASSWORD,
      ssl: { ca: maria.caCertPem },
    });
    try {
      const [rows] = await conn.query('SELECT count(*) AS n FROM orders');
      expect(rows).toEqual([{ n: 2 }]);
      await expect(conn.query('INSERT INTO orders VALUES (9, 1, NOW(), 1)')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
      await expect(conn.query('CREATE TABLE mine (id int)')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
    } finally {
      await conn.end();
    }
  }, 60_000);
});
