/**
 * Manual check of the PostgreSQL harness (not a vitest file):
 *   npx -y tsx@4.20.6 test/harness/postgres.selfcheck.ts
 * Starts a plain and a TLS instance, loads the fixture, connects over TCP as the test role
 * (right and wrong password, sslmode=require/disable), restarts, destroys, and prints timings.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { startPostgres, stopAll, type PostgresInstance } from './postgres';

const execFileAsync = promisify(execFile);
const fixture = join(__dirname, '..', 'fixtures', 'postgres', 'catalog.sql');

function check(cond: unknown, what: string): void {
  if (!cond) throw new Error(`FAILED: ${what}`);
  console.log(`ok   ${what}`);
}

async function tcpPsql(inst: PostgresInstance, sslmode: string, sql: string, password = inst.password, extra = ''): Promise<string> {
  const conn = `host=127.0.0.1 port=${inst.port} user=${inst.user} dbname=${inst.database} sslmode=${sslmode} ${extra}`;
  const { stdout } = await execFileAsync('psql', ['-X', '-w', '-A', '-t', '-v', 'ON_ERROR_STOP=1', conn, '-c', sql], {
    env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' },
    timeout: 30_000,
  });
  return stdout.trim();
}

async function fails(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return '';
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
}

async function timed<T>(label: string, f: () => Promise<T>): Promise<T> {
  const t = process.hrtime.bigint();
  const r = await f();
  console.log(`time ${label}: ${Number((process.hrtime.bigint() - t) / 1_000_000n)} ms`);
  return r;
}

async function main(): Promise<void> {
  const plain = await timed('startPostgres() plain', () => startPostgres());
  const tls = await timed('startPostgres({tls:true})', () => startPostgres({ tls: true, user: 'tls_user', database: 'tls_db' }));
  console.log(`plain port=${plain.port} dir=${plain.baseDir}; tls port=${tls.port} dir=${tls.baseDir}`);

  for (const inst of [plain, tls]) {
    await timed(`load fixture (port ${inst.port})`, () => inst.psqlFile(fixture));
    const counts = await inst.psql(
      `SELECT n.nspname || '.' || c.relname || '=' || c.relkind::text || ':' || c.reltuples::bigint
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('sales','inventory','hidden') AND c.relkind IN ('r','p','v','m','f')
        ORDER BY 1`,
    );
    console.log(
      counts
        .trim()
        .split('\n')
        .map((l) => `     ${l}`)
        .join('\n'),
    );
  }

  // Plain: sslmode=disable works, require fails, wrong password fails.
  check((await tcpPsql(plain, 'disable', 'select current_user')) === plain.user, 'plain: TCP scram login as test role');
  check((await tcpPsql(plain, 'disable', 'select count(*) from sales.customers')) === '1000', 'plain: test role reads sales.customers (1000)');
  check((await fails(tcpPsql(plain, 'disable', 'select 1', 'wrong'))).includes('password authentication failed'), 'plain: wrong password rejected');
  check((await fails(tcpPsql(plain, 'require', 'select 1'))).length > 0, 'plain: sslmode=require fails (no TLS)');
  check(
    (await fails(tcpPsql(plain, 'disable', 'select count(*) from hidden.secrets'))).includes('permission denied for schema hidden'),
    'plain: hidden schema denied',
  );
  check(
    (
      await fails(
        execFileAsync('psql', ['-X', '-w', `host=127.0.0.1 port=${plain.port} user=postgres dbname=postgres sslmode=disable`, '-c', 'select 1'], {
          env: { ...process.env, PGPASSWORD: '' },
        }),
      )
    ).length > 0,
    'plain: superuser over TCP without password rejected',
  );
  check(
    (await tcpPsql({ ...plain, user: 'postgres', database: 'postgres' } as PostgresInstance, 'disable', 'select 1', plain.superuserPassword)) === '1',
    'plain: superuser over TCP with its password',
  );

  // TLS: require + verify-full with the CA, ssl in use; plain TCP still accepted.
  check((await tcpPsql(tls, 'require', 'select ssl from pg_stat_ssl where pid = pg_backend_pid()')) === 't', 'tls: sslmode=require, pg_stat_ssl.ssl = t');
  check((await tcpPsql(tls, 'verify-full', 'select 1', tls.password, `sslrootcert=${tls.caCertPath ?? ''}`)) === '1', 'tls: sslmode=verify-full with test CA');
  check((await tcpPsql(tls, 'disable', 'select ssl from pg_stat_ssl where pid = pg_backend_pid()')) === 'f', 'tls: sslmode=disable still accepted');
  check((await fails(tcpPsql(tls, 'require', 'select 1', 'nope'))).includes('password authentication failed'), 'tls: wrong password rejected');
  check(tls.caCertPem?.includes('BEGIN CERTIFICATE'), 'tls: caCertPem returned');

  // stop / start / stop / start keeps port and data.
  const port = plain.port;
  await timed('stop()', () => plain.stop());
  check(plain.pid === undefined, 'stop: no pid');
  check((await fails(tcpPsql(plain, 'disable', 'select 1'))).length > 0, 'stop: connection refused');
  check(existsSync(plain.dataDir), 'stop: data dir kept');
  await timed('start()', () => plain.start());
  check(plain.port === port, 'start: same port');
  check((await tcpPsql(plain, 'disable', 'select count(*) from sales.orders')) === '3000', 'start: data kept');
  await plain.stop({ mode: 'immediate' });
  await plain.start();
  check((await plain.psql('select 1')).trim() === '1', 'stop(immediate)+start works');
  await plain.stop();
  await plain.stop();
  check(true, 'stop() twice is fine');
  await plain.start();

  // psql error surfaces stderr.
  check((await fails(plain.psql('select * from nope'))).includes('relation "nope" does not exist'), 'psql: error carries stderr');

  // destroy / stopAll leave nothing.
  const pids = [plain.pid, tls.pid];
  await timed('destroy()', () => plain.destroy());
  check(!existsSync(plain.baseDir), 'destroy: folder removed');
  await stopAll();
  check(!existsSync(tls.baseDir), 'stopAll: folder removed');
  for (const pid of pids) {
    // Gone, or at most a zombie waiting for init to reap it.
    const stat = pid === undefined ? '' : await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const alive = stat !== '' && !/\) [ZX] /.test(stat);
    check(pid !== undefined && !alive, `postmaster ${pid} gone`);
  }

  // Exit hook: an instance left running is killed when the process exits (checked by caller).
  if (process.argv.includes('--leak')) {
    const leak = await startPostgres();
    console.log(`LEAK pid=${leak.pid} dir=${leak.baseDir}`);
    return;
  }
  console.log('selfcheck passed');
}

main().catch(async (err) => {
  console.error(err);
  await stopAll().catch(() => undefined);
  process.exit(1);
});
