/**
 * ProfileTable for PostgreSQL.
 *
 * Both modes run in one `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY` transaction whose
 * `SET LOCAL` settings are the preview's (TimeZone UTC, DateStyle ISO, bytea_output hex,
 * extra_float_digits 3), so every value comes back in the text form the preview's
 * {@link renderCell} parses; the snapshot is the same for every statement, so SAMPLE's
 * per-column queries see the same sample. The table is looked up by exact schema
 * and name in pg_class (with reltuples and relpages), its columns in pg_attribute (the
 * preview's catalog query), and only catalog names reach the SQL, quoted with
 * {@link quoteIdent}.
 *
 * STATISTICS (profileStatistics.ts) reads only the catalog: pg_stats, nothing of the table.
 * SAMPLE (profileSample.ts) reads at most `sampleRows` rows drawn at random. What both share
 * (the table's row, the statistics' age, which renderings order) is in profileCommon.ts.
 */
import { duj1, NotAllowedError, NotFoundError, type ProfileItem, type ProfileRead, type RelationKey } from '@sourced/core';
import type { Client } from 'pg';
import { isConnectionError, notPopulatedError, sqlState } from './pgErrors';
import { COLUMNS_SQL, pick } from './preview';
import { TABLE_SQL, type TableRow } from './profileCommon';
import { sample } from './profileSample';
import { statistics } from './profileStatistics';
import { closedByCancel, query } from './query';
import type { CatalogColumn } from './rendering';

/** Re-exported from core, where the estimator now lives (shared with MySQL and MongoDB). */
export { duj1 };

/** The profile transaction: one snapshot for every statement, read only, the preview's text forms. */
const PROFILE_TRANSACTION_SQL = `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;
SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true),
       set_config('bytea_output', 'hex', true), set_config('extra_float_digits', '3', true),
       set_config('synchronize_seqscans', 'off', true)`;

/**
 * The profile of `read.columns` of `read.table`: the table item first, then each column as
 * soon as it is done. See profileStatistics.ts and profileSample.ts for what each mode reads.
 */
export async function* profileTable(conn: Client, read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
  await query(conn, PROFILE_TRANSACTION_SQL, [], signal);
  let finished = false;
  let failure: unknown;
  try {
    const table = (await query<TableRow>(conn, TABLE_SQL, [read.table.schema, read.table.name], signal)).at(0);
    if (!table) throw notFound(read.table);
    // A materialized view created WITH NO DATA has no rows and no statistics: refresh it first.
    if (!table.populated) throw notPopulatedError(read.table);
    const all = await query<CatalogColumn>(conn, COLUMNS_SQL, [table.oid], signal);
    const columns = pick(
      all,
      read.columns.map((c) => c.name),
      table,
    );
    if (read.mode === 'SAMPLE') yield* sample(conn, table, columns, read, signal);
    else yield* statistics(conn, table, columns, read, signal);
    await query(conn, 'COMMIT', [], signal);
    finished = true;
  } catch (error) {
    failure = error;
    if (sqlState(error) === '42501') {
      throw new NotAllowedError('TABLE_NOT_READABLE', `cannot read ${read.table.schema}.${read.table.name}: ${(error as Error).message}`, {
        metadata: { schema: read.table.schema, name: read.table.name },
      });
    }
    throw error;
  } finally {
    // Also when the consumer stops early (the generator's return()): end the transaction.
    if (!finished && !signal.aborted && !closedByCancel(conn) && !isConnectionError(failure)) await conn.query('ROLLBACK').catch(() => undefined);
  }
}

function notFound(table: RelationKey): NotFoundError {
  return new NotFoundError('TABLE_NOT_FOUND', `no table or view "${table.schema}"."${table.name}" (or its schema is not visible to this user)`, {
    metadata: { schema: table.schema, name: table.name },
  });
}
