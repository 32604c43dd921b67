/**
 * A connector over in-memory "servers", declared with our own `defineConnector`, for the unit
 * tests of the engines and core's services. It is a fake of our capability interfaces, not of
 * a driver: each fake server holds a catalog of tables (schema, name, rows) and can be taken
 * down or brought back; a connection to a server that went down fails its next read with a
 * connection error, as a driver's would.
 */
import { trace } from '@opentelemetry/api';
import {
  defineConnector,
  noopLogger,
  normalizeDataSource,
  passed,
  failed,
  type Cell,
  type ConnectionArgs,
  type ConnectorContext,
  type ConnectorDefinition,
  type DataSource,
  type DataSourceInput,
  type RelationEntity,
  type RelationKey,
} from '../src';

/** One table of a fake server. */
export interface FakeTable {
  schema: string;
  name: string;
  columns: { name: string; type: string }[];
  rows: Cell[][];
}

/** A fake database server at one host. */
export class FakeServer {
  up = true;
  /** Connections opened to it, in order. */
  readonly opened: FakeConnection[] = [];
  /** Reads of relation pages served, in order (the `after` cursor of each, `''` from the start). */
  readonly pageReads: string[] = [];
  /** The next page each read named (`RelationPage.next`), in the order of {@link pageReads}. */
  readonly pageNext: ({ limit: number } | undefined)[] = [];
  /** Called before each page read is served (for example to take the server down mid-run); a promise holds the read until it settles. */
  beforePage?: (index: number) => void | Promise<void>;
  /** Called before each read of the schemas is served, as `beforePage`. */
  beforeSchemas?: () => void | Promise<void>;
  /** When set, every connection being opened waits for it (a slow connect). */
  holdOpens?: Promise<void>;
  /** The reads served, in the order they ended: `schemas`, `count`, `page <after>`. */
  readonly served: string[] = [];
  constructor(
    readonly host: string,
    readonly tables: FakeTable[],
  ) {}
  /** Connections still open. */
  get openConnections(): number {
    return this.opened.filter((c) => !c.closed).length;
  }
}

/** A connection to a fake server. */
export interface FakeConnection {
  server: FakeServer;
  args: ConnectionArgs;
  closed: boolean;
}

/** What a fake connection throws when its server is gone: a connection error. */
export class FakeConnectionLost extends Error {
  readonly code = 'ECONNRESET';
}

function alive(conn: FakeConnection): FakeServer {
  if (conn.closed) throw new FakeConnectionLost('connection closed');
  if (!conn.server.up) throw new FakeConnectionLost(`${conn.server.host} went away`);
  return conn.server;
}

const key = (t: { schema: string; name: string }) => `${t.schema}.${t.name}`;
const after = (t: RelationKey, cursor?: RelationKey) => !cursor || t.schema > cursor.schema || (t.schema === cursor.schema && t.name > cursor.name);
const ordered = (tables: FakeTable[]) => [...tables].sort((a, b) => (a.schema === b.schema ? (a.name < b.name ? -1 : 1) : a.schema < b.schema ? -1 : 1));

function relation(t: FakeTable): RelationEntity {
  return {
    entity: 'relation',
    schema: t.schema,
    name: t.name,
    kind: 'TABLE',
    columns: t.columns.map((c, i) => ({ name: c.name, ordinal: i + 1, dataType: c.type, nullable: true })),
    uniqueConstraints: [],
    foreignKeys: [],
    indexes: [],
    estimatedRows: t.rows.length,
  } as unknown as RelationEntity;
}

