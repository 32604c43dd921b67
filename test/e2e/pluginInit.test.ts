/**
 * A stranger's path to a plugin (issue 21's "done means"): from an empty folder, with nothing
 * of this repository but the tarballs `npm run pack:sdk` writes, `sourced plugin init` writes a
 * package, `npm run sdk:tarballs` installs the SDK and the daemon from the tarballs (the
 * registry is unreachable for `@sourced/*`, so nothing of ours can come from elsewhere; the
 * rest, TypeScript and vitest, comes from npm's cache or the registry), and `npm test` builds
 * it and passes the conformance kit, the capabilities it does not declare listed as skipped.
 * The package keeps its version ranges: nothing `file:` leaks into it or into its tarball.
 *
 * Slow (measured 6 minutes on a busy 2-core machine: packing and installing about 280 packages
 * take 3, each kit run one), so it runs only with SOURCED_TEST_PACKAGING=1: `npm run
 * test:packaging` (it builds first). `npm test` and CI's .ci/run skip it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOURCED_BIN } from './support/processes';

const ROOT = resolve(__dirname, '../..');
const enabled = process.env.SOURCED_TEST_PACKAGING === '1';

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

/** `npm test` in a plugin package, with vitest's JSON report. */
function npmTest(dir: string): VitestReport {
  run('npm', ['test', '--', '--reporter=json', '--outputFile=vitest-report.json'], dir);
  return JSON.parse(readFileSync(join(dir, 'vitest-report.json'), 'utf8')) as VitestReport;
}

const titles = (report: VitestReport, status: string) =>
  report.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === status).map((a) => a.title));

describe.runIf(enabled)('a plugin from sourced plugin init, installed from the packed tarballs', () => {
  let work: string;
  let packages: string;
  let connector: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'sourced-plugin-init-'));
    packages = join(work, 'packages');
    run('bash', ['scripts/pack-sdk.sh', packages], ROOT);
    connector = join(work, 'stranger-db');
    run(process.execPath, [SOURCED_BIN, 'plugin', 'init', 'sourced-plugin-stranger-db', '--dir', connector], work);
    // @sourced/* cannot come from a registry: only the tarballs can provide them.
    writeFileSync(join(connector, '.npmrc'), '@sourced:registry=http://127.0.0.1:9/\nfetch-retries=0\n');
    run('npm', ['run', 'sdk:tarballs'], connector, { SOURCED_PACKAGES: packages });
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** The connector passes the kit: every applicable check, preview and profile skipped (not declared), nothing failed. */
  it('npm test passes the connector kit; the capabilities it does not declare are skipped', () => {
    const report = npmTest(connector);
    expect(report.numFailedTests).toBe(0);
    expect(report.numPassedTests).toBeGreaterThanOrEqual(10);
    const skipped = titles(report, 'skipped').concat(titles(report, 'pending'));
    expect(skipped.some((t) => t.startsWith('with the preview capability'))).toBe(true);
    expect(skipped.some((t) => t.startsWith('with the profile capability'))).toBe(true);
    expect(titles(report, 'passed')).toContain('no secret appears in any stream event, error status, log line or span');
  }, 600_000);

  /** The package and its tarball keep the SDK's version range: no file: dependency leaks (issue 21 defect 1). */
  it('the package and its npm pack keep version ranges, never file: specs', () => {
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
  }, 120_000);

  /** The secret provider scaffold passes its kit too (sharing the connector's installed packages). */
  it('a secret provider from plugin init --kind secret-provider passes its kit', () => {
    const provider = join(work, 'keeper');
    run(process.execPath, [SOURCED_BIN, 'plugin', 'init', '@acme/sourced-plugin-keeper', '--kind', 'secret-provider', '--dir', provider], work);
    symlinkSync(join(connector, 'node_modules'), join(provider, 'node_modules'));
    const report = npmTest(provider);
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
