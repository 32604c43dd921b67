/**
 * Throwaway PostgreSQL servers for tests: a primary ({@link startPostgres}) or a streaming
 * replica of one ({@link startReplica}) on a free port in a temp folder, removed at the end.
 * Why one file (~460 lines): the instance, its start functions and the exit hook share the
 * registry of live instances and the folder layout; running tools and watching pids are in
 * processes.ts.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod, chown, copyFile, mkdtemp, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { makeCertificates, type Certificates } from './certs';
import { freePort } from './ports';
import { accountIds, isRoot, pidAlive, randomHex, runTool, waitGone, type RunOptions, type RunResult } from './processes';

/** A throwaway PostgreSQL server started by {@link startPostgres}. */
export interface PostgresInstance {
  host: '127.0.0.1';
  port: number;
  /** Temp folder that holds everything (data dir, socket, log, certs); removed by destroy(). */
  baseDir: string;
  /** PGDATA. */
  dataDir: string;
  /** Folder of the unix socket (`.s.PGSQL.<port>`), i.e. baseDir. */
  socketDir: string;
  /** Server log (pg_ctl -l). */
  logFile: string;
  superuser: 'postgres';
  /** SCRAM password of the superuser, for TCP connections as `postgres` (the socket needs none). */
  superuserPassword: string;
  /** A LOGIN role (not superuser) with a SCRAM password, made by the harness; owns `database`. */
  user: string;
  password: string;
  database: string;
  /** `postgresql://user:password@127.0.0.1:port/database` (add `?sslmode=...` yourself). */
  uri: string;
  /** Whether ssl=on (the server still accepts non-TLS connections: pg_hba uses `host`). */
  tls: boolean;
  /** PEM of the CA that signed the server certificate (tls only). */
  caCertPem?: string;
  /** Path of that CA certificate (tls only). */
  caCertPath?: string;
  /** Whole test PKI incl. a client certificate CN=sourced_test (tls only). */
  certificates?: Certificates;
  /** postmaster PID while running, else undefined. */
  readonly pid: number | undefined;
  /**
   * Runs SQL as the superuser over the unix socket with
   * `psql -X -A -t -q -v ON_ERROR_STOP=1` (SQL fed on stdin, so several statements and psql
   * meta-commands work) and returns stdout. Default database: `database`. Throws with stderr.
   */
  psql(sql: string, opts?: { database?: string }): Promise<string>;
  /** Like psql() but runs a file (`psql -f`). */
  psqlFile(path: string, opts?: { database?: string }): Promise<string>;
  /** Stops the server (pg_ctl -m fast by default; falls back to killing the postmaster). Keeps the folder. */
  stop(opts?: { mode?: 'smart' | 'fast' | 'immediate' }): Promise<void>;
  /** Starts the server again on the same port and data after stop(). */
  start(): Promise<void>;
  /** Stops the server and deletes the temp folder. Idempotent. */
  destroy(): Promise<void>;
}

/** Options for {@link startPostgres}. */
export interface StartPostgresOptions {
  /** ssl=on with a server cert for localhost/127.0.0.1 signed by a fresh test CA. Default false. */
  tls?: boolean;
  /** Test role name. Default `sourced_test`. */
  user?: string;
  /** Test role password. Default `pw-` + 24 random hex chars. */
  password?: string;
  /** Test database (owned by the test role). Default `sourced_test`. */
  database?: string;
  /** Extra postgresql.conf settings (values are quoted for you), applied after the harness's. */
  extraConf?: Record<string, string>;
  /** Extra pg_hba.conf lines, placed before the harness's lines (first match wins). */
  extraHba?: string[];
}

const instances = new Set<Instance>();
let exitHookInstalled = false;

function pgBinDir(): string {
  const fromEnv = process.env['SOURCED_PG_BINDIR'];
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(root, versions[0], 'bin');
  }
  throw new Error('PostgreSQL binaries not found: install postgresql or set SOURCED_PG_BINDIR');
}

function bin(name: string): string {
  const p = join(pgBinDir(), name);
  if (existsSync(p)) return p;
  if (name === 'psql' && existsSync('/usr/bin/psql')) return '/usr/bin/psql';
  return name;
}

