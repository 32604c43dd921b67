import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDataSourceText } from '../cli/src/dataSourceFile';
import { freePort } from './harness/ports';
import { blocksOf, type Block } from './support/markdownBlocks';
import { childEnv, SOURCED_BIN, type Exit } from './e2e/support/processes';

/**
 * The executable README (issue 22): every shell block of README.md and docs/*.md that calls
 * `sourced`, `npm run` or `buf curl` runs, as a newcomer would paste it, against one
 * `sourced demo --keep --source demo-shop.json` (the README's first step), and must exit 0 and
 * print the lines its `<!-- expect: TEXT -->` comments name. A block that cannot run here carries
 * `<!-- not run: why -->` right before it; those are listed as skipped tests with the reason.
 * The docs' example data-source files must read in the CLI too. getting-started.md's own-database
 * steps (`<!-- run with the test servers: ... -->`) run in test/e2e/gettingStarted.test.ts instead.
 */

const ROOT = resolve(__dirname, '..');
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

/** A shell block that calls the CLI, an npm script or buf curl. */
const CALLS = /(^|[\s;|&(`])(npx\s+)?(sourced\s+[a-z-]+|npm\s+(run|test|ci)\b|buf\s+curl)/m;
const isShell = (b: Block) => ['sh', 'bash', 'shell', 'console'].includes(b.lang);

const ALL = PAGES.flatMap((page) => blocksOf(page, readFileSync(join(ROOT, page), 'utf8')));
const CALLING = ALL.filter((b) => isShell(b) && CALLS.test(b.code));
/** getting-started.md's own-database steps: run by test/e2e/gettingStarted.test.ts against its own servers, not against the demo. */
const WITH_SERVERS = (b: Block) => b.page === 'docs/getting-started.md' && b.withServers;
const RUNNABLE = CALLING.filter((b) => b.notRun === undefined && !WITH_SERVERS(b));
const NOT_RUN = CALLING.filter((b) => b.notRun !== undefined);
const name = (b: Block) => `${b.page}:${b.line}`;

/** PGlite compiles PostgreSQL's WebAssembly at start: seconds, more on a busy machine. */
const DEMO_TIMEOUT_MS = 180_000;

describe('the README and docs/, executed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sourced-readme-'));
  let address = '';
  let demo: ReturnType<typeof spawn> | undefined;
  let exited: Promise<Exit> | undefined;
  let demoOut = '';

  beforeAll(async () => {
    // The folder a newcomer works in: the checkout's node_modules (npx sourced, npx buf), examples and docs.
    for (const entry of ['node_modules', 'examples', 'docs', 'api']) symlinkSync(join(ROOT, entry), join(dir, entry));
    const port = await freePort();
    // The README's first step, on a free port instead of 50051.
    demo = spawn(process.execPath, [SOURCED_BIN, 'demo', '--keep', '--port', String(port), '--source', 'demo-shop.json'], {
      cwd: dir,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child = demo;
    let err = '';
    child.stdout?.setEncoding('utf8').on('data', (t: string) => (demoOut += t));
    child.stderr?.setEncoding('utf8').on('data', (t: string) => (err += t));
    exited = new Promise<Exit>((done) => child.once('exit', (code, signal) => done({ code, signal })));
    address = await new Promise<string>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`the demo did not start; stdout:\n${demoOut}\nstderr:\n${err}`)), DEMO_TIMEOUT_MS);
      child.stdout?.on('data', () => {
        const m = /^Running: daemon (\S+), database \S+\. Ctrl-C to stop\.$/m.exec(demoOut);
        if (m) {
          clearTimeout(timer);
          ready(m[1]);
        }
      });
      void exited?.then((e) => {
        clearTimeout(timer);
        fail(new Error(`the demo exited (${e.code ?? e.signal}) before it was ready; stdout:\n${demoOut}\nstderr:\n${err}`));
      });
    });
  }, DEMO_TIMEOUT_MS + 10_000);

  afterAll(async () => {
    if (demo && demo.exitCode === null && demo.signalCode === null) {
      demo.kill('SIGINT');
      const timer = setTimeout(() => demo?.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  }, 40_000);

  /** Some blocks run: the README's first calls at least. */
  it('finds the blocks to run, and the reason of each one it does not run', () => {
    expect(RUNNABLE.filter((b) => b.page === 'README.md').length).toBeGreaterThanOrEqual(3);
    for (const b of NOT_RUN) expect((b.notRun ?? '').length, name(b)).toBeGreaterThan(10);
    console.info(`not run (${NOT_RUN.length}):\n${NOT_RUN.map((b) => `  ${name(b)}: ${b.notRun}`).join('\n')}`);
  });

  for (const b of NOT_RUN) it.skip(`${name(b)} (not run: ${b.notRun})`, () => undefined);

  it.each(RUNNABLE.map((b) => [name(b), b] as const))(
    '%s runs and prints what it says',
    (_n, b) => {
      const code = b.code.replace(/(127\.0\.0\.1|localhost):50051/g, address);
      const r = spawnSync('bash', ['-e', '-c', code], {
        cwd: dir,
        env: childEnv({ SOURCED_ADDRESS: address, NO_COLOR: '1', PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}` }),
        encoding: 'utf8',
        timeout: 240_000,
      });
      const output = `${r.stdout}\n${r.stderr}`;
      expect(r.status, `${name(b)} exited ${r.status ?? r.signal}:\n${code}\n---\n${output}`).toBe(0);
      expect(r.stdout.trim(), `${name(b)} printed nothing`).not.toBe('');
      for (const line of b.expects) expect(output, `${name(b)} should print ${line}`).toContain(line);
    },
    300_000,
  );

  /** Every relative link of the pages points at a file that exists, and a #fragment at one of its headings. */
  it('links only to files and headings that exist', () => {
    const slug = (heading: string) =>
      heading
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}_\- ]/gu, '')
        .replace(/ /g, '-');
    const prose = (text: string) => text.replace(/```[\s\S]*?```/g, '');
    const broken: string[] = [];
    for (const page of PAGES) {
      for (const [, target] of prose(readFileSync(join(ROOT, page), 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const [file, fragment] = target.split('#');
        const path = file ? resolve(ROOT, page, '..', file) : join(ROOT, page);
        if (!existsSync(path)) {
          broken.push(`${page}: ${target} (no such file)`);
          continue;
        }
        if (fragment && path.endsWith('.md')) {
          const headings = [...prose(readFileSync(path, 'utf8')).matchAll(/^#+ (.*)$/gm)].map((m) => slug(m[1]));
          if (!headings.includes(fragment)) broken.push(`${page}: ${target} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  /** The data-source files the pages show read in the CLI as they are written. */
  it('reads the example data-source files of getting-started.md and data-source.md', () => {
    const started = ALL.filter((b) => b.page === 'docs/getting-started.md' && b.lang === 'yaml');
    expect(started.length).toBeGreaterThanOrEqual(2);
    for (const b of started) expect(() => parseDataSourceText(b.code, `${name(b)}.yaml`), name(b)).not.toThrow();
    const first = ALL.find((b) => b.page === 'docs/data-source.md' && b.lang === 'json');
    expect(() => parseDataSourceText(first?.code ?? '', 'data-source.json')).not.toThrow();
  });
});
