/**
 * The catalog reads of discovery: SQL and the mapping of its rows to core's entities.
 *
 * Everything is set-based: one query for the schemas; relation keys (oid, schema, name) in
 * byte order, read ten pages ahead in one keyset query; and per page one query each for the
 * relations, their columns, constraints and indexes (`oid = ANY($1)`), whatever the page
 * size. Key columns travel as attribute numbers and are named from the page's own columns.
 * Names and filters travel only as bind parameters. Needs PostgreSQL 12 or later
 * (attgenerated, pg_partition_tree). The SQL lives in catalogSql.ts, the rows and their
 * mapping to entities in catalogRows.ts; this file runs the reads and assembles the pages.
 */
import {
  AbortedError,
  SourcedError,
  UnavailableError,
  describeError,
  readSignalController,
  type CompiledFilter,
  type RelationEntity,
  type RelationKey,
  type RelationPage,
  type SchemaEntity,
} from '@sourced/core';
import { types as pgTypes, type Client, type CustomTypesConfig } from 'pg';
import { indexDictionary, NameQuoter, plainIndexDefinition, serverIndexDefinitions, type IndexDictionary, type IndexTableColumns } from './catalogIndexes';
import {
  toCheck,
  toColumn,
  toForeignKey,
  toIndex,
  toRelation,
  toTrigger,
  type ColumnRow,
  type ColumnTuple,
  type ConstraintRow,
  type IndexRow,
  type KeyRow,
  type RelationRow,
  type SchemaRow,
  type TriggerRow,
} from './catalogRows';
import {
  COLLATION_NAMES_SQL,
  COLUMNS_SQL,
  CONSTRAINTS_SQL,
  filterParams,
  indexesSql,
  KEYS_COUNTED_SQL,
  KEYS_SQL,
  likePatterns,
  RELATIONS_SQL,
  SCHEMAS_SQL,
  TRIGGERS_SQL,
} from './catalogSql';
import { isConnectionError, sqlState } from './pgErrors';
import { query } from './query';

/** Array types whose catalog values are plain integer lists: int2[] (1005), int4[] (1007), oid[] (1028). */
const INTEGER_ARRAYS = new Set([1005, 1007, 1028]);

/**
 * `{1,2,3}` (or `[0:2]={1,2,3}`) as numbers (a NULL element as null), for the catalog's one-dimensional arrays of integers
 * (attribute numbers, operator classes, collations, options); the driver's generic array
 * parser was about 5% of the daemon's time in a 10,000-table discovery (issue 18).
 */
function integerList(text: string): (number | null)[] {
  // An array cast from int2vector/oidvector keeps their lower bound 0: "[0:1]={1,2}".
  let i = text.charCodeAt(0) === 91 /* [ */ ? text.indexOf('=') + 2 : 1;
  const end = text.length - 1;
  if (i >= end) return [];
  let count = 1;
  for (let k = i; k < end; k++) if (text.charCodeAt(k) === 44 /* , */) count++;
  const out = new Array<number | null>(count);
  for (let e = 0; e < count; e++) {
    let j = text.indexOf(',', i);
    if (j === -1) j = end;
    if (text.charCodeAt(i) === 78 /* N */) out[e] = null;
    else {
      let n = 0;
      let negative = false;
      for (let k = i; k < j; k++) {
        const c = text.charCodeAt(k);
        if (c === 45 /* - */) negative = true;
        else n = n * 10 + (c - 48);
      }
      out[e] = negative ? -n : n;
    }
    i = j + 1;
  }
  return out;
}

/**
 * Oids (decimal text) as one `oid[]` literal, `{1,2,3}`: the driver would quote and escape
 * every element of a JS array one string at a time (issue 18: 9 MB of garbage per 10,000
 * tables for four queries a page).
 */
function oidList(oids: readonly string[]): string {
  return `{${oids.join(',')}}`;
}

/** The driver's parser for a type (its declared TypeId enum is narrower than the oids it takes). */
const driverParser = pgTypes.getTypeParser.bind(pgTypes) as unknown as (oid: number, format?: 'text' | 'binary') => (text: string) => unknown;

/** The catalog reads' value parsers: the driver's, with {@link integerList} for integer arrays in text form. */
const CATALOG_TYPES: CustomTypesConfig = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') => (INTEGER_ARRAYS.has(oid) && format !== 'binary' ? integerList : driverParser(oid, format)),
};

