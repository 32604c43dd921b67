import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { ServerCredentials, experimental } from '@grpc/grpc-js';
import type { Logger } from '@sourced/core';
import { ConfigError, parseListen, type DaemonConfig } from '../config/DaemonConfig';

type ServerTlsConfig = NonNullable<DaemonConfig['server']['tls']>;
type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

interface Loaded {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  /** For the log: subject and expiry of the server certificate. */
  subject: string;
  notAfter: string;
}

/**
 * Reads the server certificate, key and client CA and checks them: the files parse, the key
 * belongs to the certificate. Throws a ConfigError naming the setting.
 */
function load(tls: ServerTlsConfig): Loaded {
  const read = (path: string, setting: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new ConfigError(`server.tls.${setting}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  };
  const cert = read(tls.cert, 'cert');
  const key = read(tls.key, 'key');
  const ca = tls.clientCa ? read(tls.clientCa, 'clientCa') : undefined;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (error) {
    throw new ConfigError(`server.tls.cert: ${tls.cert} is not a PEM certificate (${(error as Error).message})`);
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not belong to the certificate');
  } catch (error) {
    throw new ConfigError(`server.tls.key: ${tls.key} is not the key of ${tls.cert} (${(error as Error).message})`);
  }
  if (ca) {
    try {
      new X509Certificate(ca);
    } catch (error) {
      throw new ConfigError(`server.tls.clientCa: ${tls.clientCa} is not a PEM certificate (${(error as Error).message})`);
    }
  }
  return { cert, key, ca, subject: x509.subject.replace(/\n/g, ', '), notAfter: new Date(x509.validTo).toISOString() };
}

/**
 * The server's certificate, key and client CA, read from their files at start and again on
 * {@link reload} (SIGHUP): connections made afterwards get the new ones, open ones keep
 * theirs. A reload that fails (a file half-written, a key that does not match) keeps the
 * files in use and reports why. Serves as both providers of grpc-js's certificate-provider
 * credentials.
 */
export class ReloadableServerCertificates implements CertificateProvider {
  private current: Loaded;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();

  constructor(private readonly tls: ServerTlsConfig) {
    this.current = load(tls);
  }

  /** What is in use, for the log. */
  describe(): { subject: string; not_after: string; client_ca: boolean } {
    return { subject: this.current.subject, not_after: this.current.notAfter, client_ca: this.current.ca !== undefined };
  }

  /** Reads the files again; throws a ConfigError (and keeps the old ones) when they are not usable. */
  reload(): void {
    this.current = load(this.tls);
    for (const l of this.identityListeners) l({ certificate: this.current.cert, privateKey: this.current.key });
    if (this.current.ca) for (const l of this.caListeners) l({ caCertificate: this.current.ca });
  }

  // A new listener hears the current files on the next microtask, not at once: grpc-js adds
  // its own watcher only after it has registered the listener, and a synchronous update would
  // reach nobody (the server would then drop every connection as "credentials not loaded").
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    queueMicrotask(() => {
      if (this.caListeners.has(listener) && this.current.ca) listener({ caCertificate: this.current.ca });
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => {
      if (this.identityListeners.has(listener)) listener({ certificate: this.current.cert, privateKey: this.current.key });
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}

/** Whether a listen host is a loopback address (or `localhost`), where plaintext stays on the machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The transport the daemon serves: TLS (mutual when a client CA is set) or, where allowed, plaintext. */
export interface ServerTransport {
  credentials: ServerCredentials;
  /** Re-reads the certificate files (TLS only; a no-op for plaintext). */
  reload(): void;
  /** For the start-up log line. */
  describe(): Record<string, unknown>;
}

/**
 * The server credentials from `server`: TLS from files when `server.tls` is set (with
 * `clientCa`, mutual TLS: every client must present a certificate that CA signed);
 * plaintext otherwise, which is refused on anything but a loopback address unless
 * `server.allowPlaintext` says so.
 */
export function serverTransport(config: DaemonConfig, logger: Logger): ServerTransport {
  const { tls, allowPlaintext } = config.server;
  if (!tls) {
    const { host } = parseListen(config.listen, 'listen');
    if (!isLoopback(host) && !allowPlaintext) {
      throw new ConfigError(
        `refusing to serve plaintext on ${config.listen}: anyone on the network could call the daemon and read what it returns. ` +
          'Set server.tls (cert, key, and clientCa for mutual TLS), listen on 127.0.0.1, or set server.allowPlaintext: true (for example behind a TLS-terminating proxy).',
      );
    }
    return { credentials: ServerCredentials.createInsecure(), reload: () => undefined, describe: () => ({ transport: 'plaintext' }) };
  }
  const certificates = new ReloadableServerCertificates(tls);
  const mutual = tls.clientCa !== undefined;
  // grpc-js 1.14 takes (identity provider, CA provider or null, require client certificate);
  // one object serves as both.
  const credentials = experimental.createCertificateProviderServerCredentials(certificates, mutual ? certificates : null, mutual);
  return {
    credentials,
    reload: () => {
      certificates.reload();
      logger.info('server certificates reloaded', certificates.describe());
    },
    describe: () => ({ transport: mutual ? 'mtls' : 'tls', ...certificates.describe() }),
  };
}
