/**
 * ProfileTable for MySQL and MariaDB.
 *
 * STATISTICS (profileStatistics.ts) reads only what the server keeps, never the table's rows:
 * TABLE_ROWS, MariaDB's mysql.column_stats, MySQL 8's histograms (decoded in
 * profileHistograms.ts) and index cardinality. SAMPLE (profileSample.ts) is a bounded read of
 * the table: whole when small, else key ranges or a draw among its first rows. What both
 * share is in profileCommon.ts; values the preview's rendering does not cover as they come
 * (a BIT's decimal text, fixed storage sizes) in profileValues.ts.
 *
 * Identifiers in SQL are the catalog's own names quoted with backticks; everything else
 * travels as `?` values.
 */
import type { ProfileItem, ProfileRead } from '@sourced/core';
import type { Connection } from 'mysql2';
import { sampleProfile } from './profileSample';
import { statisticsProfile } from './profileStatistics';

/** The profile of a table: its header, then each column as it is done. */
export async function* readProfile(conn: Connection, read: ProfileRead, signal: AbortSignal): AsyncGenerator<ProfileItem> {
  if (read.mode === 'SAMPLE') yield* sampleProfile(conn, read, signal);
  else yield* statisticsProfile(conn, read, signal);
}