/** Used by the privilege checks (checks.ts). */
export { USER_SCHEMA_SQL } from './catalogSql';

/** Schemas that pass the filter, in byte order of their names, each with whether the user may use it. */
export async function readSchemas(client: Client, filter: CompiledFilter, signal: AbortSignal): Promise<SchemaEntity[]> {
  const rows = await readCatalog('schemas', () =>
    query<SchemaRow>(
      client,
      SCHEMAS_SQL,
      [filter.includeSystemSchemas, likePatterns(filter.globs.includeSchemas), likePatterns(filter.globs.excludeSchemas)],
      signal,
    ),
  );
  return rows.map((r) => ({ name: r.name, owner: r.owner ?? undefined, comment: r.comment ?? undefined, usable: r.usable }));
}

/** The size of the window a count reads with it ({@link KeyWindow.count}): two first pages of AGGRESSIVE or BALANCED. */
const COUNTED_WINDOW = 200;

/**
 * Keys fetched per window: the first window two pages' worth (the first page comes quickly),
 * each next one four times the last, at most {@link MAX_WINDOW} keys. Every window's query
 * scans the relations after the cursor once, so growing windows make a run over N relations
 * cost a handful of scans instead of N / (10 pages) of them (issue 18: with 100-relation
 * pages, 50,000 relations took 50 scans of pg_class).
 */
const FIRST_WINDOW_PAGES = 2;
const WINDOW_GROWTH = 4;
const MAX_WINDOW = 50_000;

/**
 * The keys of the relations after a cursor, read ahead of the pages in growing windows (names
 * only: about 100 bytes a key, so at most ~5 MB whatever the catalog). A page takes its keys from
 * the window when it continues where the last page ended on the same connection; anything
 * else (a resumed cursor, a failover to another server, where oids differ) reads a new
 * window. A relation created inside a window after it was read is not seen, as one created
 * behind the cursor is not: discovery is not a snapshot.
 *
 * A count ({@link count}) reads the first window with it, in one scan; the page that starts
 * where the count did, on the same connection and filter, takes that window (discovery asks
 * for the count and the first page at once).
 */
export class KeyWindow {
  private keys: KeyRow[] = [];
  private next = 0;
  /** True when the last read returned fewer keys than asked: nothing lies beyond the window. */
  private final = false;
  private client?: Client;
  private last?: RelationKey;
  /** The size of the last window read (0: none yet on this run). */
  private size = 0;
  /** The window a count read (or is reading), until a page takes it. */
  private counted?: { client: Client; filter: CompiledFilter; after: RelationKey | undefined; size: number; read: Promise<KeyRow[]> };
  /** The next page's source reads, started while the last page was mapped ({@link startAhead}). */
  private ahead?: PageAhead;
  /** Bumped when reads ahead are dropped without waiting for them: their key reads then leave the window alone. */
  private epoch = 0;

  /**
   * Starts the source reads of the page after the one just read (`page`: its filter, the key
   * it starts after, its size), on the same connections, under a signal of its own: its keys
   * from this window, then {@link fetchRelations}. The call for that page takes them
   * ({@link takeAhead}); another call on the same connection waits for them to end and reads
   * its own, one on another connection (after a failover) does not wait. A run that ends
   * without asking lets them end with its connections.
   */
  startAhead(client: Client, page: RelationPage, parallel: readonly Client[]): void {
    const controller = readSignalController();
    const keys = this.take(client, page, controller.signal);
    const read = keys.then((k) => (k.length === 0 ? undefined : fetchRelations(client, k, controller.signal, parallel)));
    keys.catch(() => undefined); // taken by the next call, or dropped
    read.catch(() => undefined);
    this.ahead = { client, filter: page.filter, after: page.after, limit: page.limit, keys, read, controller };
  }

