/**
 * Throwaway MariaDB servers for tests ({@link startMariadb}), copied from a data folder
 * installed once per process, on a free port in a temp folder, removed at the end.
 * Why one file (~420 lines): the instance, its start function, the template folder and the
 * exit hook share the registry of live instances; running tools and watching pids are in
 * processes.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { chmod, chown, copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';

import { makeCertificates, type Certificates } from './certs';
import { freePort } from './ports';
import { accountIds, isRoot, pidAlive, randomHex, runTool, sleep, type RunResult } from './processes';

/** A throwaway MariaDB server started by {@link startMariadb}. */
export interface MariadbInstance {
  host: '127.0.0.1';
  port: number;
  /** Temp folder that holds everything (data dir, socket, log, certs); removed by destroy(). */
  baseDir: string;
  dataDir: string;
  /** The unix socket; root logs in over it without a password. */
  socketPath: string;
  /** Server error log (--log-error). */
  logFile: string;
  /** `root`: over TCP from 127.0.0.1 it needs {@link superuserPassword}. */
  superuser: 'root';
  superuserPassword: string;
  /** An account `user`@`%` with a password (the server's default plugin, mysql_native_password), made by the harness. */
  user: string;
  password: string;
  /** A database the harness creates; `user` has every privilege on it. */
  database: string;
  /** Whether the server has TLS on (it still accepts plain connections). */
  tls: boolean;
  /** PEM of the CA that signed the server certificate (tls only). */
  caCertPem?: string;
  /** Path of that CA certificate (tls only). */
  caCertPath?: string;
  /** The test PKI (tls only). */
  certificates?: Certificates;
  /** Whether the ed25519 authentication plugin is loaded (when the server ships it). */
  ed25519: boolean;
  /** mariadbd's PID while running, else undefined. */
  readonly pid: number | undefined;
  /**
   * Runs SQL as root over the unix socket with the `mariadb` client (`--batch
   * --skip-column-names`, SQL fed on stdin, so several statements work) and returns stdout.
   * Default database: none. Throws with stderr.
   */
  sql(sql: string, opts?: { database?: string }): Promise<string>;
  /** Like sql() but reads the statements from a file. */
  sqlFile(path: string, opts?: { database?: string }): Promise<string>;
  /** Stops the server (SIGTERM, a clean shutdown; `immediate` kills it). Keeps the folder. */
  stop(opts?: { mode?: 'clean' | 'immediate' }): Promise<void>;
  /** Starts the server again on the same port and data after stop(). */
  start(): Promise<void>;
  /** Stops the server and deletes the temp folder. Idempotent. */
  destroy(): Promise<void>;
}

/** Options for {@link startMariadb}. */
export interface StartMariadbOptions {
  /** TLS on, with a server certificate for localhost/127.0.0.1 signed by a fresh test CA. Default false. */
  tls?: boolean;
  /** Test account name. Default `sourced_test`. */
  user?: string;
  /** Its password. Default `pw-` + 24 random hex characters. */
  password?: string;
  /** Test database. Default `sourced_test`. */
  database?: string;
  /** Extra mariadbd options, after the harness's (for example `--require-secure-transport=ON`). */
  extraArgs?: string[];
}

const MARIADBD = process.env['SOURCED_MARIADBD'] ?? (existsSync('/usr/sbin/mariadbd') ? '/usr/sbin/mariadbd' : 'mariadbd');
const INSTALL_DB = process.env['SOURCED_MARIADB_INSTALL_DB'] ?? 'mariadb-install-db';
const CLIENT = process.env['SOURCED_MARIADB_CLIENT'] ?? 'mariadb';
const PLUGIN_DIR = process.env['SOURCED_MARIADB_PLUGIN_DIR'] ?? '/usr/lib/mysql/plugin';

/**
 * InnoDB settings for a small, fast test server (the same for install and start): nothing is
 * synced to disk, but every commit writes its log to the kernel (`flush-log-at-trx-commit=2`),
 * so a crash (`stop({ mode: 'immediate' })`, SIGKILL) keeps every acknowledged commit. At 0 the
 * log was written once a second and a crash lost what the test had just committed.
 */
const INNODB_ARGS = [
  '--innodb-buffer-pool-size=16M',
  '--innodb-log-file-size=4M',
  '--innodb-doublewrite=0',
  '--innodb-flush-log-at-trx-commit=2',
  '--innodb-flush-method=nosync',
];

const instances = new Set<Instance>();
const templateDirs = new Set<string>();
let exitHookInstalled = false;

/** A server tool run to its end (60 s at most unless told). */
function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return runTool(cmd, args, { ...opts, timeoutMs: opts.timeoutMs ?? 60_000 });
}

function quoteLiteral(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function quoteIdent(s: string): string {
  return `\`${s.replace(/`/g, '``')}\``;
}

async function makeBaseDir(prefix: string): Promise<string> {
  // Keep the unix socket path short (limit ~107 bytes).
  const base = tmpdir().length > 60 ? '/tmp' : tmpdir();
  const dir = await mkdtemp(join(base, prefix));
  if (isRoot) await chown(dir, ...(await accountIds('mysql')));
  return dir;
}