/** The fake connector: every capability, over the servers given by host. */
export function fakeConnector(servers: Map<string, FakeServer>, options: { withChecks?: boolean; readsAhead?: boolean } = {}): ConnectorDefinition {
  return defineConnector<FakeConnection>({
    type: 'fake',
    displayName: 'Fake',
    defaultPort: 7000,
    sessions: {
      async open(args) {
        const server = servers.get(args.host);
        if (!server?.up) throw new FakeConnectionLost(`connect ECONNREFUSED ${args.host}:${args.port}`);
        const conn = { server, args, closed: false };
        server.opened.push(conn);
        return conn;
      },
      async close(conn) {
        conn.closed = true;
      },
      isConnectionError: (error) => error instanceof FakeConnectionLost,
    },
    catalog: {
      async listSchemas(conn, filter) {
        await alive(conn).beforeSchemas?.();
        const schemas = [...new Set(alive(conn).tables.map((t) => t.schema))].filter((s) => filter.schemaMatches(s)).sort();
        conn.server.served.push('schemas');
        return schemas.map((name) => ({ name, usable: true }));
      },
      async listRelations(conn, page) {
        const server = alive(conn);
        const cursor = page.after ? key(page.after) : '';
        await server.beforePage?.(server.pageReads.length);
        alive(conn);
        server.pageReads.push(cursor);
        server.pageNext.push(page.next);
        server.served.push(`page ${cursor}`);
        return ordered(server.tables)
          .filter((t) => after(t, page.after) && page.filter.schemaMatches(t.schema) && page.filter.relationMatches(t.schema, t.name))
          .slice(0, page.limit)
          .map(relation);
      },
      ...(options.readsAhead ? { readsAhead: true } : {}),
      async countEntities(conn, filter, cursor) {
        const n = alive(conn).tables.filter((t) => after(t, cursor) && filter.relationMatches(t.schema, t.name)).length;
        conn.server.served.push('count');
        return n;
      },
    },
    preview: {
      async previewColumns(conn, table, columns) {
        const t = alive(conn).tables.find((x) => x.schema === table.schema && x.name === table.name);
        if (!t) throw new Error(`no table ${key(table)}`);
        return columns.length === 0 ? t.columns : columns.map((c) => t.columns.find((x) => x.name === c) ?? { name: c, type: '?' });
      },
      async previewRows(conn, read) {
        const t = alive(conn).tables.find((x) => x.schema === read.table.schema && x.name === read.table.name)!;
        const index = read.columns.map((c) => t.columns.findIndex((x) => x.name === c.name));
        return t.rows.slice(0, read.limit).map((row) => index.map((i) => row[i]!));
      },
      isSystemTable: (table) => table.schema === 'sys',
      credentialColumns: (table) => (table.name === 'users' ? ['pw_hash'] : []),
    },
    profile: {
      async *profileTable(conn, read) {
        const t = alive(conn).tables.find((x) => x.schema === read.table.schema && x.name === read.table.name)!;
        yield { kind: 'table', table: { rowCount: t.rows.length, rowCountExact: true, sampleRows: 0, source: 'fake' } };
        for (const c of read.columns) {
          alive(conn);
          const i = t.columns.findIndex((x) => x.name === c.name);
          const values = t.rows.map((r) => r[i]!);
          const nulls = values.filter((v) => v.kind === 'null').length;
          const masked = read.isMasked(c.name, c.type);
          yield {
            kind: 'column',
            column: {
              name: c.name,
              type: c.type,
              nullFraction: nulls / values.length,
              distinctCount: new Set(values.map((v) => JSON.stringify(v))).size,
              distinctExact: true,
              min: masked ? undefined : values[0],
              mostCommon: [],
              histogram: [],
              types: [],
            },
          };
        }
      },
    },
    ...(options.withChecks === false
      ? {}
      : {
          checks: (call, role) => ({
            createState: () => ({}),
            checks: [
              {
                id: 'reach',
                title: 'Reach the server',
                async run() {
                  const args = await call.connectionArgs(role, new AbortController().signal);
                  const server = servers.get(args.host);
                  return server?.up ? passed(`reached ${args.host}`) : failed(`${args.host} is down`, 'Start it');
                },
              },
              { id: 'read', title: 'Read', dependsOn: ['reach'], run: async () => passed('read') },
            ],
            cleanup: async () => undefined,
          }),
        }),
  });
}

const types = { resolve: (t: string) => (t === 'fake' ? t : undefined), known: () => ['fake'] };

/** A data source of the fake connector. */
export function fakeSource(input: Partial<DataSourceInput> = {}): DataSource {
  return normalizeDataSource({ type: 'fake', primary: { host: 'primary' }, sslConfig: { mode: 'disable' }, ...input } as DataSourceInput, types);
}

/** A HYBRID data source: `primary` and `secondary`. */
export function hybridSource(): DataSource {
  return fakeSource({ location: 'HYBRID', secondary: { host: 'secondary' } } as Partial<DataSourceInput>);
}

/** The context a host gives: no secrets to resolve (or the resolver given), no-op logger and tracer. */
export function fakeContext(overrides: Partial<ConnectorContext> = {}): ConnectorContext {
  return {
    secrets: { resolve: () => Promise.reject(new Error('no secrets in this test')) },
    logger: noopLogger,
    tracer: trace.getTracer('test'),
    applicationName: 'sourced-test',
    ...overrides,
  };
}

/** `n` tables `s{i % 2}.t{i}` (two schemas), each with an `id` and a `name` column and one row. */
export function tables(n: number): FakeTable[] {
  return Array.from({ length: n }, (_, i) => ({
    schema: `s${i % 2}`,
    name: `t${String(i).padStart(3, '0')}`,
    columns: [
      { name: 'id', type: 'int' },
      { name: 'name', type: 'text' },
    ],
    rows: [
      [
        { kind: 'integer', value: String(i) },
        { kind: 'text', value: `row ${i}` },
      ],
    ],
  }));
}

/** Collects an async iterable. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
