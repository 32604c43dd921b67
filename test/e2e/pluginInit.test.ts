/**
 * A stranger's path to a plugin (issue 21's "done means"): from an empty folder, with nothing
 * of this repository but the tarballs `npm run pack:sdk` writes, `sourced plugin init` writes a
 * package, `npm run sdk:tarballs` installs the SDK and the daemon from the tarballs (the
 * registry is unreachable for `@sourced/*`, so nothing of ours can come from elsewhere; the
 * rest, TypeScript and vitest, comes from npm's cache or the registry), and `npm test` builds
 * it and passes the conformance kit, the capabilities it does not declare listed as skipped.
 * The package keeps its version ranges: nothing `file:` leaks into it or into its tarball.
 *
 * Part of `npm test`. Measured on a 2-core machine busy with other suites (load 8): 43-63 s of
 * tests (pack 5 s, install 14-18 s, the two kits side by side 18-35 s, the rest a few
 * seconds), 60-90 s wall with vitest's server setup. It stays that short because the built-in
 * plugins are optional peer dependencies of @sourced/daemon, so the install carries neither
 * them nor their cloud SDKs (165 packages instead of 280: 60 s less), and the folder is on
 * tmpfs. `npm run test:packaging` builds and runs this file alone.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PluginState } from '@sourced/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOURCED_BIN } from './support/processes';

const ROOT = resolve(__dirname, '../..');

/** This process's environment without what would change npm's or vitest's behaviour in the child. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(SOURCED_|OTEL_|VITEST|npm_)/i.test(k) && !['NODE_OPTIONS', 'FORCE_COLOR', 'NO_COLOR', 'NODE_ENV', 'TEST'].includes(k)) out[k] = v;
  }
  return { ...out, ...extra };
}

/** Runs a command to its end; throws with its output when it fails. */
function run(command: string, args: string[], cwd: string, extra: Record<string, string> = {}): string {
  const r = spawnSync(command, args, { cwd, env: env(extra), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

interface VitestReport {
  numFailedTests: number;
  numPassedTests: number;
  numPendingTests: number;
  testResults: { assertionResults: { title: string; status: string }[] }[];
}

/**
 * Starts `npm test` in a plugin package (vitest writing its JSON report) without waiting, so
 * that two packages' kits run side by side; settles with the report, or with the error
 * carrying the command's output.
 */
function npmTest(dir: string): Promise<{ report: VitestReport } | { error: Error }> {
  return new Promise((settle) => {
    const child = spawn('npm', ['test', '--', '--reporter=json', '--outputFile=vitest-report.json'], { cwd: dir, env: env() });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error) => settle({ error }));
    child.on('close', (code) => {
      if (code !== 0) settle({ error: new Error(`npm test (in ${dir}) exited ${code}:\n${output}`) });
      else settle({ report: JSON.parse(readFileSync(join(dir, 'vitest-report.json'), 'utf8')) as VitestReport });
    });
  });
}

/** The report of a kit run, or its failure thrown. */
async function reportOf(kit: Promise<{ report: VitestReport } | { error: Error }> | undefined): Promise<VitestReport> {
  const done = await kit;
  if (done === undefined) throw new Error('the kit did not start: see beforeAll');
  if ('error' in done) throw done.error;
  return done.report;
}

const titles = (report: VitestReport, status: string) =>
  report.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === status).map((a) => a.title));

/**
 * Where the stranger's folder goes: a RAM-backed folder when the machine has one. The install
 * writes, and the clean-up deletes, about 12,000 files; on this machine's disk the deletion
 * alone took up to 14 s under load, on tmpfs well under one.
 */
const SCRATCH = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

