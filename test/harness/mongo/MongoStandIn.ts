/**
 * A MongoDB stand-in for tests: a TCP (or TLS) server speaking the real wire protocol well
 * enough for the official driver to connect, authenticate with SCRAM-SHA-256 and run the
 * catalog commands sourced sends, answering from an in-memory dataset. No MongoDB server
 * can run on the test machines; this lets the real driver run end to end.
 *
 * What it speaks: the legacy `ismaster` handshake over OP_QUERY (answered with OP_REPLY),
 * then OP_MSG commands (honouring `moreToCome`). It never sends `topologyVersion`, so the
 * driver monitors by polling, and advertises no compressors. Cursors have Int64 ids.
 * Every command it does not know is answered with CommandNotFound and logged.
 *
 * Why one file (~740 lines): the StandIn class holds the server's state (connections, cursors, users, the dataset) and
 * dispatches every command on it; the wire protocol, SCRAM, matching, pipelines, grants and catalog writes are modules beside it.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Binary, Long, ObjectId, Timestamp, type Document } from 'bson';
import { Grants, type UserDefinition } from './authz';
import { createCollection, createIndexes, dropCollection, dropDatabase, insertDocuments } from './catalogWrites';
import type { CollectionSpec, DatabaseSpec, IndexSpec, MongoDataset } from './dataset';
import { matches } from './match';
import { CommandError, runPipeline } from './pipeline';
import { AuthenticationFailed, makeScramCredentials, ScramConversation, type ScramCredentials } from './scram';
import { encodeReply, MessageFramer, parseMessage, type IncomingCommand } from './wire';

export interface MongoStandInOptions {
  dataset: MongoDataset;
  /** Listen with TLS using this certificate and key (PEM). */
  tls?: {
    cert: string;
    key: string;
    /** Require a client certificate signed by this CA (PEM), as mongod with net.tls.CAFile and no allowConnectionsWithoutCertificates. */
    clientCa?: string;
  };
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Answer hello as the primary of a replica set with this name (one member unless `members`). */
  replicaSet?: string;
  /** The host name the replica-set hello gives for this server (`me`, `primary`; the port is its own); default its address. */
  advertiseHost?: string;
  /** Further members (`host:port`) the replica-set hello lists, as secondaries a driver will monitor. */
  members?: string[];
  /** Answer hello as a mongos router (`msg: 'isdbgrid'`). */
  sharded?: boolean;
  /** The version buildInfo reports. */
  version?: string;
  /** Where the stand-in logs what it does not understand (unknown commands, broken messages); default stderr. */
  log?: (line: string) => void;
  /** Where it logs routine events (failed logins, TLS probes on the plain port); default stderr when SOURCED_TEST_MONGO_DEBUG is set. */
  debug?: (line: string) => void;
  /**
   * A test hook: an aggregate whose first stage is `$sample` of one of these sizes answers
   * after the given delay in milliseconds (or fails with MaxTimeMSExpired at its
   * `maxTimeMS`, as a slow real server would), so a test can hold a discovery mid-command.
   */
  sampleDelays?: Record<number, number>;
  /**
   * Draw each `$sample` with a fresh random seed, as a real server does, instead of the
   * default seed of the namespace (the same documents every time): for tests that repeat a
   * sample to see that an estimate holds over several draws.
   */
  randomSample?: boolean;
  /**
   * A test hook: a `find` on one of these namespaces (`db.collection`) answers after the given
   * delay in milliseconds (or fails with MaxTimeMSExpired at its `maxTimeMS`), so a test can
   * hold a preview mid-command. A hold ends early when the client closes the connection.
   */
  findDelays?: Record<string, number>;
  /**
   * Answer listDatabases as a hostile server would: every visible database whatever the
   * command's `filter` (which is then not evaluated here at all), so a test can see what the
   * client itself does with names it did not ask for.
   */
  ignoreDatabaseFilter?: boolean;
  /**
   * Serve `admin.system.users` as a real server stores it: one document per user with its
   * SCRAM-SHA-256 credentials (salt, StoredKey, ServerKey as base64) and roles, readable by
   * whoever may `find` there (`root`), so tests can check that no verifier leaves the daemon.
   */
  serveSystemUsers?: boolean;
  /** A test hook: sees every command it receives, with its database and the connection's appName (once the handshake gave one). */
  onCommand?: (command: Document, db: string, appName: string | undefined) => void;
}

