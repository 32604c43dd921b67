import { DEFAULT_CONFIG, type DaemonConfig } from '../../daemon/src';

/**
 * Daemon settings whose secret policy also allows the files under these folders (as
 * `file://<folder>/*`), for suites that name TLS files by path: by default a daemon reads
 * no path at all.
 */
export function allowingFiles(...folders: string[]): Pick<DaemonConfig, 'secrets'> {
  const { secrets } = DEFAULT_CONFIG;
  return { secrets: { ...secrets, allowedReferences: [...secrets.allowedReferences, ...folders.map((f) => `file://${f}/*`)] } };
}