/** Environment without the caller's PG* variables, so nothing leaks into pg tools. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  return { ...env, LC_ALL: 'C', LANG: 'C', ...extra };
}

/** A server tool run to its end; `asPostgres`: as the postgres account when the tests run as root. */
function run(cmd: string, args: string[], opts: Omit<RunOptions, 'asUser'> & { asPostgres?: boolean } = {}): Promise<RunResult> {
  return runTool(cmd, args, { ...opts, env: opts.env ?? cleanEnv(), asUser: opts.asPostgres ? 'postgres' : undefined });
}

function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}
function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
function confValue(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const inst of instances) {
      const pid = inst.livePid();
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGQUIT');
        } catch {
          /* already gone */
        }
      }
      if (!process.env['SOURCED_KEEP_PG']) {
        try {
          rmSync(inst.baseDir, { recursive: true, force: true });
        } catch {
          /* best effort */
        }
      }
    }
    instances.clear();
  });
}

class Instance implements PostgresInstance {
  readonly host = '127.0.0.1' as const;
  readonly superuser = 'postgres' as const;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  caCertPem?: string;
  caCertPath?: string;
  certificates?: Certificates;
  private running = false;
  private destroyed = false;

  constructor(
    readonly baseDir: string,
    public port: number,
    readonly superuserPassword: string,
    readonly user: string,
    readonly password: string,
    readonly database: string,
    readonly tls: boolean,
  ) {
    this.dataDir = join(baseDir, 'data');
    this.socketDir = baseDir;
    this.logFile = join(baseDir, 'postgres.log');
  }

  get uri(): string {
    return `postgresql://${encodeURIComponent(this.user)}:${encodeURIComponent(this.password)}@127.0.0.1:${this.port}/${encodeURIComponent(this.database)}`;
  }

  get pid(): number | undefined {
    return this.running ? this.livePid() : undefined;
  }

  /** PID from postmaster.pid if that process exists (sync: used by the exit hook). */
  livePid(): number | undefined {
    try {
      const first = readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0];
      const pid = Number(first);
      return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  private psqlArgs(database: string | undefined): string[] {
    return [
      '-X',
      '-w',
      '-A',
      '-t',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-h',
      this.socketDir,
      '-p',
      String(this.port),
      '-U',
      'postgres',
      '-d',
      database ?? this.database,
    ];
  }

  async psql(sql: string, opts: { database?: string } = {}): Promise<string> {
    const { stdout } = await run(bin('psql'), [...this.psqlArgs(opts.database), '-f', '-'], { input: sql });
    return stdout;
  }

  async psqlFile(path: string, opts: { database?: string } = {}): Promise<string> {
    const { stdout } = await run(bin('psql'), [...this.psqlArgs(opts.database), '-f', path]);
    return stdout;
  }

  /** Writes the harness's settings file (included from postgresql.conf). */
  async writeConf(extraConf: Record<string, string>): Promise<void> {
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      port: String(this.port),
      unix_socket_directories: this.socketDir,
      password_encryption: 'scram-sha-256',
      // fsync off: the tests never outlive the machine, so nothing needs to reach the disk.
      // synchronous_commit stays on: a commit returns only once its WAL reached the kernel,
      // so a crash (`stop({ mode: 'immediate' })`) keeps every acknowledged commit. Off, a
      // seed committed a second before a crash test vanished in recovery, and the restarted
      // server was an empty database (issue 25).
      fsync: 'off',
      synchronous_commit: 'on',
      full_page_writes: 'off',
      shared_buffers: '16MB',
      max_connections: '100',
      logging_collector: 'off',
      jit: 'off',
      huge_pages: 'off',
      ...(this.tls ? { ssl: 'on', ssl_cert_file: 'server.crt', ssl_key_file: 'server.key', ssl_ca_file: 'ca.crt' } : {}),
      ...extraConf,
    };
    const text = Object.entries(settings)
      .map(([k, v]) => `${k} = ${confValue(v)}`)
      .join('\n');
    const file = join(this.dataDir, 'sourced_harness.conf');
    await writeFile(file, `# written by test/harness/postgres.ts\n${text}\n`);
    if (isRoot) await chown(file, ...(await accountIds('postgres')));
  }