/** A running stand-in. */
export interface MongoStandIn {
  host: string;
  port: number;
  /** Connections open now. */
  connections(): number;
  /** Cursors open now (not exhausted, not killed). */
  openCursors(): number;
  /** Names of the commands that were answered with CommandNotFound. */
  readonly unknownCommands: string[];
  /**
   * A test hook: freezes the server as SIGSTOP freezes a mongod. Connections stay open and new
   * ones are accepted (the kernel's part), but nothing is read or answered, heartbeats
   * included, until {@link resume}, which answers what waited.
   */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

const MAX_WIRE_VERSION = 21; // MongoDB 7.0
const FIRST_BATCH = 101;

/** Commands a client may run before it authenticates (as on a real server). */
const NO_AUTH_COMMANDS = new Set(['hello', 'ismaster', 'ping', 'saslstart', 'saslcontinue', 'buildinfo', 'connectionstatus', 'endsessions', 'logout']);

interface Conn {
  id: number;
  socket: Socket;
  client: string;
  appName?: string;
  clientMetadata?: Document;
  user?: { user: string; db: string; grants: Grants };
  /** The command running now, for $currentOp. */
  running?: Document;
  conversations: Map<number, { conversation: ScramConversation; db: string }>;
}

interface Cursor {
  ns: string;
  docs: Document[];
}

interface StoredUser {
  def: UserDefinition;
  credentials: ScramCredentials;
}

/** Starts a stand-in on a free port (or `options.port`). */
export async function startMongoStandIn(options: MongoStandInOptions): Promise<MongoStandIn> {
  const standIn = new StandIn(options);
  await standIn.listen();
  return standIn;
}

class StandIn implements MongoStandIn {
  host: string;
  port = 0;
  readonly unknownCommands: string[] = [];
  private server: Server;
  private readonly conns = new Map<number, Conn>();
  private readonly cursors = new Map<string, Cursor>();
  private readonly users: StoredUser[];
  private nextConnId = 1;
  private nextCursorId = 7_000_000_001;
  private nextConversationId = 1;
  private readonly log: (line: string) => void;
  private readonly debug: (line: string) => void;
  /** Set while paused: replies wait for it. */
  private frozen?: { thawed: Promise<void>; thaw(): void };

