import { Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cell, PreviewTableRequest, PreviewTableResponse } from '@sourced/api';
import { eventually } from '../support/pg';
import { collect, expectFailure, richStatusOf, type TestDaemon } from '../support/testDaemon';

/**
 * The fixture every engine loads for the shared preview cases, in a database (or schema) of
 * the suite's own, as the engine's types write it:
 *
 * - `accounts`: `id`, `email`, `password_hash`, `ssn`, `api_token`, two rows (ACCOUNTS); the
 *   last three are masked by the daemon's default globs.
 * - `secrets`: `password`, `api_token` only, three rows (SQL engines: a table of masked columns).
 * - `many`: `id` 1..120 and `v` = 2 × `id` (MANY_ROWS rows).
 * - a table whose read the engine can hold (a gate, a sleeping view, a delayed find), for the
 *   cancellation case.
 *
 * MongoDB's key is `_id` (whole numbers stored as Int32), and its cells are JSON.
 */
export const ACCOUNTS = [
  { id: 1, email: 'a@example.com', password_hash: 'scrypt$never-read-hash-a', ssn: '078-05-1120', api_token: 'tok-never-read-1' },
  { id: 2, email: 'b@example.com', password_hash: 'scrypt$never-read-hash-b', ssn: '078-05-1121', api_token: 'tok-never-read-2' },
] as const;
/** The values of the masked columns of ACCOUNTS: none may appear in anything the daemon sends. */
export const MASKED_VALUES = ACCOUNTS.flatMap((a) => [a.password_hash, a.ssn, a.api_token]);
export const MANY_ROWS = 120;

export const MASKED: Cell = { value: { $case: 'masked', value: true } };

/** A read the engine holds on the server until the cancel, and how the test watches the server. */
export interface HeldRead {
  request: PreviewTableRequest;
  /** Runs before the call (PostgreSQL: closes the gate). */
  before?(): Promise<void>;
  /** The read is running on the server (a session waiting at the gate, a sleeping SELECT, a find the stand-in holds). */
  inFlight(): Promise<boolean>;
  /** The daemon's sessions (or connections) for the call, as the server counts them. */
  sessions(): Promise<number>;
  /** The header goes out before the read starts: the cancelled call has sent it and nothing else. */
  headerFirst: boolean;
  /** A real server may answer before the cancel arrives (the call may end normally). */
  mayFinishFirst?: boolean;
  /** Checks after the cancel (MongoDB's stand-in: no cursor left open). */
  after?(): Promise<void>;
  /** Runs after the case, whatever happened (PostgreSQL: opens the gate again). */
  cleanup?(): Promise<void>;
}

/**
 * What the shared preview cases need of one connector: its daemon and fixture (started by
 * `setup`), requests for the fixture's tables, how its cells write the fixture's values, and
 * the engine's own words where they differ (the unknown-column message, the tables that are
 * not found).
 */
export interface PreviewEngine {
  /** Shown in the suite's name. */
  label: string;
  /** Loads the fixture (in a database or schema of its own) and starts a daemon with the engine's plugin. */
  setup(): Promise<void>;
  teardown(): Promise<void>;
  daemon(): TestDaemon;
  /** A request for a table of the fixture. */
  request(name: string, over?: Partial<PreviewTableRequest>): PreviewTableRequest;
  /** The key column: `id` (MongoDB `_id`). */
  key: string;
  /** The `dataType` the header gives the key and `email`. */
  types: { key: string; email: string };
  integer(n: number): Cell;
  text(s: string): Cell;
  /** No columns asked means every column, one cell each (SQL); MongoDB gives whole documents instead. */
  wholeRows: boolean;
  /** The daemon's `preview.maxRows`. */
  maxRows: number;
  /** Column names the engine refuses, asked as columns[1], with the description of the bad request. */
  badColumns: [name: string, description: unknown][];
  /** Runs before a refused column (MongoDB: forgets the commands seen so far). */
  beforeBadColumn?(): Promise<void>;
  /** Runs after a refused column (MongoDB's stand-in: nothing was read). */
  afterBadColumn?(): Promise<void>;
  /**
   * Tables that are not there or not visible, each NOT_FOUND with TABLE_NOT_FOUND, with the
   * request fields of the case (MongoDB: a data source naming no database, so the table is in scope).
   */
  missingTables: [label: string, table: { schema: string; name: string }, over?: () => Partial<PreviewTableRequest>][];
  /** The error names the table asked for in its metadata (schema, name). */
  missingNamesTable?: boolean;
  /** Runs after each missing-table case (a name with SQL in it dropped nothing). */
  afterMissing?(): Promise<void>;
  held(): HeldRead;
}

