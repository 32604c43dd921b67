import { NotFoundError } from '../errors';
import { policedRealPath, readPolicedFile } from './filePolicy';
import type { SecretProvider, SecretProviderContext } from './SecretProvider';

/** `env://NAME`: an environment variable of the daemon's process. */
export const envSecretProvider: SecretProvider = {
  id: 'env',
  schemes: ['env'],
  description: 'environment variables of the daemon (env://NAME)',
  resolve(reference) {
    const value = process.env[reference.target];
    if (value === undefined) {
      return Promise.reject(new NotFoundError('SECRET_NOT_FOUND', `environment variable ${reference.target} is not set`));
    }
    return Promise.resolve(value);
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
  async resolve(reference, context) {
    const text = await readPolicedFile(reference.target, reference.uri, permitsOf(context), context.signal);
    return text.replace(/\r?\n$/, '');
  },
  // The real path, checked on every look-up (a cached value too): a caller whose grants do
  // not cover where a link leads never gets what another caller's look-up cached.
  identity(reference, context) {
    return policedRealPath(reference.target, reference.uri, permitsOf(context), context.signal);
  },
};

/** The context's policy check, called on the context; a host that passes no policy check allows no file. */
function permitsOf(context: SecretProviderContext): (reference: string) => boolean {
  return (reference) => context.permits?.(reference) ?? false;
}