  constructor(private readonly options: MongoStandInOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.log = options.log ?? ((line) => process.stderr.write(`[mongo stand-in] ${line}\n`));
    this.debug = options.debug ?? (process.env.SOURCED_TEST_MONGO_DEBUG ? this.log : () => undefined);
    // Derived once, as createUser would: the server never keeps the password.
    this.users = options.dataset.users.map((def) => ({ def, credentials: makeScramCredentials(def.password) }));
    this.server = options.tls
      ? createTlsServer(
          {
            cert: options.tls.cert,
            key: options.tls.key,
            ...(options.tls.clientCa ? { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
          },
          (s) => this.accept(s),
        )
      : createTcpServer((s) => this.accept(s));
    this.server.on('tlsClientError', () => undefined);
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, this.host, () => {
        this.port = (this.server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  connections(): number {
    return this.conns.size;
  }

  openCursors(): number {
    return this.cursors.size;
  }

  pause(): void {
    if (this.frozen) return;
    let thaw = () => undefined as void;
    const thawed = new Promise<void>((resolve) => (thaw = resolve));
    this.frozen = { thawed, thaw };
    for (const c of this.conns.values()) c.socket.pause();
  }

  resume(): void {
    const frozen = this.frozen;
    this.frozen = undefined;
    for (const c of this.conns.values()) if (!c.socket.destroyed) c.socket.resume();
    frozen?.thaw();
  }

  async stop(): Promise<void> {
    this.resume();
    for (const c of this.conns.values()) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private get address(): string {
    return `${this.options.advertiseHost ?? this.host}:${this.port}`;
  }

  private accept(socket: Socket): void {
    const conn: Conn = {
      id: this.nextConnId++,
      socket,
      client: `${socket.remoteAddress}:${socket.remotePort}`,
      conversations: new Map(),
    };
    this.conns.set(conn.id, conn);
    if (this.frozen) socket.pause();
    const framer = new MessageFramer();
    let queue = Promise.resolve();
    let first = true;
    socket.on('data', (chunk: Buffer) => {
      if (first && !this.options.tls && chunk[0] === 0x16) {
        // What mongod does when a TLS ClientHello reaches a port without TLS.
        this.debug(`SSL handshake received but server is started without SSL support (from ${conn.client})`);
        socket.destroy();
        return;
      }
      first = false;
      let frames: Buffer[];
      try {
        frames = framer.push(chunk);
      } catch (error) {
        this.log(`closing ${conn.client}: ${(error as Error).message}`);
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        queue = queue
          .then(() => this.handle(conn, frame))
          .catch((error: unknown) => {
            this.log(`closing ${conn.client}: ${(error as Error).message}`);
            socket.destroy();
          });
      }
    });
    socket.on('error', () => undefined);
    // Cursors outlive the connection that opened them (a getMore may come over another pooled connection).
    socket.on('close', () => this.conns.delete(conn.id));
  }

  private async handle(conn: Conn, frame: Buffer): Promise<void> {
    const request = parseMessage(frame);
    let reply: Document;
    this.options.onCommand?.(request.command, request.db, conn.appName);
    conn.running = request.command;
    try {
      reply = await this.run(conn, request);
    } catch (error) {
      if (error instanceof CommandError) reply = { ok: 0, errmsg: error.message, code: error.code, codeName: error.codeName };
      else {
        const e = error as { code?: number; codeName?: string; message: string };
        reply = { ok: 0, errmsg: e.message, code: e.code ?? 8000, codeName: e.codeName ?? 'InternalError' };
      }
    } finally {
      conn.running = undefined;
    }
    if (this.frozen) await this.frozen.thawed;
    if (request.moreToCome || conn.socket.destroyed) return;
    conn.socket.write(encodeReply(request, reply));
  }

  private async run(conn: Conn, request: IncomingCommand): Promise<Document> {
    const cmd = request.command;
    const name = Object.keys(cmd)[0] ?? '';
    const lower = name.toLowerCase();
    if (!NO_AUTH_COMMANDS.has(lower) && !conn.user) {
      throw new CommandError(13, 'Unauthorized', `Command ${name} requires authentication`);
    }
    switch (lower) {
      case 'hello':
      case 'ismaster':
        return this.hello(conn, cmd, lower === 'hello' ? 'isWritablePrimary' : 'ismaster');
      case 'ping':
        return { ok: 1 };
      case 'buildinfo':
        return this.buildInfo();
      case 'saslstart':
        return this.saslStart(conn, cmd, request.db);
      case 'saslcontinue':
        return this.saslContinue(conn, cmd);
      case 'connectionstatus':
        return this.connectionStatus(conn, cmd);
      case 'endsessions':
        return { ok: 1 };
      case 'logout':
        conn.user = undefined;
        return { ok: 1 };
      case 'listdatabases':
        return this.listDatabases(conn, cmd);
      case 'listcollections':
        return this.listCollections(conn, cmd, request.db);
      case 'listindexes':
        return this.listIndexes(conn, cmd, request.db);
      case 'count':
        return this.count(conn, cmd, request.db);
      case 'aggregate':
        return this.aggregate(conn, cmd, request.db);
      case 'find':
        return this.find(conn, cmd, request.db);
      case 'getmore':
        return this.getMore(cmd, request.db);
      case 'killcursors':
        return this.killCursors(cmd, request.db);
      // Writes that load a catalog fixture through the driver (catalogWrites.ts).
      case 'create':
        this.mayWrite(conn, cmd, request.db, 'createCollection');
        return createCollection(this.options.dataset, request.db, cmd);
      case 'createindexes':
        this.mayWrite(conn, cmd, request.db, 'createIndex');
        return createIndexes(this.options.dataset, request.db, cmd);
      case 'insert':
        this.mayWrite(conn, cmd, request.db, 'insert');
        return insertDocuments(this.options.dataset, request.db, cmd);
      case 'drop':
        this.mayWrite(conn, cmd, request.db, 'dropCollection');
        return dropCollection(this.options.dataset, request.db, cmd);
      case 'dropdatabase':
        this.mayWrite(conn, cmd, request.db, 'dropDatabase');
        return dropDatabase(this.options.dataset, request.db);
      default:
        this.unknownCommands.push(name);
        this.log(`unknown command ${name} on ${request.db}: ${JSON.stringify(Object.keys(cmd))}`);
        throw new CommandError(59, 'CommandNotFound', `no such command: '${name}'`);
    }
  }

  // ---- handshake and authentication ----

  private hello(conn: Conn, cmd: Document, primaryField: 'isWritablePrimary' | 'ismaster'): Document {
    if (cmd.client && !conn.clientMetadata) {
      conn.clientMetadata = cmd.client as Document;
      conn.appName = (cmd.client as { application?: { name?: string } }).application?.name;
    }
    const reply: Document = {
      [primaryField]: true,
      maxBsonObjectSize: 16 * 1024 * 1024,
      maxMessageSizeBytes: 48_000_000,
      maxWriteBatchSize: 100_000,
      localTime: new Date(),
      logicalSessionTimeoutMinutes: 30,
      connectionId: conn.id,
      minWireVersion: 0,
      maxWireVersion: MAX_WIRE_VERSION,
      readOnly: false,
    };
    if (cmd.helloOk) reply.helloOk = true;
    if (this.options.replicaSet) {
      Object.assign(reply, {
        hosts: [this.address, ...(this.options.members ?? [])],
        setName: this.options.replicaSet,
        setVersion: 1,
        secondary: false,
        primary: this.address,
        me: this.address,
        electionId: new ObjectId('7fffffff0000000000000001'),
        lastWrite: { opTime: { ts: new Timestamp({ t: 1_700_000_000, i: 1 }), t: Long.fromNumber(1) }, lastWriteDate: new Date() },
      });
    }
    if (this.options.sharded) reply.msg = 'isdbgrid';
    if (typeof cmd.saslSupportedMechs === 'string') {
      // As a real server: the mechanisms are listed only when the user exists in that database.
      const dot = cmd.saslSupportedMechs.indexOf('.');
      const user = this.findUser(cmd.saslSupportedMechs.slice(0, dot), cmd.saslSupportedMechs.slice(dot + 1));
      if (user) reply.saslSupportedMechs = ['SCRAM-SHA-256'];
    }
    const speculative = cmd.speculativeAuthenticate as Document | undefined;
    if (speculative?.saslStart && speculative.mechanism === 'SCRAM-SHA-256') {
      try {
        reply.speculativeAuthenticate = this.saslStart(conn, speculative, String(speculative.db ?? 'admin'));
        delete (reply.speculativeAuthenticate as Document).ok;
      } catch {
        // A failed speculative start is left out; the driver then runs saslStart itself.
      }
    }
    reply.ok = 1;
    return reply;
  }

  private buildInfo(): Document {
    const version = this.options.version ?? '7.0.14';
    return {
      version,
      gitVersion: 'ce59cfc6a3c5e5c067dca0d30697edd68d4f5188',
      versionArray: [...version.split('.').map(Number), 0],
      modules: [],
      allocator: 'tcmalloc',
      javascriptEngine: 'mozjs',
      sysInfo: 'deprecated',
      bits: 64,
      debug: false,
      maxBsonObjectSize: 16 * 1024 * 1024,
      storageEngines: ['devnull', 'wiredTiger'],
      ok: 1,
    };
  }

  private findUser(db: string, user: string): StoredUser | undefined {
    return this.users.find((u) => u.def.db === db && u.def.user === user);
  }

  private saslStart(conn: Conn, cmd: Document, db: string): Document {
    if (cmd.mechanism !== 'SCRAM-SHA-256') {
      throw new CommandError(2, 'BadValue', `Received authentication for mechanism ${String(cmd.mechanism)} which is not enabled`);
    }
    const conversation = new ScramConversation((user) => this.findUser(db, user)?.credentials);
    try {
      const payload = conversation.start(Buffer.from(payloadOf(cmd)));
      const id = this.nextConversationId++;
      conn.conversations.set(id, { conversation, db });
      return { conversationId: id, done: false, payload: new Binary(payload), ok: 1 };
    } catch (error) {
      throw this.authFailure(conn, db, conversation.user, error);
    }
  }

  private saslContinue(conn: Conn, cmd: Document): Document {
    const id = Number(cmd.conversationId);
    const entry = conn.conversations.get(id);
    if (!entry) throw new CommandError(17, 'ProtocolError', 'No SASL session state found');
    const { conversation, db } = entry;
    if (conversation.done) {
      // The empty final round of a client that did not ask to skip it.
      conn.conversations.delete(id);
      return { conversationId: id, done: true, payload: new Binary(Buffer.alloc(0)), ok: 1 };
    }
    try {
      const payload = conversation.finish(Buffer.from(payloadOf(cmd)));
      const def = this.findUser(db, conversation.user)?.def;
      if (!def) throw new AuthenticationFailed('user vanished');
      conn.user = { user: def.user, db: def.db, grants: new Grants(def.roles, this.options.dataset.roles) };
      return { conversationId: id, done: true, payload: new Binary(payload), ok: 1 };
    } catch (error) {
      conn.conversations.delete(id);
      throw this.authFailure(conn, db, conversation.user, error);
    }
  }

  private authFailure(conn: Conn, db: string, user: string, error: unknown): CommandError {
    const why = error instanceof AuthenticationFailed ? error.why : (error as Error).message;
    this.debug(`authentication of ${user}@${db} from ${conn.client} failed: ${why}`);
    return new CommandError(18, 'AuthenticationFailed', 'Authentication failed.');
  }

  private connectionStatus(conn: Conn, cmd: Document): Document {
    const authInfo: Document = {
      authenticatedUsers: conn.user ? [{ user: conn.user.user, db: conn.user.db }] : [],
      authenticatedUserRoles: conn.user ? conn.user.grants.roles.map((r) => ({ role: r.role, db: r.db })) : [],
    };
    if (cmd.showPrivileges) authInfo.authenticatedUserPrivileges = conn.user ? conn.user.grants.privileges : [];
    return { authInfo, ok: 1 };
  }

  // ---- catalog ----

  private grants(conn: Conn): Grants {
    return conn.user!.grants;
  }

  private database(name: string): DatabaseSpec | undefined {
    const spec = this.options.dataset.databases.find((d) => d.name === name);
    if (name !== 'admin' || !this.options.serveSystemUsers) return spec;
    return { name, collections: [...(spec?.collections ?? []), { name: 'system.users', type: 'collection', documents: this.systemUsers() }] };
  }

  /** admin.system.users as MongoDB stores it (the SCRAM-SHA-256 credentials only). */
  private systemUsers(): Document[] {
    return this.users.map(({ def, credentials }) => ({
      _id: `${def.db}.${def.user}`,
      userId: uuidOf(`${def.db}.${def.user}`),
      user: def.user,
      db: def.db,
      credentials: {
        'SCRAM-SHA-256': {
          iterationCount: credentials.iterations,
          salt: credentials.salt.toString('base64'),
          storedKey: credentials.storedKey.toString('base64'),
          serverKey: credentials.serverKey.toString('base64'),
        },
      },
      roles: def.roles.map((r) => ({ role: r.role, db: r.db })),
    }));
  }

  private collection(db: string, name: string): CollectionSpec | undefined {
    return this.database(db)?.collections.find((c) => c.name === name);
  }

  /** Refuses a write the user's privileges do not cover (in the stand-in's roles only `root` may write). */
  private mayWrite(conn: Conn, cmd: Document, db: string, action: string): void {
    const name = Object.values(cmd)[0];
    if (!this.grants(conn).can(action, db, typeof name === 'string' ? name : undefined)) throw this.unauthorized(db, cmd);
  }

  private unauthorized(db: string, cmd: Document): CommandError {
    const name = Object.keys(cmd)[0];
    return new CommandError(13, 'Unauthorized', `not authorized on ${db} to execute command { ${name}: ${JSON.stringify(cmd[name])} }`);
  }

  private listDatabases(conn: Conn, cmd: Document): Document {
    const grants = this.grants(conn);
    const all = grants.can('listDatabases');
    if (cmd.authorizedDatabases === false && !all) throw this.unauthorized('admin', cmd);
    const visible = this.options.dataset.databases.filter((d) => (all && cmd.authorizedDatabases !== true) || grants.anyInDatabase(d.name));
    const rows = visible
      .map((d) => ({ name: d.name, sizeOnDisk: Long.fromNumber(8192 * (1 + d.collections.length)), empty: false }))
      .filter((d) => this.options.ignoreDatabaseFilter || matches(d, cmd.filter as Document | undefined));
    if (cmd.nameOnly) return { databases: rows.map((r) => ({ name: r.name })), ok: 1 };
    const total = rows.reduce((n, r) => n + r.sizeOnDisk.toNumber(), 0);
    return { databases: rows, totalSize: total, totalSizeMb: Math.floor(total / 1048576), ok: 1 };
  }

  private collectionInfo(db: string, c: CollectionSpec): Document {
    const options: Document = { ...(c.options ?? {}) };
    if (c.type === 'timeseries' && options.timeseries) {
      options.timeseries = { bucketMaxSpanSeconds: 86400, ...(options.timeseries as Document) };
    }
    const info: Document = { name: c.name, type: c.type, options, info: { readOnly: c.type === 'view' } };
    if (c.type === 'collection') {
      (info.info as Document).uuid = uuidOf(`${db}.${c.name}`);
      // A clustered collection has no separate _id index; one with a collation gives it to its _id index.
      if (!options.clusteredIndex) info.idIndex = this.idIndex(c);
    }
    return info;
  }

  private listCollections(conn: Conn, cmd: Document, db: string): Document {
    const grants = this.grants(conn);
    const partial = !grants.can('listCollections', db);
    if (partial && !(cmd.nameOnly && cmd.authorizedCollections)) throw this.unauthorized(db, cmd);
    const collections = (this.database(db)?.collections ?? []).filter((c) => !partial || grants.anyOnCollection(db, c.name));
    const infos = collections
      .map((c) => (cmd.nameOnly ? { name: c.name, type: c.type } : this.collectionInfo(db, c)))
      .filter((info) => matches(info, cmd.filter as Document | undefined));
    return this.cursorReply(`${db}.$cmd.listCollections`, infos, cmd);
  }

  private indexes(c: CollectionSpec): IndexSpec[] {
    const own = c.indexes ?? [];
    if (c.type !== 'collection') return own;
    // listIndexes lists a clustered collection's clustered index as { ..., unique: true, clustered: true }.
    const clustered = c.options?.clusteredIndex as Document | undefined;
    const id = clustered ? { name: String(clustered.name), key: clustered.key as Document, unique: true, clustered: true } : this.idIndex(c);
    const { v: _v, ...idSpec } = id as Document;
    return [idSpec as IndexSpec, ...own];
  }

  /** The _id index of a collection, with the collection's collation when it has one. */
  private idIndex(c: CollectionSpec): Document {
    const collation = c.options?.collation as Document | undefined;
    return { v: 2, key: { _id: 1 }, name: '_id_', ...(collation ? { collation } : {}) };
  }

  private listIndexes(conn: Conn, cmd: Document, db: string): Document {
    const name = String(cmd.listIndexes);
    if (!this.grants(conn).can('listIndexes', db, name)) throw this.unauthorized(db, cmd);
    const c = this.collection(db, name);
    if (!c) throw new CommandError(26, 'NamespaceNotFound', `ns does not exist: ${db}.${name}`);
    if (c.type === 'view') throw new CommandError(166, 'CommandNotSupportedOnView', `Namespace ${db}.${name} is a view, not a collection`);
    const docs = this.indexes(c).map((i) => ({ v: 2, ...i }));
    return this.cursorReply(`${db}.${name}`, docs, cmd);
  }

  /** The documents of a collection, or of a view evaluated over its source. */
  private documents(db: string, name: string, depth = 0): Document[] {
    const c = this.collection(db, name);
    if (!c) return [];
    if (c.type !== 'view') return c.documents ?? [];
    if (depth > 10) throw new CommandError(43, 'ViewDepthLimitExceeded', 'View depth too deep');
    const source = this.documents(db, String(c.options?.viewOn), depth + 1);
    return runPipeline(source, (c.options?.pipeline as Document[]) ?? [], `${db}.${name}`);
  }

  private count(conn: Conn, cmd: Document, db: string): Document {
    const name = String(cmd.count);
    if (!this.grants(conn).can('find', db, name)) throw this.unauthorized(db, cmd);
    const docs = this.documents(db, name).filter((d) => matches(d, cmd.query as Document | undefined));
    return { n: docs.length, ok: 1 };
  }

  private async aggregate(conn: Conn, cmd: Document, db: string): Promise<Document> {
    const pipeline = (cmd.pipeline as Document[]) ?? [];
    if (cmd.aggregate === 1 || cmd.aggregate === 1.0) {
      const first = pipeline[0] ?? {};
      if (!('$currentOp' in first) || db !== 'admin') {
        throw new CommandError(73, 'InvalidNamespace', `{aggregate: 1} is not valid for '${Object.keys(first)[0] ?? ''}' on ${db}`);
      }
      if (!this.grants(conn).can('inprog')) throw this.unauthorized(db, cmd);
      const spec = first.$currentOp as Document;
      // One entry per connection running a command (with the command), and per idle one when asked.
      const ops = [...this.conns.values()]
        .filter((c) => spec.idleConnections || c.running !== undefined)
        .map((c) => ({
          type: 'op',
          desc: `conn${c.id}`,
          connectionId: c.id,
          client: c.client,
          appName: c.appName ?? '',
          clientMetadata: c.clientMetadata ?? {},
          active: c.running !== undefined,
          ...(c.running ? { command: c.running } : {}),
          effectiveUsers: c.user ? [{ user: c.user.user, db: c.user.db }] : [],
        }));
      return this.cursorReply('admin.$cmd.aggregate', runPipeline(ops, pipeline.slice(1), 'currentOp'), cmd);
    }
    const name = String(cmd.aggregate);
    if (!this.grants(conn).can('find', db, name)) throw this.unauthorized(db, cmd);
    const sampleSize = Number((pipeline[0]?.$sample as Document | undefined)?.size);
    await this.hold(conn, this.options.sampleDelays?.[sampleSize], cmd);
    const seed = this.options.randomSample ? `${db}.${name}#${randomBytes(8).toString('hex')}` : `${db}.${name}`;
    const docs = runPipeline(this.documents(db, name), pipeline, seed);
    return this.cursorReply(`${db}.${name}`, docs, cmd);
  }

  /**
   * `find` as a server answers it: `filter`, `sort`, `skip`, `limit` (the cursor ends when
   * it is reached), `projection` (inclusion, exclusion, expressions as in `$project`),
   * `batchSize` and `singleBatch`; on a view, over the view's documents. Generic fields
   * (`comment`, `maxTimeMS`, `readConcern`, `lsid`) are accepted; `maxTimeMS` is honoured by
   * the `findDelays` hook only. A missing collection gives an empty cursor.
   */
  private async find(conn: Conn, cmd: Document, db: string): Promise<Document> {
    const name = String(cmd.find);
    const ns = `${db}.${name}`;
    if (!this.grants(conn).can('find', db, name)) throw this.unauthorized(db, cmd);
    for (const field of ['skip', 'limit', 'batchSize'] as const) {
      if (cmd[field] !== undefined && (!Number.isInteger(Number(cmd[field])) || Number(cmd[field]) < 0)) {
        throw new CommandError(51024, 'Location51024', `BSON field '${field}' value must be >= 0, actual value '${String(cmd[field])}'`);
      }
    }
    await this.hold(conn, this.options.findDelays?.[ns], cmd);
    const stages: Document[] = [{ $match: (cmd.filter as Document | undefined) ?? {} }];
    if (cmd.sort && Object.keys(cmd.sort as Document).length > 0) stages.push({ $sort: cmd.sort });
    if (cmd.skip) stages.push({ $skip: Number(cmd.skip) });
    if (cmd.limit) stages.push({ $limit: Number(cmd.limit) });
    if (cmd.projection && Object.keys(cmd.projection as Document).length > 0) stages.push({ $project: cmd.projection });
    const docs = runPipeline(this.documents(db, name), stages, ns);
    return this.cursorReply(ns, docs, cmd, { batchSize: cmd.batchSize, singleBatch: cmd.singleBatch === true });
  }

  /**
   * A test hook's hold of `delayMs` (none when undefined): fails with MaxTimeMSExpired at
   * the command's `maxTimeMS` when that comes first, as a slow real server would; ends early
   * when the client closes the connection.
   */
  private async hold(conn: Conn, delayMs: number | undefined, cmd: Document): Promise<void> {
    if (delayMs === undefined) return;
    const limit = cmd.maxTimeMS === undefined || Number(cmd.maxTimeMS) === 0 ? Infinity : Number(cmd.maxTimeMS);
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        conn.socket.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(delayMs, limit));
      conn.socket.once('close', done);
    });
    if (limit < delayMs) throw new CommandError(50, 'MaxTimeMSExpired', 'operation exceeded time limit');
  }

  // ---- cursors ----

  /** The first batch of a cursor (the `cursor.batchSize` of a command, or `batchSize` of a find); the rest waits for getMore. */
  private cursorReply(
    ns: string,
    docs: Document[],
    cmd: Document,
    options: { batchSize?: unknown; singleBatch?: boolean } = { batchSize: (cmd.cursor as Document | undefined)?.batchSize },
  ): Document {
    const batchSize = options.batchSize === undefined ? FIRST_BATCH : Number(options.batchSize);
    const first = docs.slice(0, batchSize);
    const rest = docs.slice(batchSize);
    let id = Long.ZERO;
    if (rest.length > 0 && options.singleBatch !== true) {
      id = Long.fromNumber(this.nextCursorId++);
      this.cursors.set(id.toString(), { ns, docs: rest });
    }
    return { cursor: { firstBatch: first, id, ns }, ok: 1 };
  }

  private getMore(cmd: Document, db: string): Document {
    const id = String(cmd.getMore);
    const cursor = this.cursors.get(id);
    if (!cursor) throw new CommandError(43, 'CursorNotFound', `cursor id ${id} not found`);
    if (cursor.ns.split('.')[0] !== db) throw new CommandError(13, 'Unauthorized', `cursor ${id} belongs to another namespace`);
    const batchSize = Number(cmd.batchSize ?? Number.MAX_SAFE_INTEGER);
    const next = cursor.docs.splice(0, batchSize);
    let replyId = Long.fromString(id);
    if (cursor.docs.length === 0) {
      this.cursors.delete(id);
      replyId = Long.ZERO;
    }
    return { cursor: { nextBatch: next, id: replyId, ns: cursor.ns }, ok: 1 };
  }

  private killCursors(cmd: Document, _db: string): Document {
    const killed: Long[] = [];
    const notFound: Long[] = [];
    for (const id of (cmd.cursors as unknown[]) ?? []) {
      const key = String(id);
      if (this.cursors.delete(key)) killed.push(Long.fromString(key));
      else notFound.push(Long.fromString(key));
    }
    return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
  }
}

function payloadOf(cmd: Document): Uint8Array {
  const p = cmd.payload as Binary | Uint8Array | undefined;
  if (!p) return new Uint8Array();
  return p instanceof Binary ? p.buffer.subarray(0, p.position) : p;
}

/** A stable UUID for a namespace, as collection infos carry one. */
function uuidOf(ns: string): Binary {
  const bytes = Buffer.alloc(16);
  Buffer.from(ns).forEach((b, i) => (bytes[i % 16] ^= b));
  return new Binary(bytes, Binary.SUBTYPE_UUID);
}
