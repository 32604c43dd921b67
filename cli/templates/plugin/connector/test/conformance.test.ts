/**
 * The plugin SDK's conformance kit against this connector, loaded by a real daemon (in-process)
 * from the built dist/index.js, as an operator's daemon would load it. The good source is
 * test/fixture/shop.json (copied to a folder of its own); "unreachable" is a file that does not
 * exist. The kit lists the tests of capabilities the connector does not declare (preview,
 * profile), and of options not given here (wrongPassword, typeFixture), as skipped.
 *
 * When you put a real driver in: start (or reach) a real test server in source(), give
 * wrongPassword() for a server with logins, openSessions() to count sessions from the server's
 * side, and a typeFixture (a table of edge values and the cells its preview must return).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DataSource, describeConnectorConformance } from '@sourced/plugin-sdk/testing';

/** The built plugin, loaded by the daemon from its path. */
const PLUGIN = resolve(__dirname, '../dist/index.js');

const root = mkdtempSync(join(tmpdir(), '__ID__-conformance-'));
cpSync(join(__dirname, 'fixture'), root, { recursive: true });

/** A data source naming a file of the plugin's folder. */
const source = (database: string) => DataSource.fromPartial({ type: '__ID__', primary: { host: '', port: 0, database } });

describeConnectorConformance({
  plugin: PLUGIN,
  type: '__ID__',
  config: { pluginSettings: { '__ID__': { root } } },
  source: () => ({ dataSource: source('shop.json'), secrets: [] }),
  unreachable: () => ({ dataSource: source('missing.json'), secrets: [] }),
  teardown: () => rmSync(root, { recursive: true, force: true }),
});