  /**
   * The source reads started ahead for `page` when they are its (same connection, filter,
   * cursor and size), followed by the call's signal while they finish; undefined otherwise.
   * Reads ahead on the same connection are let run out first, not cancelled (cancelling a
   * running statement closes its connection, see query.ts), so the window is never read by two
   * pages at once; reads ahead on another connection (a failover) are not waited for, and
   * their key reads no longer touch the window.
   */
  async takeAhead(client: Client, page: RelationPage, signal: AbortSignal): Promise<{ keys: KeyRow[]; fetched: FetchedRelations | undefined } | undefined> {
    const ahead = this.ahead;
    if (!ahead) return undefined;
    this.ahead = undefined;
    if (ahead.client !== client) {
      // Another connection: a failover left the one they run on (perhaps to a server that no
      // longer answers). They are not waited for; their keys, if still being read, are dropped.
      this.epoch += 1;
      return undefined;
    }
    if (ahead.filter !== page.filter || !sameKey(ahead.after, page.after) || ahead.limit !== page.limit) {
      await ahead.read.catch(() => undefined);
      return undefined;
    }
    const follow = () => ahead.controller.abort(signal.reason);
    if (signal.aborted) follow();
    else signal.addEventListener('abort', follow, { once: true });
    try {
      return { keys: await ahead.keys, fetched: await ahead.read };
    } finally {
      signal.removeEventListener('abort', follow);
    }
  }

  /**
   * How many relations pass the filter after `after`: read with the first window of keys
   * after it ({@link KEYS_COUNTED_SQL}), kept for the page that starts there.
   */
  async count(client: Client, filter: CompiledFilter, after: RelationKey | undefined, signal: AbortSignal): Promise<number> {
    const size = COUNTED_WINDOW;
    const read = readCatalog('relation count', () =>
      query<KeyRow & { total: string }>(client, KEYS_COUNTED_SQL, [...filterParams(filter, after), size], signal),
    );
    this.counted = { client, filter, after, size, read };
    const rows = await read;
    return Number(rows[0]?.total ?? 0);
  }

  /** The keys of the next page: up to `limit`, fewer only at the end of the catalog. */
  async take(client: Client, page: RelationPage, signal: AbortSignal): Promise<KeyRow[]> {
    // A read ahead that was dropped while it waited leaves the window alone (see takeAhead).
    const epoch = this.epoch;
    const current = () => {
      if (epoch !== this.epoch) throw new AbortedError('the page read ahead was dropped');
    };
    if (client !== this.client || !sameKey(page.after, this.last)) {
      this.keys = [];
      this.next = 0;
      this.final = false;
      this.client = client;
      this.size = 0;
      const counted = this.counted;
      this.counted = undefined;
      if (counted?.client === client && counted.filter === page.filter && sameKey(counted.after, page.after)) {
        // The count's window, unless the count failed: then the page reads its own.
        const keys = await counted.read.catch(() => undefined);
        current();
        if (keys) {
          this.keys = keys;
          this.final = keys.length < counted.size;
          this.size = counted.size;
        }
      }
    }
    const out: KeyRow[] = [];
    let after = page.after;
    while (out.length < page.limit) {
      if (this.next >= this.keys.length) {
        if (this.final) break;
        const size = Math.min(MAX_WINDOW, this.size === 0 ? page.limit * FIRST_WINDOW_PAGES : Math.max(page.limit, this.size * WINDOW_GROWTH));
        this.size = size;
        const from = after;
        const read = await readCatalog('relations', () => query<KeyRow>(client, KEYS_SQL, [...filterParams(page.filter, from), size], signal));
        current();
        this.keys = read;
        this.next = 0;
        this.final = this.keys.length < size;
        if (this.keys.length === 0) break;
      }
      const taken = this.keys.slice(this.next, this.next + page.limit - out.length);
      this.next += taken.length;
      out.push(...taken);
      const last = taken[taken.length - 1];
      after = { schema: last.schema, name: last.name };
    }
    this.last = after;
    return out;
  }
}

function sameKey(a: RelationKey | undefined, b: RelationKey | undefined): boolean {
  return a === undefined ? b === undefined : b !== undefined && a.schema === b.schema && a.name === b.name;
}

/**
 * One page of relations, each with its columns, keys and indexes: the page's keys (from
 * the window, one query per several pages), then four queries whatever the page size —
 * relations, columns, constraints, indexes by oid. Relations come in key order; one dropped
 * since its key was read is left out, and the page is topped up from the keys after it, so
 * a short page still means the end of the catalog. The three detail queries are
 * independent: with `parallel` connections they run at once, spread over the connections
 * (each on a session of its own, so no transaction spans them).
 */