let templatePromise: Promise<string> | undefined;
/**
 * A freshly installed data directory (system tables, root@localhost and root@127.0.0.1
 * without a password), made once per process and copied for each instance: the install is
 * the slow part of a start.
 */
function templateDataDir(): Promise<string> {
  templatePromise ??= (async () => {
    const dir = await makeBaseDir('sourced-mdb-template-');
    templateDirs.add(dir);
    const dataDir = join(dir, 'data');
    await run(INSTALL_DB, [
      '--no-defaults',
      `--datadir=${dataDir}`,
      ...(isRoot ? ['--user=mysql'] : []),
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--skip-name-resolve',
      ...INNODB_ARGS,
      // Its own tmpdir too (passed on to the bootstrap mariadbd): a bootstrap in another test
      // process, sharing /tmp, deletes every #sql* file there when it starts, and this one
      // then failed with "Could not remove temporary table" (seen in CI under load).
      `--tmpdir=${dir}`,
    ]);
    return dataDir;
  })();
  templatePromise.catch(() => (templatePromise = undefined));
  return templatePromise;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const inst of instances) {
      const pid = inst.livePid();
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      if (!process.env['SOURCED_KEEP_MARIADB']) rmSync(inst.baseDir, { recursive: true, force: true });
    }
    for (const dir of templateDirs) rmSync(dir, { recursive: true, force: true });
    instances.clear();
  });
}

/** Resolves once the server sends its greeting on the TCP port. */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('data', (chunk) => done(chunk.length > 4 && chunk[4] === 10));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
    socket.connect(port, '127.0.0.1');
  });
}

class Instance implements MariadbInstance {
  readonly host = '127.0.0.1' as const;
  readonly superuser = 'root' as const;
  readonly dataDir: string;
  readonly socketPath: string;
  readonly logFile: string;
  caCertPem?: string;
  caCertPath?: string;
  certificates?: Certificates;
  ed25519 = false;
  private child?: ChildProcess;
  private destroyed = false;

  constructor(
    readonly baseDir: string,
    public port: number,
    readonly superuserPassword: string,
    readonly user: string,
    readonly password: string,
    readonly database: string,
    readonly tls: boolean,
    private readonly extraArgs: string[],
  ) {
    this.dataDir = join(baseDir, 'data');
    this.socketPath = join(baseDir, 'mysqld.sock');
    this.logFile = join(baseDir, 'mariadb.log');
  }

  get pid(): number | undefined {
    return this.livePid();
  }

  livePid(): number | undefined {
    const pid = this.child?.pid;
    return pid !== undefined && this.child?.exitCode === null && pidAlive(pid) ? pid : undefined;
  }

  private args(): string[] {
    return [
      '--no-defaults',
      `--datadir=${this.dataDir}`,
      `--socket=${this.socketPath}`,
      `--port=${this.port}`,
      '--bind-address=127.0.0.1',
      '--skip-name-resolve',
      ...(isRoot ? ['--user=mysql'] : []),
      `--pid-file=${join(this.baseDir, 'mariadb.pid')}`,
      `--log-error=${this.logFile}`,
      ...INNODB_ARGS,
      // Its own tmpdir: at start mariadbd deletes every #sql* file in its tmpdir, which would
      // pull internal temporary tables from under the queries of other instances sharing /tmp.
      `--tmpdir=${this.baseDir}`,
      '--skip-log-bin',
      '--performance-schema=OFF',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_unicode_ci',
      '--max-connections=200',
      ...(this.ed25519 ? ['--plugin-load-add=auth_ed25519'] : []),
      ...(this.tls
        ? [`--ssl-cert=${join(this.baseDir, 'server.crt')}`, `--ssl-key=${join(this.baseDir, 'server.key')}`, `--ssl-ca=${join(this.baseDir, 'ca.crt')}`]
        : []),
      ...this.extraArgs,
    ];
  }

  async start(): Promise<void> {
    if (this.destroyed) throw new Error('mariadb instance was destroyed');
    if (this.livePid() !== undefined) return;
    const child = spawn(MARIADBD, this.args(), { stdio: 'ignore' });
    child.unref();
    child.once('error', () => undefined);
    this.child = child;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const log = await readFile(this.logFile, 'utf8').catch(() => '');
        const tail = log.split('\n').slice(-15).join('\n');
        throw Object.assign(new Error(`mariadbd exited with ${child.exitCode ?? child.signalCode}\n--- ${this.logFile} (tail) ---\n${tail}`), {
          addressInUse: /Address already in use|Bind on TCP\/IP port/i.test(tail),
        });
      }
      if (await greets(this.port)) return;
      if (Date.now() > deadline) {
        await this.stop({ mode: 'immediate' });
        throw new Error(`mariadbd did not accept connections on port ${this.port} within 60 s`);
      }
      await sleep(50);
    }
  }

  async stop(opts: { mode?: 'clean' | 'immediate' } = {}): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(opts.mode === 'immediate' ? 'SIGKILL' : 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 20_000)))]);
    clearTimeout(timer);
    if (timedOut) {
      child.kill('SIGKILL');
      await exited;
    }
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    try {
      await this.stop({ mode: 'immediate' });
    } finally {
      this.destroyed = true;
      instances.delete(this);
      if (!process.env['SOURCED_KEEP_MARIADB']) await rm(this.baseDir, { recursive: true, force: true });
    }
  }

  private clientArgs(database: string | undefined): string[] {
    return ['--no-defaults', `--socket=${this.socketPath}`, '--user=root', '--batch', '--skip-column-names', ...(database ? [`--database=${database}`] : [])];
  }

  async sql(sql: string, opts: { database?: string } = {}): Promise<string> {
    return (await run(CLIENT, this.clientArgs(opts.database), { input: sql })).stdout;
  }

  async sqlFile(path: string, opts: { database?: string } = {}): Promise<string> {
    return this.sql(await readFile(path, 'utf8'), opts);
  }
}

