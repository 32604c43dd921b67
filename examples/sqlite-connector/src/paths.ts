import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { InputError } from '@sourced/plugin-sdk';

/** The field of the request that holds the database path. */
export const DATABASE_FIELD = 'data_source.primary.database';

/** A database path confined to the plugin's root folder. */
export interface ConfinedPath {
  /** The absolute path to open (symbolic links resolved when the file exists). */
  path: string;
  /** The path as the caller wrote it, for messages (never the operator's root). */
  given: string;
  /** Whether the file exists (as far as the resolution could tell). */
  exists: boolean;
}

function inside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel === '' ? false : !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

const refuse = (description: string) => new InputError([{ field: DATABASE_FIELD, description }], { reason: 'SQLITE_PATH_OUTSIDE_ROOT' });

/**
 * Resolves `given` (relative to `root`, or absolute) and refuses, with an InputError naming
 * `data_source.primary.database`, any path that leaves `root`: through `..`, as an absolute path
 * elsewhere, or through a symbolic link (of the file or of a folder on the way) that points
 * out of it. `root` must be a real path already. A file that does not exist yet is confined
 * by its nearest existing folder.
 */
export function confineToRoot(root: string, given: string): ConfinedPath {
  if (given.includes('\0')) throw new InputError([{ field: DATABASE_FIELD, description: 'contains a NUL character' }]);
  if (/^file:/i.test(given) || given === ':memory:' || given === '') {
    throw new InputError([{ field: DATABASE_FIELD, description: 'must be the path of a database file inside the folder the sqlite plugin serves (no URIs, no :memory:)' }]);
  }
  const candidate = resolve(root, given);
  if (candidate === root) throw new InputError([{ field: DATABASE_FIELD, description: `"${given}" names the plugin's folder itself; give the path of a database file inside it` }]);
  const outside = `"${given}" is outside the folder the sqlite plugin may read (pluginSettings.sqlite.root); give a path inside it, relative to it`;
  if (!inside(root, candidate)) throw refuse(outside);
  // Follow links: the real path of the file, or of its nearest existing folder.
  let probe = candidate;
  for (;;) {
    try {
      const real = realpathSync(probe);
      if (probe === candidate) {
        if (!inside(root, real)) throw refuse(`"${given}" leads through a symbolic link out of the folder the sqlite plugin may read`);
        return { path: real, given, exists: true };
      }
      if (real !== root && !inside(root, real)) throw refuse(`"${given}" leads through a symbolic link out of the folder the sqlite plugin may read`);
      return { path: candidate, given, exists: false };
    } catch (error) {
      if (error instanceof InputError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new InputError([{ field: DATABASE_FIELD, description: `"${given}" cannot be resolved (${code ?? 'error'})` }]);
      const parent = dirname(probe);
      if (parent === probe) return { path: candidate, given, exists: false };
      probe = parent;
    }
  }
}