export async function readRelations(
  client: Client,
  page: RelationPage,
  signal: AbortSignal,
  parallel: readonly Client[] = [],
  window: KeyWindow = new KeyWindow(),
): Promise<RelationEntity[]> {
  const out: RelationEntity[] = [];
  let after = page.after;
  let ahead = await window.takeAhead(client, page, signal);
  while (out.length < page.limit) {
    const want = page.limit - out.length;
    let keys: KeyRow[];
    let fetched: FetchedRelations | undefined;
    if (ahead) {
      ({ keys, fetched } = ahead);
      ahead = undefined;
    } else {
      keys = await window.take(client, { ...page, after, limit: want }, signal);
      fetched = keys.length === 0 ? undefined : await fetchRelations(client, keys, signal, parallel);
    }
    if (keys.length === 0 || !fetched) break;
    const last = keys[keys.length - 1];
    after = { schema: last.schema, name: last.name };
    // The page the engine asks for next starts its source reads now, while this one is mapped
    // and sent, when this one is full (nothing was dropped since its keys were read).
    if (page.next && keys.length === want && fetched.relations.length === keys.length) {
      window.startAhead(client, { ...page, after, limit: page.next.limit }, parallel);
    }
    out.push(...(await mapRelations(client, fetched, signal)));
    if (keys.length < want) break; // the end of the catalog
  }
  return out;
}

/**
 * A relation's live columns by attribute number: the parsed tuples themselves (no object per
 * column; a key column's name, type and collation are made on demand, for the few columns
 * that keys and indexes name).
 */
class ColumnsByNumber implements IndexTableColumns {
  private readonly tuples: ColumnTuple[] = [];

  add(t: ColumnTuple): void {
    this.tuples[t[0]] = t;
  }

  /** Sets the comment of column `attnum` (a comment of a dropped column is ignored). */
  comment(attnum: number, text: string): void {
    const t = this.tuples[attnum] as ColumnTuple | undefined;
    if (t) t[6] = text;
  }

  nameOf(attnum: number): string | undefined {
    return (this.tuples[attnum] as ColumnTuple | undefined)?.[1];
  }

  typeOf(attnum: number): number | undefined {
    return (this.tuples[attnum] as ColumnTuple | undefined)?.[12];
  }

  collationOf(attnum: number): number | undefined {
    return (this.tuples[attnum] as ColumnTuple | undefined)?.[13];
  }
}

/** A page's source reads started ahead ({@link KeyWindow.startAhead}). */
interface PageAhead {
  client: Client;
  filter: CompiledFilter;
  after: RelationKey | undefined;
  limit: number;
  /** Its keys, from the window (settled before `read` starts). */
  keys: Promise<KeyRow[]>;
  /** Its source reads; undefined when no keys were left. */
  read: Promise<FetchedRelations | undefined>;
  controller: AbortController;
}

/** What the source said of a page's relations, before they are mapped ({@link fetchRelations}, {@link mapRelations}). */
interface FetchedRelations {
  keys: KeyRow[];
  relations: RelationRow[];
  dictionary: IndexDictionary;
  columns: ColumnRow[];
  constraints: ConstraintRow[];
  indexes: IndexRow[];
  triggers: TriggerRow[];
}

/**
 * The source reads of the relations of `keys`: the relations and the index dictionary, then
 * four reads at once over the connections given: columns, constraints (keys, foreign keys,
 * checks, the constraint owning each index), indexes, and the triggers of the relations that
 * have any.
 */
async function fetchRelations(client: Client, keys: KeyRow[], signal: AbortSignal, parallel: readonly Client[]): Promise<FetchedRelations> {
  const oids = keys.map((k) => k.oid);
  const [relations, dictionary] = await Promise.all([
    readCatalog('relations', () => query<RelationRow>(client, RELATIONS_SQL, [oidList(oids)], signal)),
    readCatalog('index dictionary', () => indexDictionary(client, signal, parallel[0])),
  ]);
  if (relations.length === 0) return { keys, relations, dictionary, columns: [], constraints: [], indexes: [], triggers: [] };
  const present = oidList(relations.map((r) => r.oid));
  const withTriggers = relations.filter((r) => r.has_triggers).map((r) => r.oid);
  const indexesSql = indexesSqlFor(dictionary.version);
  const [columns, constraints, indexes, triggers] = await spread(client, parallel, [
    (c) => readCatalog('columns', () => query<ColumnRow>(c, COLUMNS_SQL, [present], signal)),
    (c) => readCatalog('constraints', () => query<ConstraintRow>(c, CONSTRAINTS_SQL, [present], signal, CATALOG_TYPES)),
    (c) => readCatalog('indexes', () => query<IndexRow>(c, indexesSql, [present], signal, CATALOG_TYPES)),
    (c) =>
      withTriggers.length === 0
        ? Promise.resolve([])
        : readCatalog('triggers', () => query<TriggerRow>(c, TRIGGERS_SQL, [oidList(withTriggers)], signal, CATALOG_TYPES)),
  ] as const);
  return { keys, relations, dictionary, columns, constraints, indexes, triggers };
}

