import { readFile } from 'node:fs/promises';
import { NotFoundError } from '../errors';
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

/** `file:///path`: a file on the daemon's host, such as a mounted Kubernetes or Docker secret. */
export const fileSecretProvider: SecretProvider = {
  id: 'file',
  schemes: ['file'],
  description: 'files on the daemon host (file:///run/secrets/name)',
  async resolve(reference, { signal }) {
    try {
      const text = await readFile(reference.target, { encoding: 'utf8', signal });
      return text.replace(/\r?\n$/, '');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new NotFoundError('SECRET_NOT_FOUND', `file ${reference.target} does not exist`);
      throw new NotFoundError('SECRET_UNREADABLE', `file ${reference.target} cannot be read (${code ?? 'error'})`);
    }
  },
};
