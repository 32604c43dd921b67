/**
 * The plugin SDK's conformance kit, run against this connector as the daemon loads it (from
 * its built path). SQLite has no logins: the wrong-password tests are skipped; "unreachable"
 * is a file that does not exist; the open sessions are the daemon's file descriptors on the
 * database file (seen from the file's side, as pg_stat_activity would be for a server). The
 * type fixture is a file of its own (`types.db`), written here with better-sqlite3, and the
 * cells the preview must return for it, declared by hand.
 */
import { readdirSync, readlinkSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { describeConnectorConformance, type ExpectedCell } from '@sourced/plugin-sdk/testing';
import { createFixture, type Fixture } from './fixture';
import { PLUGIN, sqliteSource } from './helpers';

const fx: Fixture = createFixture();
const shop = join(fx.root, 'shop.db');

/** One row per edge: extremes of INTEGER, values whose storage class does not fit their column's affinity (`other`), NULLs. */
function writeTypes(): void {
  const db = new Database(join(fx.root, 'types.db'));
  db.exec(`CREATE TABLE types (id INTEGER PRIMARY KEY, i INTEGER, r REAL, n NUMERIC, t TEXT, b BLOB, d DATE, untyped);
    INSERT INTO types VALUES
      (1, 9223372036854775807, 1.5, 12.5, 'héllo ☃', x'00ff10', '2024-03-01', 42),
      (2, -9223372036854775808, -1e308, 0.1, '', x'', 20240301, 'text'),
      (3, 'abc', NULL, NULL, NULL, NULL, NULL, x'00ff');`);
  db.close();
}
const NULL = { kind: 'null' } as const;
const other = (value: string): ExpectedCell => ({ kind: 'other', value });
const TYPE_ROWS: ExpectedCell[][] = [
  [
    { kind: 'integer', value: '1' },
    { kind: 'integer', value: '9223372036854775807' },
    { kind: 'float', value: 1.5 },
    { kind: 'decimal', value: '12.5' },
    { kind: 'text', value: 'héllo ☃' },
    { kind: 'bytes', value: 'AP8Q' },
    other('2024-03-01'), // TEXT in a NUMERIC (DATE) column
    other('42'), // INTEGER in a column without a type (BLOB affinity)
  ],
  [
    { kind: 'integer', value: '2' },
    { kind: 'integer', value: '-9223372036854775808' },
    { kind: 'float', value: -1e308 },
    { kind: 'decimal', value: '0.1' },
    { kind: 'text', value: '' },
    { kind: 'bytes', value: '' },
    { kind: 'decimal', value: '20240301' },
    other('text'),
  ],
  [{ kind: 'integer', value: '3' }, other('abc'), NULL, NULL, NULL, NULL, NULL, { kind: 'bytes', value: 'AP8=' }],
];

/** Descriptors this process holds open on the shop database (its -wal and -shm files included). */
function openDescriptors(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(join('/proc/self/fd', fd)).startsWith(shop)) n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}

describeConnectorConformance({
  plugin: PLUGIN,
  type: 'sqlite',
  config: { pluginSettings: { sqlite: { root: fx.root } } },
  source: () => {
    writeTypes();
    return { dataSource: sqliteSource('shop.db'), secrets: [] };
  },
  typeFixture: () => ({ dataSource: sqliteSource('types.db'), table: { schema: 'main', name: 'types' }, columns: ['id', 'i', 'r', 'n', 't', 'b', 'd', 'untyped'], rows: TYPE_ROWS }),
  unreachable: () => ({ dataSource: sqliteSource('gone/missing.db'), secrets: [] }),
  openSessions: async () => openDescriptors(),
  minimumRelations: 30,
  teardown: () => rmSync(dirname(fx.root), { recursive: true, force: true }),
});