/**
 * A page's source reads as entities, in the order of its keys. Index definitions are built
 * here for plain B-tree indexes and printed by the server for the rest (catalogIndexes.ts); a
 * B-tree key that turns out not to be plain costs one more query for the page.
 */
async function mapRelations(client: Client, fetched: FetchedRelations, signal: AbortSignal): Promise<RelationEntity[]> {
  const { keys, relations, dictionary, columns, constraints, indexes, triggers } = fetched;
  if (relations.length === 0) return [];
  const found = new Map(relations.map((r) => [r.oid, r]));
  const byOid = new Map<string, RelationEntity>();
  for (const k of keys) {
    const r = found.get(k.oid);
    if (r) byOid.set(r.oid, toRelation(r));
  }

  const columnsOf = new Map<string, ColumnsByNumber>();
  for (const c of columns) {
    const relation = byOid.get(c.relid);
    if (!relation) continue;
    const tuples = JSON.parse(c.columns) as ColumnTuple[];
    const byNumber = new ColumnsByNumber();
    for (const t of tuples) byNumber.add(t);
    if (c.comments !== null) for (const [attnum, text] of JSON.parse(c.comments) as Array<[number, string]>) byNumber.comment(attnum, text);
    relation.columns = tuples.map((t, i) => toColumn(t, i + 1));
    columnsOf.set(c.relid, byNumber);
  }
  // Key columns arrive as attribute numbers, named from the page's own columns.
  const nameOf = (relid: string, attnum: number): string => columnsOf.get(relid)?.nameOf(attnum) ?? `#${attnum}`;

  const constraintOfIndex = new Map<string, string>();
  for (const c of constraints) {
    const relation = byOid.get(c.relid);
    if (!relation) continue;
    if (c.type === 'p' || c.type === 'u' || c.type === 'x') constraintOfIndex.set(c.index_oid, c.name);
    if (c.type === 'x') continue;
    if (c.type === 'c') {
      (relation.checkConstraints ??= []).push(
        toCheck(
          c,
          [...c.keys].sort((a, b) => a - b).map((n) => nameOf(c.relid, n)),
        ),
      );
      continue;
    }
    const key = { name: c.name, columns: c.keys.map((n) => nameOf(c.relid, n)) };
    if (c.type === 'p') relation.primaryKey = key;
    else if (c.type === 'u') relation.uniqueConstraints.push(key);
    else relation.foreignKeys.push(toForeignKey(c, key.columns));
  }
  for (const t of triggers)
    byOid.get(t.relid)?.triggers?.push(
      toTrigger(
        t,
        t.update_columns.map((n) => nameOf(t.relid, n)),
      ),
    );

  await addIndexes(client, indexes, byOid, columnsOf, constraintOfIndex, dictionary, signal);
  return [...byOid.values()];
}

