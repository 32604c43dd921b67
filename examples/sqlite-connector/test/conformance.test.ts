/**
 * The plugin SDK's conformance kit, run against this connector as the daemon loads it (from
 * its built path). SQLite has no logins: the wrong-password tests are skipped; "unreachable"
 * is a file that does not exist; the open sessions are the daemon's file descriptors on the
 * database file (seen from the file's side, as pg_stat_activity would be for a server).
 */
import { readdirSync, readlinkSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describeConnectorConformance } from '@sourced/plugin-sdk/testing';
import { createFixture, type Fixture } from './fixture';
import { PLUGIN, sqliteSource } from './helpers';

const fx: Fixture = createFixture();
const shop = join(fx.root, 'shop.db');

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
  source: () => ({ dataSource: sqliteSource('shop.db'), secrets: [] }),
  unreachable: () => ({ dataSource: sqliteSource('gone/missing.db'), secrets: [] }),
  openSessions: async () => openDescriptors(),
  minimumRelations: 30,
  teardown: () => rmSync(dirname(fx.root), { recursive: true, force: true }),
});