interface Preview {
  events: PreviewTableResponse[];
  kinds: (string | undefined)[];
  header: Extract<NonNullable<PreviewTableResponse['event']>, { $case: 'header' }>['value'] | undefined;
  rows: Cell[][];
  summary: Extract<NonNullable<PreviewTableResponse['event']>, { $case: 'summary' }>['value'] | undefined;
}

function previewOf(events: PreviewTableResponse[]): Preview {
  return {
    events,
    kinds: events.map((e) => e.event?.$case),
    header: events.flatMap((e) => (e.event?.$case === 'header' ? [e.event.value] : []))[0],
    rows: events.flatMap((e) => (e.event?.$case === 'rows' ? e.event.value.rows.map((r) => r.cells) : [])),
    summary: events.flatMap((e) => (e.event?.$case === 'summary' ? [e.event.value] : []))[0],
  };
}

/**
 * Registers the PreviewTable cases every connector shares (call inside a describe): masking,
 * chosen columns, bad columns, tables that are not found, the row limit and its bound, and a
 * cancel that frees every session. What is particular to one engine's types, statements and
 * failover stays in postgres.preview, mysql.preview and mongodb.preview.test.ts.
 */
export function previewBehaviour(engine: PreviewEngine): void {
  beforeAll(() => engine.setup(), 120_000);
  afterAll(() => engine.teardown());

  const stream = (req: PreviewTableRequest): ClientReadableStream<PreviewTableResponse> =>
    engine.daemon().dataSources.previewTable(req, new Metadata(), { deadline: Date.now() + 25_000 });
  const preview = async (name: string, over: Partial<PreviewTableRequest> = {}): Promise<Preview> => {
    const events = await collect(stream(engine.request(name, over)));
    expect(events.map((e) => Number(e.sequence))).toEqual(events.map((_e, i) => i + 1));
    return previewOf(events);
  };
  const failure = (name: string, over: Partial<PreviewTableRequest> = {}) => expectFailure(collect(stream(engine.request(name, over))));
  const { integer, text } = engine;
  const account = (a: (typeof ACCOUNTS)[number]) => [integer(a.id), text(a.email), MASKED, MASKED, MASKED];
  const accountColumns = () => [engine.key, 'email', 'password_hash', 'ssn', 'api_token'];

  describe('masking', () => {
    /** Columns the default globs name are flagged, their cells masked, listed in the summary, and their values never leave the daemon. */
    it('masks password, ssn and token columns asked for, and sends none of their values', async () => {
      const p = await preview('accounts', { columns: accountColumns() });
      expect(p.header?.columns.map((c) => [c.name, c.masked])).toEqual([
        [engine.key, false],
        ['email', false],
        ['password_hash', true],
        ['ssn', true],
        ['api_token', true],
      ]);
      expect(p.rows).toEqual(ACCOUNTS.map(account));
      expect(p.summary).toMatchObject({ rows: 2, truncated: false, limit: 50, maskedColumns: ['password_hash', 'ssn', 'api_token'] });
      const sent = JSON.stringify(p.events);
      for (const value of MASKED_VALUES) expect(sent).not.toContain(value);
    });

    it.runIf(engine.wholeRows)('masks them the same when no column is asked (every column)', async () => {
      const p = await preview('accounts');
      expect(p.header?.columns.map((c) => [c.name, c.masked])).toEqual(accountColumns().map((name, i) => [name, i >= 2]));
      expect(p.rows).toEqual(ACCOUNTS.map(account));
      expect(p.summary?.maskedColumns).toEqual(['password_hash', 'ssn', 'api_token']);
    });

    it('keeps a masked column masked wherever it is asked', async () => {
      const p = await preview('accounts', { columns: ['password_hash', 'email'] });
      expect(p.rows[0]).toEqual([MASKED, text('a@example.com')]);
    });

    /** Every column asked is masked: rows of masked cells only, and the count (and truncation) still right. */
    it('counts rows when every column asked for is masked', async () => {
      const p = await preview('accounts', { columns: ['ssn'], limit: 1 });
      expect(p.rows).toEqual([[MASKED]]);
      expect(p.summary).toMatchObject({ rows: 1, truncated: true, limit: 1, maskedColumns: ['ssn'] });
      const all = await preview('accounts', { columns: ['ssn'] });
      expect(all.rows).toEqual([[MASKED], [MASKED]]);
      expect(all.summary).toMatchObject({ rows: 2, truncated: false });
    });

    /** A table of masked columns only, no column asked: the statement reads no column, each row has only masked cells. */
    it.runIf(engine.wholeRows)('reads rows of no columns when every column of the table is masked', async () => {
      const p = await preview('secrets');
      expect(p.header?.columns.map((c) => c.masked)).toEqual([true, true]);
      expect(p.rows).toEqual(Array(3).fill([MASKED, MASKED]));
      expect(p.summary).toMatchObject({ rows: 3, truncated: false });
    });
  });

  it('reads the columns asked for, in the order asked', async () => {
    const p = await preview('accounts', { columns: ['email', engine.key], limit: 1 });
    expect(p.header?.columns.map((c) => [c.name, c.dataType])).toEqual([
      ['email', engine.types.email],
      [engine.key, engine.types.key],
    ]);
    expect(p.rows).toEqual([[text('a@example.com'), integer(1)]]);
    expect(p.summary).toMatchObject({ rows: 1, truncated: true, limit: 1 });
  });

  /** A column the engine refuses is bad input naming columns[i], before anything is read. */
  it.each(engine.badColumns)('fails INVALID_ARGUMENT naming columns[1] for the column %j', async (bad, description) => {
    await engine.beforeBadColumn?.();
    const error = await failure('accounts', { columns: [engine.key, bad] });
    expect(error.code).toBe(3);
    const status = richStatusOf(error);
    expect(status.errorInfo?.reason).toBe('INVALID_REQUEST');
    expect(status.badRequest).toEqual([{ field: 'columns[1]', description }]);
    await engine.afterBadColumn?.();
  });

  /** A table that is not there, or that the account may not see, is NOT_FOUND; names are exact, and SQL in a name is only a name. */
  it.each(engine.missingTables)('fails NOT_FOUND with TABLE_NOT_FOUND for %s', async (_label, table, over) => {
    const error = await failure(table.name, { ...over?.(), table });
    expect(error.code).toBe(5);
    const status = richStatusOf(error);
    expect(status.errorInfo?.reason).toBe('TABLE_NOT_FOUND');
    if (engine.missingNamesTable) expect(status.errorInfo?.metadata).toMatchObject(table);
    await engine.afterMissing?.();
  });

  describe('row limit', () => {
    const keys = (p: Preview) => p.rows.map((r) => r[0]);
    const cols = () => ({ columns: [engine.key, 'v'] });
    it('is 50 by default, in key order, and says the table has more', async () => {
      const p = await preview('many', cols());
      expect(keys(p)).toEqual(Array.from({ length: 50 }, (_x, i) => integer(i + 1)));
      expect(p.summary).toMatchObject({ rows: 50, truncated: true, limit: 50 });
      expect(p.kinds).toEqual(['header', 'rows', 'summary']);
    });
    it('reads exactly the table when asked for all its rows, in batches of 100', async () => {
      const p = await preview('many', { ...cols(), limit: MANY_ROWS });
      expect(p.rows).toHaveLength(MANY_ROWS);
      expect(p.rows[MANY_ROWS - 1]).toEqual([integer(MANY_ROWS), integer(2 * MANY_ROWS)]);
      expect(p.summary).toMatchObject({ rows: MANY_ROWS, truncated: false, limit: MANY_ROWS });
      expect(p.kinds).toEqual(['header', 'rows', 'rows', 'summary']);
    });
    it('is truncated one row short of the table', async () => {
      expect((await preview('many', { ...cols(), limit: MANY_ROWS - 1 })).summary).toMatchObject({
        rows: MANY_ROWS - 1,
        truncated: true,
        limit: MANY_ROWS - 1,
      });
    });
    it('accepts preview.maxRows and refuses more, naming limit', async () => {
      expect((await preview('many', { ...cols(), limit: engine.maxRows })).summary).toMatchObject({ rows: MANY_ROWS, truncated: false, limit: engine.maxRows });
      const error = await failure('many', { ...cols(), limit: engine.maxRows + 1 });
      expect(error.code).toBe(3);
      expect(richStatusOf(error).badRequest?.map((v) => v.field)).toEqual(['limit']);
    });
  });

  /** The client cancels while the read runs on the server: the call ends CANCELLED and the daemon's sessions close. */
  it('cancelling mid-read ends the call CANCELLED and closes every session', async () => {
    const held = engine.held();
    try {
      await held.before?.();
      const call = stream(held.request);
      const seen: (string | undefined)[] = [];
      const ended = new Promise<string>((done) => {
        call.on('data', (e: PreviewTableResponse) => seen.push(e.event?.$case));
        call.on('error', (e: { code: number }) => done(`error ${e.code}`));
        call.on('end', () => done('end'));
      });
      expect(await eventually(() => held.inFlight(), Boolean, 10_000)).toBe(true);
      if (held.headerFirst) {
        // the header was sent before the read started; wait until it has arrived here too
        await eventually(
          async () => seen.length,
          (n) => n > 0,
        );
      }
      call.cancel();
      if (held.mayFinishFirst) expect(['error 1', 'end']).toContain(await ended);
      else expect(await ended).toBe('error 1'); // CANCELLED
      if (held.headerFirst) expect(seen).toEqual(['header']);
      expect(
        await eventually(
          () => held.sessions(),
          (n) => n === 0,
          10_000,
        ),
      ).toBe(0);
      await held.after?.();
    } finally {
      await held.cleanup?.();
    }
  });
}
