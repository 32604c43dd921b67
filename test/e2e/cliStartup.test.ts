/**
 * `sourced --version` and `sourced COMMAND --help` answer from the commander definitions alone:
 * they load neither gRPC, the API, core, the daemon nor the config schema (zod). What a run
 * loaded is read from the child's module cache after main() returns, never timed.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { childEnv } from './support/processes';

const MAIN = resolve(__dirname, '../../cli/dist/main.js');

/** Runs main(ARGS) in a child; its exit code and every module file it loaded. */
function loadedBy(args: string[]): Promise<{ code: number; stdout: string; modules: string[] }> {
  const script = `require(${JSON.stringify(MAIN)}).main(${JSON.stringify(args)}).then((code) => process.stderr.write('\\n@@' + JSON.stringify({ code, modules: Object.keys(require.cache) })));`;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['-e', script], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.on('error', fail);
    child.on('close', () => {
      const at = stderr.lastIndexOf('\n@@');
      if (at < 0) return fail(new Error(`no module list; stderr:\n${stderr}`));
      const { code, modules } = JSON.parse(stderr.slice(at + 3)) as { code: number; modules: string[] };
      done({ code, stdout, modules });
    });
  });
}

/** What the light commands must not load. */
const HEAVY = /\/zod\/|@grpc\/|\/api\/dist\/|\/core\/dist\/|\/daemon\/dist\//;

describe('sourced start-up', () => {
  it.for([['--version'], ['validate', '--help'], ['help', 'discover'], ['preview', '--help']])(
    'sourced %j loads commander and its own definitions only',
    async (args) => {
      const r = await loadedBy(args);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toBe('');
      expect(r.modules.filter((m) => HEAVY.test(m))).toEqual([]);
      expect(r.modules.some((m) => m.includes('/commander/'))).toBe(true);
    },
  );

  it('sourced serve --help loads the config schema, whose options are its flags', async () => {
    const r = await loadedBy(['serve', '--help']);
    expect(r.code).toBe(0);
    expect(r.modules.some((m) => m.includes('/zod/'))).toBe(true);
    expect(r.stdout).toMatch(/^ {2}--log-level <LEVEL> /m);
    expect(r.stdout).toMatch(/^ {2}--plugin <MODULE> /m);
  });
});