describe('a plugin from sourced plugin init, installed from the packed tarballs', () => {
  let work: string;
  let packages: string;
  let connector: string;
  let provider: string;
  let connectorKit: ReturnType<typeof npmTest> | undefined;
  let providerKit: ReturnType<typeof npmTest> | undefined;

  beforeAll(() => {
    work = mkdtempSync(join(SCRATCH, 'sourced-plugin-init-'));
    packages = join(work, 'packages');
    run('bash', ['scripts/pack-sdk.sh', packages], ROOT);
    connector = join(work, 'stranger-db');
    run(process.execPath, [SOURCED_BIN, 'plugin', 'init', 'sourced-plugin-stranger-db', '--dir', connector], work);
    // @sourced/* cannot come from a registry: only the tarballs can provide them.
    writeFileSync(join(connector, '.npmrc'), '@sourced:registry=http://127.0.0.1:9/\nfetch-retries=0\n');
    run('npm', ['run', 'sdk:tarballs'], connector, { SOURCED_PACKAGES: packages });
    // The secret provider shares the connector's installed packages; both kits run side by side.
    provider = join(work, 'keeper');
    run(process.execPath, [SOURCED_BIN, 'plugin', 'init', '@acme/sourced-plugin-keeper', '--kind', 'secret-provider', '--dir', provider], work);
    symlinkSync(join(connector, 'node_modules'), join(provider, 'node_modules'));
    connectorKit = npmTest(connector);
    providerKit = npmTest(provider);
  }, 300_000);

  afterAll(async () => {
    // Both kits end (pass or fail) before their folders go.
    await Promise.all([connectorKit, providerKit]);
    if (work) rmSync(work, { recursive: true, force: true });
  }, 300_000);

  /**
   * What a plugin's tests need, and no more: the daemon without the built-in plugins (optional
   * peer dependencies) or their cloud SDKs. A daemon started from the installed packages with
   * the built-ins configured lists each as FAILED, saying it is not installed and how to add it.
   */
  it('installs the SDK and the daemon without the built-in plugins; the daemon says which are missing', () => {
    const ours = readdirSync(join(connector, 'node_modules/@sourced')).sort();
    expect(ours).toEqual(['api', 'core', 'daemon', 'plugin-sdk']);
    for (const cloud of ['@aws-sdk', '@azure']) expect(existsSync(join(connector, 'node_modules', cloud)), cloud).toBe(false);
    const script = `
      const { startTestDaemon } = require('@sourced/plugin-sdk/testing');
      (async () => {
        const t = await startTestDaemon({ builtins: true });
        const plugins = await t.listPlugins();
        await t.stop();
        console.log(JSON.stringify(plugins.filter((p) => p.module.startsWith('@sourced/plugin-')).map((p) => ({ module: p.module, state: p.state, loadError: p.loadError }))));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const out = run(process.execPath, ['-e', script], connector).trim().split('\n').pop() ?? '';
    const builtins = JSON.parse(out) as { module: string; state: number; loadError: string }[];
    expect(builtins.map((p) => p.module).sort()).toEqual([
      '@sourced/plugin-aws',
      '@sourced/plugin-azure',
      '@sourced/plugin-mongodb',
      '@sourced/plugin-mysql',
      '@sourced/plugin-postgres',
    ]);
    for (const p of builtins) {
      expect(p.state, p.module).toBe(PluginState.PLUGIN_STATE_FAILED);
      expect(p.loadError).toContain(`the built-in plugin ${p.module} is not installed`);
      expect(p.loadError).toContain(`npm install ${p.module}`);
    }
  }, 120_000);

  /** The connector passes the kit: every applicable check, preview and profile skipped (not declared), nothing failed. */
  it('npm test passes the connector kit; the capabilities it does not declare are skipped', async () => {
    const report = await reportOf(connectorKit);
    expect(report.numFailedTests).toBe(0);
    expect(report.numPassedTests).toBeGreaterThanOrEqual(10);
    const skipped = titles(report, 'skipped').concat(titles(report, 'pending'));
    expect(skipped.some((t) => t.startsWith('with the preview capability'))).toBe(true);
    expect(skipped.some((t) => t.startsWith('with the profile capability'))).toBe(true);
    expect(titles(report, 'passed')).toContain('no secret appears in any stream event, error status, log line or span');
  }, 300_000);

  /** The package and its tarball keep the SDK's version range: no file: dependency leaks (issue 21 defect 1). */
  it('the package and its npm pack keep version ranges, never file: specs', async () => {
    await connectorKit; // its build writes dist/, which the tarball must hold
    const manifest = readFileSync(join(connector, 'package.json'), 'utf8');
    expect(manifest).not.toMatch(/file:|link:|workspace:/);
    const sdk = (JSON.parse(manifest) as { peerDependencies: Record<string, string> }).peerDependencies['@sourced/plugin-sdk'];
    expect(sdk).toMatch(/^\^\d+\.\d+\.\d+$/);
    run('npm', ['pack', '--silent'], connector);
    const tarball = readdirSync(connector).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    const packed = run('tar', ['-xzOf', tarball ?? '', 'package/package.json'], connector);
    expect(packed).not.toMatch(/file:|link:|workspace:/);
    expect(run('tar', ['-tzf', tarball ?? ''], connector)).toContain('package/dist/index.js');
  }, 300_000);

  /** The secret provider scaffold passes its kit too (sharing the connector's installed packages). */
  it('a secret provider from plugin init --kind secret-provider passes its kit', async () => {
    const report = await reportOf(providerKit);
    expect(report.numFailedTests).toBe(0);
    expect(report.numPassedTests).toBeGreaterThanOrEqual(4);
  }, 300_000);
});

/** `sourced plugin init` as a person runs it, and the examples keeping the shape it writes (fast: nothing installed). */
describe('sourced plugin init', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sourced-plugin-init-shape-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const init = (...args: string[]) => spawnSync(process.execPath, [SOURCED_BIN, 'plugin', 'init', ...args], { cwd: scratch, env: env(), encoding: 'utf8' });
  const json = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

  /** Both kinds: every template written with its names filled in, the SDK by the range the daemon hosts. */
  it.each([
    ['connector', 'sourced-plugin-duck-db', 'duck-db', ['src/connector.ts', 'src/preview.ts', 'src/profile.ts', 'src/store.ts', 'test/fixture/shop.json']],
    ['secret-provider', '@acme/sourced-plugin-keeper', 'keeper', ['src/provider.ts', 'test/fixture/secrets.json']],
  ])('--kind %s writes a package named after NAME', (kind, name, id, own) => {
    const r = init(name, '--kind', kind);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${kind} "${id}"`);
    const dir = join(scratch, id);
    for (const file of [
      'package.json',
      'README.md',
      'tsconfig.json',
      'tsconfig.test.json',
      'vitest.config.mts',
      '.gitignore',
      'src/index.ts',
      'test/conformance.test.ts',
      ...own,
    ]) {
      expect(existsSync(join(dir, file)), file).toBe(true);
      expect(readFileSync(join(dir, file), 'utf8'), file).not.toMatch(/__[A-Z]+(_[A-Z]+)*__/);
    }
    const pkg = json(join(dir, 'package.json')) as {
      name: string;
      sourced: { sdk: string };
      peerDependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const sdk = (json(join(ROOT, 'sdk/package.json')) as { version: string }).version;
    expect(pkg.name).toBe(name);
    expect(pkg.sourced.sdk).toBe(`^${sdk}`);
    expect(pkg.peerDependencies['@sourced/plugin-sdk']).toBe(`^${sdk}`);
    expect(pkg.devDependencies['@sourced/daemon']).toMatch(/^\^\d/);
    expect(readFileSync(join(dir, 'src/index.ts'), 'utf8')).toContain(`id: '${id}'`);
  });

  /** A name that is no npm name or plugin id, and a folder that is not empty, are usage errors (exit 2) saying what to do. */
  it('refuses a bad NAME and a folder that is not empty', () => {
    const bad = init('Not_A_Name');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('is not an npm package name');
    const id = init('sourced-plugin-9lives');
    expect(id.status).toBe(2);
    expect(id.stderr).toContain('cannot be a plugin id');
    init('sourced-plugin-twice');
    const again = init('sourced-plugin-twice');
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('is not an empty folder');
  });

  /** The examples are built in the scaffold's shape: the same scripts, TypeScript configs and ignore file. */
  it.each([
    ['sqlite-connector', 'connector'],
    ['vault-secret-provider', 'secret-provider'],
  ])('examples/%s has the layout plugin init writes (%s)', (example, kind) => {
    const templates = join(ROOT, 'cli/templates/plugin');
    const exampleDir = join(ROOT, 'examples', example);
    const scripts = (dir: string) => (json(join(dir, 'package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts(exampleDir)).toEqual(scripts(join(templates, kind)));
    for (const [template, file] of [
      ['tsconfig.json', 'tsconfig.json'],
      ['tsconfig.test.json', 'tsconfig.test.json'],
      ['gitignore', '.gitignore'],
    ]) {
      expect(readFileSync(join(exampleDir, file), 'utf8'), file).toBe(readFileSync(join(templates, 'common', template), 'utf8'));
    }
    const pkg = json(join(exampleDir, 'package.json')) as { sourced: { sdk: string }; peerDependencies: Record<string, string> };
    expect(pkg.sourced.sdk).toBe(pkg.peerDependencies['@sourced/plugin-sdk']);
    for (const dir of ['src', 'test']) expect(existsSync(join(exampleDir, dir))).toBe(true);
  });
});
