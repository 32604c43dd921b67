import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/DaemonConfig';

/**
 * A temporary folder for a config suite's files (removed after the suite), a writer into it, and
 * the ConfigError message `loadConfig` throws with the folder shown as `<dir>`.
 */
export function configFiles(prefix: string): {
  dir: string;
  write: (name: string, text: string) => string;
  errorOf: (argv: string[], env?: NodeJS.ProcessEnv) => string;
} {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    /** Writes a file under the temp folder and returns its absolute path. */
    write(name, text) {
      const path = join(dir, name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      return path;
    },
    /** The ConfigError message loadConfig throws, with the temp folder shown as <dir>. */
    errorOf(argv, env = {}) {
      try {
        loadConfig(argv, env, dir);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message.replaceAll(dir, '<dir>');
      }
      throw new Error('loadConfig accepted the configuration');
    },
  };
}