  async start(): Promise<void> {
    if (this.destroyed) throw new Error('postgres instance was destroyed');
    if (this.running) return;
    await run(bin('pg_ctl'), ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '60', '-s', 'start'], {
      asPostgres: true,
      cwd: this.baseDir,
      timeoutMs: 90_000,
    }).catch(async (err: Error) => {
      const log = await readFile(this.logFile, 'utf8').catch(() => '');
      const tail = log.split('\n').slice(-15).join('\n');
      throw Object.assign(new Error(`${err.message}\n--- ${this.logFile} (tail) ---\n${tail}`), {
        addressInUse: /Address already in use|could not bind/i.test(tail),
      });
    });
    this.running = true;
  }

  async stop(opts: { mode?: 'smart' | 'fast' | 'immediate' } = {}): Promise<void> {
    if (!existsSync(join(this.dataDir, 'postmaster.pid'))) {
      this.running = false;
      return;
    }
    const pid = this.livePid();
    try {
      await run(bin('pg_ctl'), ['-D', this.dataDir, '-m', opts.mode ?? 'fast', '-w', '-t', '30', '-s', 'stop'], {
        asPostgres: true,
        cwd: this.baseDir,
        timeoutMs: 40_000,
      });
    } catch {
      if (pid !== undefined) await killAndWait(pid);
    }
    // pg_ctl returns once postmaster.pid is gone, a moment before the process itself exits.
    if (pid !== undefined && !(await waitGone(pid, 5_000))) await killAndWait(pid);
    this.running = false;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    try {
      await this.stop({ mode: 'immediate' });
    } finally {
      this.destroyed = true;
      instances.delete(this);
      await rm(this.baseDir, { recursive: true, force: true });
    }
  }
}

async function killAndWait(pid: number): Promise<void> {
  const signals: NodeJS.Signals[] = ['SIGQUIT', 'SIGKILL'];
  for (const sig of signals) {
    try {
      process.kill(pid, sig);
    } catch {
      return;
    }
    if (await waitGone(pid, 5_000)) return;
  }
}

/**
 * Starts a throwaway PostgreSQL server on 127.0.0.1:<free port> in a new temp folder
 * (initdb as the `postgres` user, fsync off). Local socket connections as `postgres` are
 * trusted; every TCP connection needs a SCRAM password (`host all all 127.0.0.1/32
 * scram-sha-256`). Creates the LOGIN role `user` and the database `database` owned by it.
 * With `tls`, ssl=on with a fresh test CA (non-TLS TCP connections are still accepted).
 * The instance is registered so {@link stopAll} and a process 'exit' hook clean it up.
 */
