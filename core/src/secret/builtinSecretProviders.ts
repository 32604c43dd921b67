import { NotFoundError } from '../errors';
import { policedRealPath, readPolicedFile } from './filePolicy';
import type { SecretProvider } from './SecretProvider';

/** `env://NAME`: an environment variable of the daemon's process. */
export const envSecretProvider: SecretProvider = {
  id: 'env',
  schemes: ['env'],
  description: 'environment variables of the daemon (env://NAME)',
  async resolve(reference) {
    const value = process.env[reference.target];
    if (value === undefined) {
      throw new NotFoundError('SECRET_NOT_FOUND', `environment variable ${reference.target} is not set`);
    }
    return value;
  },
};

/**
 * `file:///path`: a file on the daemon's host, such as a mounted Kubernetes or Docker secret.
 * The chain has matched the reference's name against its policy; here the real path (links
 * followed) must pass it too, outside /proc, /sys and /dev, and be a regular file. Every
 * refusal is one identical error, so an answer never tells whether a path exists.
 */
export const fileSecretProvider: SecretProvider = {
  id: 'file',
  schemes: ['file'],
  description: 'files on the daemon host (file:///run/secrets/name)',
  async resolve(reference, { signal, permits }) {
    // A host that passes no policy check allows no file.
    const text = await readPolicedFile(reference.target, reference.uri, permits ?? (() => false), signal);
    return text.replace(/\r?\n$/, '');
  },
  // The real path, checked on every look-up (a cached value too): a caller whose grants do
  // not cover where a link leads never gets what another caller's look-up cached.
  identity(reference, { signal, permits }) {
    return policedRealPath(reference.target, reference.uri, permits ?? (() => false), signal);
  },
};