/**
 * Starts a throwaway MariaDB on 127.0.0.1:<free port> in a new temp folder, from a data
 * directory installed once per process (mariadb-install-db) and copied. root logs in over
 * the unix socket without a password, and over TCP with `superuserPassword`. Creates the
 * account `user`@`%` with `password` and the database `database` on which it has every
 * privilege. With `tls`, the server gets a certificate signed by a fresh test CA (plain
 * connections are still accepted). Loads the ed25519 authentication plugin when the server
 * ships it. The instance is registered so {@link stopAllMariadb} and a process 'exit' hook
 * clean it up.
 */
export async function startMariadb(opts: StartMariadbOptions = {}): Promise<MariadbInstance> {
  const user = opts.user ?? 'sourced_test';
  const password = opts.password ?? `pw-${randomHex(12)}`;
  const database = opts.database ?? 'sourced_test';
  const tls = opts.tls ?? false;
  const superuserPassword = `su-${randomHex(12)}`;

  installExitHook();
  const [template, baseDir] = await Promise.all([templateDataDir(), makeBaseDir('sourced-mdb-')]);
  const inst = new Instance(baseDir, 0, superuserPassword, user, password, database, tls, opts.extraArgs ?? []);
  instances.add(inst);
  try {
    await run('cp', ['-a', template, inst.dataDir]);
    inst.ed25519 = existsSync(join(PLUGIN_DIR, 'auth_ed25519.so'));
    if (tls) {
      const certs = await makeCertificates(join(baseDir, 'certs'));
      inst.certificates = certs;
      inst.caCertPem = certs.caCertPem;
      inst.caCertPath = certs.caCert;
      const ids = isRoot ? await accountIds('mysql') : undefined;
      for (const [from, to] of [
        [certs.serverCert, 'server.crt'],
        [certs.serverKey, 'server.key'],
        [certs.caCert, 'ca.crt'],
      ] as const) {
        await copyFile(from, join(baseDir, to));
        await chmod(join(baseDir, to), to.endsWith('.key') ? 0o600 : 0o644);
        if (ids) await chown(join(baseDir, to), ...ids);
      }
    }

    // The port from freePort() may be taken before mariadbd binds it: retry a few times.
    for (let attempt = 1; ; attempt++) {
      inst.port = await freePort();
      try {
        await inst.start();
        break;
      } catch (err) {
        if (attempt >= 5 || !(err as { addressInUse?: boolean }).addressInUse) throw err;
      }
    }

    await inst.sql(
      [
        `ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY ${quoteLiteral(superuserPassword)};`,
        `CREATE USER ${quoteLiteral(user)}@'%' IDENTIFIED BY ${quoteLiteral(password)};`,
        `CREATE DATABASE ${quoteIdent(database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;`,
        `GRANT ALL ON ${quoteIdent(database)}.* TO ${quoteLiteral(user)}@'%';`,
      ].join('\n'),
    );
    return inst;
  } catch (err) {
    await inst.destroy().catch(() => undefined);
    throw err;
  }
}

/**
 * Destroys (stops and deletes) every instance started by this process that is still around,
 * and deletes the installed data directory they were copied from.
 */
export async function stopAllMariadb(): Promise<void> {
  const results = await Promise.allSettled([...instances].map((i) => i.destroy()));
  templatePromise = undefined;
  for (const dir of templateDirs) await rm(dir, { recursive: true, force: true });
  templateDirs.clear();
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** How to reach a harness server as root over TCP. */
export interface RootAccess {
  host: string;
  port: number;
  superuser: string;
  superuserPassword: string;
}

/**
 * Runs one statement as root over TCP with mysql2 (to look at the server from the side, for
 * example information_schema.PROCESSLIST, or to create an account for one test). `?` values
 * are escaped by mysql2.
 */
export async function rootQuery<T = Record<string, unknown>>(server: RootAccess, sql: string, params: unknown[] = []): Promise<T[]> {
  const conn = await createConnection({
    host: server.host,
    port: server.port,
    user: server.superuser,
    password: server.superuserPassword,
    multipleStatements: false,
  });
  try {
    const [rows] = await conn.query(sql, params);
    return rows as T[];
  } finally {
    await conn.end();
  }
}