export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresInstance> {
  const user = opts.user ?? 'sourced_test';
  const password = opts.password ?? `pw-${randomHex(12)}`;
  const database = opts.database ?? 'sourced_test';
  const tls = opts.tls ?? false;
  const superuserPassword = `su-${randomHex(12)}`;

  // Keep the unix socket path short (limit ~107 bytes).
  const base = tmpdir().length > 60 ? '/tmp' : tmpdir();
  const baseDir = await mkdtemp(join(base, 'sourced-pg-'));
  installExitHook();
  const inst = new Instance(baseDir, 0, superuserPassword, user, password, database, tls);
  instances.add(inst);

  try {
    const ids = isRoot ? await accountIds('postgres') : undefined;
    if (ids) await chown(baseDir, ...ids);

    const pwfile = join(baseDir, 'superuser.pw');
    await writeFile(pwfile, `${superuserPassword}\n`, { mode: 0o600 });
    if (ids) await chown(pwfile, ...ids);
    await run(
      bin('initdb'),
      [
        '-D',
        inst.dataDir,
        '-U',
        'postgres',
        `--pwfile=${pwfile}`,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
      ],
      { asPostgres: true, cwd: baseDir },
    );
    await rm(pwfile, { force: true });

    const hba = [
      '# written by test/harness/postgres.ts',
      ...(opts.extraHba ?? []),
      'local   all          postgres                  trust',
      'local   all          all                       scram-sha-256',
      'host    all          all       127.0.0.1/32    scram-sha-256',
      'local   replication  postgres                  trust',
      'host    replication  all       127.0.0.1/32    scram-sha-256',
      '',
    ].join('\n');
    await writeFile(join(inst.dataDir, 'pg_hba.conf'), hba);
    await appendFile(join(inst.dataDir, 'postgresql.conf'), "\ninclude 'sourced_harness.conf'\n");

    if (tls) {
      const certs = await makeCertificates(join(baseDir, 'certs'));
      inst.certificates = certs;
      inst.caCertPem = certs.caCertPem;
      inst.caCertPath = certs.caCert;
      await copyFile(certs.serverCert, join(inst.dataDir, 'server.crt'));
      await copyFile(certs.serverKey, join(inst.dataDir, 'server.key'));
      await copyFile(certs.caCert, join(inst.dataDir, 'ca.crt'));
      await chmod(join(inst.dataDir, 'server.key'), 0o600);
      if (ids) {
        for (const f of ['server.crt', 'server.key', 'ca.crt']) await chown(join(inst.dataDir, f), ...ids);
      }
    }
    if (ids) await chown(join(inst.dataDir, 'pg_hba.conf'), ...ids);

    // The port from freePort() may be taken before the postmaster binds it: retry a few times.
    for (let attempt = 1; ; attempt++) {
      inst.port = await freePort();
      await inst.writeConf(opts.extraConf ?? {});
      try {
        await inst.start();
        break;
      } catch (err) {
        if (attempt >= 5 || !(err as { addressInUse?: boolean }).addressInUse) throw err;
      }
    }

    await inst.psql(
      [`CREATE ROLE ${quoteIdent(user)} LOGIN PASSWORD ${quoteLiteral(password)};`, `CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(user)};`].join(
        '\n',
      ),
      { database: 'postgres' },
    );
    return inst;
  } catch (err) {
    await inst.destroy().catch(() => undefined);
    throw err;
  }
}

/** Destroys (stops and deletes) every instance started by this process that is still around. */
export async function stopAll(): Promise<void> {
  const all = [...instances];
  const results = await Promise.allSettled(all.map((i) => i.destroy()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Starts a streaming replica of `primary` (a hot standby made with `pg_basebackup -R -X stream`)
 * on a free port in a new temp folder: the same system identifier, roles, passwords and data,
 * read-only, following the primary's WAL. What a HYBRID secondary usually is. Cleaned up like
 * the instances of {@link startPostgres}.
 */
export async function startReplica(primary: PostgresInstance, opts: { extraConf?: Record<string, string> } = {}): Promise<PostgresInstance> {
  const base = tmpdir().length > 60 ? '/tmp' : tmpdir();
  const baseDir = await mkdtemp(join(base, 'sourced-pg-replica-'));
  installExitHook();
  const inst = new Instance(baseDir, 0, primary.superuserPassword, primary.user, primary.password, primary.database, primary.tls);
  instances.add(inst);
  try {
    const ids = isRoot ? await accountIds('postgres') : undefined;
    if (ids) await chown(baseDir, ...ids);
    await run(
      bin('pg_basebackup'),
      ['-h', primary.socketDir, '-p', String(primary.port), '-U', 'postgres', '-D', inst.dataDir, '-R', '-X', 'stream', '--no-sync', '-c', 'fast'],
      { asPostgres: true, cwd: baseDir },
    );
    inst.certificates = primary.certificates;
    inst.caCertPem = primary.caCertPem;
    inst.caCertPath = primary.caCertPath;
    for (let attempt = 1; ; attempt++) {
      inst.port = await freePort();
      await inst.writeConf({ hot_standby: 'on', ...opts.extraConf });
      try {
        await inst.start();
        break;
      } catch (err) {
        if (attempt >= 5 || !(err as { addressInUse?: boolean }).addressInUse) throw err;
      }
    }
    return inst;
  } catch (err) {
    await inst.destroy().catch(() => undefined);
    throw err;
  }
}