/** The indexes' entities, added to their relations: definitions built or asked for, per-key details named. */
async function addIndexes(
  client: Client,
  indexes: IndexRow[],
  byOid: Map<string, RelationEntity>,
  columnsOf: Map<string, ColumnsByNumber>,
  constraintOfIndex: Map<string, string>,
  dictionary: IndexDictionary,
  signal: AbortSignal,
): Promise<void> {
  const built = new Map<string, string>();
  const ask: string[] = [];
  const collationOids = new Set<number>();
  const names = new NameQuoter(dictionary);
  for (const i of indexes) {
    const relation = byOid.get(i.relid);
    if (!relation) continue;
    const byNumber = columnsOf.get(i.relid);
    if (i.definition === null) {
      const definition = byNumber && plainIndexDefinition(i, relation, byNumber, dictionary, names);
      if (definition === undefined) ask.push(i.oid);
      else built.set(i.oid, definition);
    }
    if (i.expression_collations === null) {
      for (let k = 0; k < i.key_count; k++) {
        const coll = i.collations[k] ?? 0;
        if (coll !== 0 && coll !== byNumber?.collationOf(i.keys[k])) collationOids.add(coll);
      }
    }
  }
  const [asked, collationNames] = await Promise.all([
    readCatalog('index definitions', () => serverIndexDefinitions(client, ask, signal)),
    collationOids.size === 0
      ? new Map<number, string>()
      : readCatalog('collations', () => query<{ oid: string; name: string }>(client, COLLATION_NAMES_SQL, [[...collationOids]], signal)).then(
          (rows) => new Map(rows.map((r) => [Number(r.oid), r.name])),
        ),
  ]);
  for (const i of indexes) {
    const relation = byOid.get(i.relid);
    if (!relation) continue;
    const byNumber = columnsOf.get(i.relid);
    const columns: string[] = new Array<string>(i.key_count);
    let collations: string[] | undefined = i.expression_collations ?? undefined;
    let operatorClasses: string[] | undefined;
    for (let k = 0; k < i.key_count; k++) {
      const n = i.keys[k];
      columns[k] = n === 0 ? (i.expressions?.[k] ?? '') : (byNumber?.nameOf(n) ?? `#${n}`);
      if (!i.expression_collations) {
        const coll = i.collations[k] ?? 0;
        if (coll !== 0 && coll !== byNumber?.collationOf(n)) (collations ??= new Array<string>(i.key_count).fill(''))[k] = collationNames.get(coll) ?? '';
      }
      const opclass = dictionary.opclasses.get(i.opclasses[k]);
      if (opclass && !opclass.isDefault) (operatorClasses ??= new Array<string>(i.key_count).fill(''))[k] = opclass.name;
    }
    const include = i.keys.length > i.key_count ? i.keys.slice(i.key_count).map((n) => byNumber?.nameOf(n) ?? `#${n}`) : NO_NAMES;
    relation.indexes.push(
      toIndex(i, {
        columns,
        include,
        definition: i.definition ?? built.get(i.oid) ?? asked.get(i.oid) ?? '',
        collations: collations && collations.some((v) => v !== '') ? collations : undefined,
        operatorClasses,
        constraintName: constraintOfIndex.get(i.oid),
      }),
    );
  }
}

/** No INCLUDE columns (shared; nothing writes to it). */
const NO_NAMES: string[] = [];

/** The indexes query for a server version (NULLS NOT DISTINCT from PostgreSQL 15 on). */
const INDEXES_SQL_BY_FEATURE = [indexesSql(false), indexesSql(true)] as const;
function indexesSqlFor(version: number): string {
  return INDEXES_SQL_BY_FEATURE[version >= 150000 ? 1 : 0];
}

/**
 * Runs independent reads over the connections: read i on connection i mod n, the reads of
 * one connection one after another (a pg client runs one query at a time), the connections
 * at once.
 */
async function spread<T extends readonly ((c: Client) => Promise<unknown>)[]>(
  client: Client,
  parallel: readonly Client[],
  reads: T,
): Promise<{ -readonly [K in keyof T]: Awaited<ReturnType<T[K]>> }> {
  const clients = [client, ...parallel];
  const results: unknown[] = new Array(reads.length);
  await Promise.all(
    clients.slice(0, reads.length).map(async (c, ci) => {
      for (let i = ci; i < reads.length; i += clients.length) results[i] = await reads[i](c);
    }),
  );
  return results as { -readonly [K in keyof T]: Awaited<ReturnType<T[K]>> };
}

/**
 * Runs one catalog read (here and in catalogSchemaObjects.ts) and turns its failure into a semantic error: `UnavailableError`
 * (CONNECTION_LOST) when the connection is gone, so the engine may fail over, else
 * CATALOG_READ_FAILED with the SQLSTATE. Cancellation passes through unchanged.
 */
export async function readCatalog<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof AbortedError) throw error;
    const state = sqlState(error);
    const metadata: Record<string, string> = { step: what };
    if (state) metadata.sqlstate = state;
    if (isConnectionError(error)) {
      throw new UnavailableError('CONNECTION_LOST', `the connection to PostgreSQL was lost while reading ${what}: ${describeError(error)}`, {
        cause: error,
        metadata,
      });
    }
    throw new SourcedError(
      'CATALOG_READ_FAILED',
      `reading ${what} from the PostgreSQL catalog failed: ${describeError(error)}${state ? ` (SQLSTATE ${state})` : ''}`,
      { cause: error, metadata },
    );
  }
}
