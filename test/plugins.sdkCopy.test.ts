import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource, PluginState } from '@sourced/api';
import { DiscoveryStrategy } from '@sourced/api';
import { runCli } from './e2e/support/processes';
import { collect, expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';

const repo = resolve(__dirname, '..');

/**
 * A plugin folder with its OWN copies (copied, not linked) of @sourced/plugin-sdk and
 * @sourced/core in its node_modules, as a plugin author's `npm install` of the SDK from a
 * tarball leaves it. The copies' third-party dependencies are linked to the repo's.
 */
function pluginWithCopiedSdk(root: string): string {
  const folder = join(root, 'sourced-plugin-copied');
  const modules = join(folder, 'node_modules');
  for (const [name, from] of [
    ['@sourced/plugin-sdk', 'sdk'],
    ['@sourced/core', 'core'],
  ] as const) {
    const to = join(modules, name);
    mkdirSync(to, { recursive: true });
    cpSync(join(repo, from, 'package.json'), join(to, 'package.json'));
    cpSync(join(repo, from, 'dist'), join(to, 'dist'), { recursive: true });
  }
  const core = JSON.parse(readFileSync(join(repo, 'core/package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const dependency of Object.keys(core.dependencies)) {
    const link = join(modules, dependency);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(repo, 'node_modules', dependency), link, 'dir');
  }
  writeFileSync(
    join(folder, 'package.json'),
    JSON.stringify({ name: 'sourced-plugin-copied', version: '1.0.0', main: 'index.cjs', peerDependencies: { '@sourced/plugin-sdk': '^1.3.0' } }),
  );
  writeFileSync(
    join(folder, 'index.cjs'),
    `// A connector whose errors come from its own copy of the SDK.
const { definePlugin, defineConnector, InputError, NotFoundError } = require('@sourced/plugin-sdk');
const connector = defineConnector({
  type: 'copied',
  displayName: 'Copied SDK',
  defaultPort: 1,
  sessions: { open: async () => ({}), close: async () => undefined, isConnectionError: () => false },
  catalog: { listSchemas: async () => [], listRelations: async () => [] },
  preview: {
    async previewColumns(_conn, table, columns) {
      if (table.name !== 'items') throw new NotFoundError('TABLE_NOT_FOUND', 'no table ' + table.schema + '.' + table.name);
      const bad = columns.findIndex((c) => c !== 'id');
      if (bad >= 0) throw new InputError([{ field: 'columns[' + bad + ']', description: 'no column "' + columns[bad] + '" in items' }], { reason: 'COLUMN_NOT_FOUND' });
      return [{ name: 'id', type: 'integer' }];
    },
    previewRows: async () => [[{ kind: 'integer', value: '1' }]],
  },
});
module.exports = definePlugin({ id: 'copied', version: '1.0.0', sdk: '^1.3.0', register(r) { r.registerConnector(connector); } });
`,
  );
  return folder;
}

describe('a plugin with its own copy of the plugin SDK', () => {
  let t: TestDaemon;
  let root: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'sourced-sdk-copy-'));
    t = await startTestDaemon({ plugins: [pluginWithCopiedSdk(root)] });
  });
  afterAll(async () => {
    await t.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const preview = (name: string, columns: string[] = []) =>
    collect(
      t.dataSources.previewTable({
        dataSource: DataSource.fromPartial({ type: 'copied', primary: { host: 'localhost', port: 1 } }),
        table: { schema: 'main', name },
        columns,
        limit: 5,
        strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_UNSPECIFIED,
      }),
    );

  /** The loader says the plugin brought its own copy, in ListPlugins and in the log; the plugin still loads. */
  it('loads, with a warning naming the copy, in ListPlugins and the log', async () => {
    const plugin = (await t.listPlugins()).find((p) => p.id === 'copied');
    expect(plugin?.state).toBe(PluginState.PLUGIN_STATE_LOADED);
    expect(plugin?.warnings).toHaveLength(1);
    expect(plugin?.warnings[0]).toContain(
      `the plugin uses its own copy of the plugin SDK (@sourced/core at ${join(root, 'sourced-plugin-copied/node_modules/@sourced/core')})`,
    );
    expect(plugin?.warnings[0]).toContain('declare @sourced/plugin-sdk as a peer dependency');
    expect(t.logs.some((l) => l.includes('"plugin warning"') && l.includes('"plugin":"copied"') && l.includes('its own copy'))).toBe(true);
    // The daemon's own plugins share its copy: no warning.
    expect((await t.listPlugins()).find((p) => p.id === 'builtin-secrets')?.warnings).toEqual([]);
    // `sourced plugins` prints it under the plugin, and `--json` carries it.
    const text = await runCli(['plugins', '--address', t.address]);
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    const at = lines.findIndex((l) => l.startsWith('copied '));
    expect(lines[at + 1]).toMatch(/^ {4}warning: the plugin uses its own copy of the plugin SDK/);
    const json = await runCli(['plugins', '--json', '--address', t.address]);
    expect((JSON.parse(json.stdout) as { id: string; warnings: string[] }[]).find((x) => x.id === 'copied')?.warnings).toEqual(plugin?.warnings);
  });

  /** Errors thrown by the copy's classes keep their status codes, reasons and fields (not INTERNAL). */
  it('keeps NOT_FOUND and INVALID_ARGUMENT of errors the copy threw', async () => {
    const missing = richStatusOf(await expectFailure(preview('nope')));
    expect([missing.grpcCode, missing.errorInfo?.reason, missing.message]).toEqual([5, 'TABLE_NOT_FOUND', 'no table main.nope']);
    const bad = richStatusOf(await expectFailure(preview('items', ['id', 'price'])));
    expect([bad.grpcCode, bad.errorInfo?.reason]).toEqual([3, 'COLUMN_NOT_FOUND']);
    expect(bad.badRequest).toEqual([{ field: 'columns[1]', description: 'no column "price" in items' }]);
    const rows = await preview('items');
    expect(rows.at(-1)?.event?.$case).toBe('summary');
  });
});
