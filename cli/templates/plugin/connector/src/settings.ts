import { isAbsolute } from 'node:path';
import { realpathSync, statSync } from 'node:fs';

/** The operator's settings: the daemon config's `pluginSettings.__ID__`. */
export interface __IDENT__Settings {
  /** The folder whose files the connector may open (absolute). Replace with what your driver needs (a default port, a TLS mode, ...). */
  root: string;
}

/**
 * Checks `pluginSettings.__ID__`; throws an Error naming the bad setting (the daemon lists the
 * plugin as FAILED with that message). Never take a secret from here: read it from a file or
 * the environment.
 */
export function parseSettings(value: unknown): __IDENT__Settings {
  const where = 'pluginSettings.__ID__';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where} must be an object such as { "root": "/srv/__ID__" }`);
  }
  const { root, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw new Error(`${where} has unknown settings: ${unknown.join(', ')} (known: root)`);
  if (typeof root !== 'string' || !isAbsolute(root)) throw new Error(`${where}.root must be an absolute folder path`);
  let real: string;
  try {
    real = realpathSync(root);
  } catch {
    throw new Error(`${where}.root "${root}" does not exist`);
  }
  if (!statSync(real).isDirectory()) throw new Error(`${where}.root "${root}" is not a folder`);
  return { root: real };
}
