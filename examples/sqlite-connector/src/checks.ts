import { statSync } from 'node:fs';
import { failed, passed, skipped, warning, type CheckDefinition, type ValidationPlan } from '@sourced/plugin-sdk';
import { fileProblem, tryOpenDatabase, type SqliteDatabase } from './database';
import type { ConfinedPath } from './paths';
import type { ResolvedSqliteSettings } from './settings';

/** State of one validation: the open database, closed by cleanup. */
export interface SqliteCheckState {
  db?: SqliteDatabase;
  /** page_size × page_count, from `open`. */
  bytes?: number;
}

type Check = CheckDefinition<SqliteCheckState>;

const dbOf = (state: SqliteCheckState): SqliteDatabase => {
  if (!state.db) throw new Error('the database is not open: the open check did not run');
  return state.db;
};

const pragma = (db: SqliteDatabase, name: string): unknown => db.pragma(name, { simple: true });

/**
 * The checks of a SQLite file, in order: file (exists inside the root, a regular readable
 * file), open (read-only, as a SQLite database), sqlite-version, journal-mode, quick-check
 * (files up to `quickCheckMaxBytes`), metadata-read. Whether the path is inside the root was
 * settled before: a path outside it fails the whole call with INVALID_ARGUMENT.
 */
export function sqliteValidationPlan(file: ConfinedPath, settings: ResolvedSqliteSettings): ValidationPlan<SqliteCheckState> {
  const fileCheck: Check = {
    id: 'file',
    title: 'Database file',
    async run() {
      const problem = fileProblem(file);
      if (problem) return failed(problem.message, problem.hint, { reason: problem.reason });
      const size = statSync(file.path).size;
      return passed(`"${file.given}" is a file of ${size} bytes inside the plugin's folder`, { path: file.given, size_bytes: String(size) });
    },
  };

  const openCheck: Check = {
    id: 'open',
    title: 'Open as SQLite database',
    dependsOn: ['file'],
    async run(ctx) {
      const opened = tryOpenDatabase(file, Math.max(50, Math.min(ctx.timeoutMs / 2, 5000)));
      if ('failure' in opened) return failed(opened.failure.message, opened.failure.hint, { reason: opened.failure.reason });
      const db = opened.db;
      ctx.state.db = db;
      const pageSize = Number(pragma(db, 'page_size'));
      const pageCount = Number(pragma(db, 'page_count'));
      ctx.state.bytes = pageSize * pageCount;
      return passed(`opened read-only: ${pageCount} pages of ${pageSize} bytes`, {
        schema_version: String(pragma(db, 'schema_version')),
        page_size: String(pageSize),
        page_count: String(pageCount),
        encoding: String(pragma(db, 'encoding')),
        user_version: String(pragma(db, 'user_version')),
        application_id: String(pragma(db, 'application_id')),
      });
    },
  };

  const versionCheck: Check = {
    id: 'sqlite-version',
    title: 'SQLite version',
    dependsOn: ['open'],
    async run(ctx) {
      const { version } = dbOf(ctx.state).prepare('SELECT sqlite_version() AS version').get() as { version: string };
      return passed(`SQLite ${version} (the library in the plugin reads the file)`, { version });
    },
  };

  const journalCheck: Check = {
    id: 'journal-mode',
    title: 'Journal mode',
    dependsOn: ['open'],
    async run(ctx) {
      const mode = String(pragma(dbOf(ctx.state), 'journal_mode'));
      if (mode === 'wal') return passed('journal mode wal: readers do not block the writer, nor it them', { journal_mode: mode });
      return passed(`journal mode ${mode}: a writer holds readers off while it commits`, { journal_mode: mode });
    },
  };

  const quickCheck: Check = {
    id: 'quick-check',
    title: 'Quick integrity check',
    dependsOn: ['open'],
    async run(ctx) {
      const bytes = ctx.state.bytes ?? 0;
      const limit = settings.quickCheckMaxBytes;
      if (bytes > limit) {
        return skipped(`the file holds ${bytes} bytes, more than the ${limit} this check reads (pluginSettings.sqlite.quickCheckMaxBytes)`, { bytes: String(bytes) });
      }
      const started = performance.now();
      const rows = dbOf(ctx.state).pragma('quick_check(10)') as { quick_check: string }[];
      const ms = (performance.now() - started).toFixed(1);
      const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
      if (problems.length === 0) return passed(`quick_check found no damage (${ms} ms)`, { read_ms: ms });
      return failed(
        `quick_check found damage: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`,
        'Restore the file from a backup, or recover it with the sqlite3 shell (.recover); discovery may fail or miss objects.',
        { problems: String(problems.length) },
      );
    },
  };

  const metadataCheck: Check = {
    id: 'metadata-read',
    title: 'Metadata read',
    dependsOn: ['open'],
    async run(ctx) {
      const started = performance.now();
      const counts = dbOf(ctx.state)
        .prepare(`SELECT type, count(*) AS n FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' GROUP BY type`)
        .all() as { type: string; n: number }[];
      const ms = (performance.now() - started).toFixed(1);
      const n = (type: string) => counts.find((c) => c.type === type)?.n ?? 0;
      const details = { tables: String(n('table')), views: String(n('view')), indexes: String(n('index')), triggers: String(n('trigger')), read_ms: ms };
      if (n('table') + n('view') === 0) {
        return warning('read sqlite_schema: the database holds no tables or views, so there is nothing to discover', 'Check that primary.database names the file you meant.', details);
      }
      return passed(`read sqlite_schema: ${n('table')} tables, ${n('view')} views, ${n('index')} indexes (${ms} ms)`, details);
    },
  };

  return {
    createState: () => ({}),
    checks: [fileCheck, openCheck, versionCheck, journalCheck, quickCheck, metadataCheck],
    async cleanup(state) {
      const db = state.db;
      state.db = undefined;
      if (db?.open) db.close();
    },
  };
}
