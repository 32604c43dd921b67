import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Paths (in `dir`) and PEM contents of a throwaway test PKI made by {@link makeCertificates}. */
export interface Certificates {
  /** Folder that holds every file below. */
  dir: string;
  /** Test CA certificate (`ca.crt`), self-signed, CN="sourced test CA". */
  caCert: string;
  /** Test CA private key (`ca.key`, mode 0600). */
  caKey: string;
  /** Server certificate (`server.crt`): CN=localhost, SAN DNS:localhost + IP:127.0.0.1, EKU serverAuth. */
  serverCert: string;
  /** Server private key (`server.key`, mode 0600). */
  serverKey: string;
  /** Client certificate (`client.crt`): CN=sourced_test, EKU clientAuth. */
  clientCert: string;
  /** Client private key (`client.key`, mode 0600). */
  clientKey: string;
  caCertPem: string;
  caKeyPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  clientCertPem: string;
  clientKeyPem: string;
}

/** Options for {@link makeCertificates}. */
export interface CertificateOptions {
  /** Validity of every certificate, in days. Default 90 (beyond the 30-day expiry warnings of TLS checks). */
  days?: number;
  /** CN of the client certificate. Default `sourced_test` (the harness's default role). */
  clientCommonName?: string;
}

const OPENSSL = process.env['OPENSSL_BIN'] ?? 'openssl';

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync(OPENSSL, args);
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`);
  }
}

function serial(): string {
  // Positive 63-bit serial, unique enough for throwaway certificates.
  const bytes = randomBytes(8);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return `0x${bytes.toString('hex')}`;
}

async function makeLeaf(
  dir: string,
  name: string,
  commonName: string,
  extensions: string[],
  ca: { cert: string; key: string },
  days: number,
): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const cert = join(dir, `${name}.crt`);
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${commonName}`]);
  await chmod(key, 0o600);
  await writeFile(ext, `${extensions.join('\n')}\n`);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-set_serial',
    serial(),
    '-days',
    String(days),
    '-sha256',
    '-extfile',
    ext,
    '-out',
    cert,
  ]);
  await chmod(cert, 0o644);
  await rm(csr, { force: true });
  await rm(ext, { force: true });
  return { cert, key };
}

/**
 * Makes a throwaway PKI with openssl (EC P-256, SHA-256, valid `days` days from now) in `dir`
 * (created if missing): a test CA, a server certificate for `localhost`/`127.0.0.1` and a client
 * certificate (CN=sourced_test), both signed by the CA. Keys are 0600 and owned by the caller;
 * copy the server pair elsewhere if another user (e.g. `postgres`) must read it.
 */
export async function makeCertificates(dir: string, opts: CertificateOptions = {}): Promise<Certificates> {
  const days = opts.days ?? 90;
  const clientCommonName = opts.clientCommonName ?? 'sourced_test';
  await mkdir(dir, { recursive: true, mode: 0o700 });

  const caCert = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    caKey,
    '-out',
    caCert,
    '-days',
    String(days),
    '-sha256',
    '-set_serial',
    serial(),
    '-subj',
    '/CN=sourced test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-addext',
    'subjectKeyIdentifier=hash',
  ]);
  await chmod(caKey, 0o600);
  await chmod(caCert, 0o644);
  const ca = { cert: caCert, key: caKey };

  const leafCommon = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyAgreement',
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid,issuer',
  ];
  const server = await makeLeaf(
    dir,
    'server',
    'localhost',
    [...leafCommon, 'extendedKeyUsage=serverAuth', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    ca,
    days,
  );
  const client = await makeLeaf(dir, 'client', clientCommonName, [...leafCommon, 'extendedKeyUsage=clientAuth'], ca, days);

  const [caCertPem, caKeyPem, serverCertPem, serverKeyPem, clientCertPem, clientKeyPem] = (await Promise.all(
    [caCert, caKey, server.cert, server.key, client.cert, client.key].map((p) => readFile(p, 'utf8')),
  )) as [string, string, string, string, string, string];

  return {
    dir,
    caCert,
    caKey,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    caCertPem,
    caKeyPem,
    serverCertPem,
    serverKeyPem,
    clientCertPem,
    clientKeyPem,
  };
}

/** Options for {@link makeServerCertificate}. */
export interface ServerCertificateOptions {
  /** File name stem in the PKI's folder (`<name>.crt`, `<name>.key`). */
  name: string;
  /** CN of the certificate. Default `localhost`. */
  commonName?: string;
  /** subjectAltName entries. Default `DNS:localhost`, `IP:127.0.0.1`. */
  altNames?: string[];
  /** Validity start and end (UTC). Default: from now for 90 days. Either may lie in the past or the future. */
  notBefore?: Date;
  notAfter?: Date;
}

/** Paths and PEM of one extra certificate made by {@link makeServerCertificate}. */
export interface ExtraCertificate {
  cert: string;
  key: string;
  certPem: string;
  keyPem: string;
}

/** `YYYYMMDDHHMMSSZ`, the date format of `openssl ca -startdate/-enddate`. */
function opensslDate(d: Date): string {
  return `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

/**
 * Makes one more server certificate signed by the CA of `pki`: any name and SANs (a certificate
 * for the wrong host), any validity window (an expired or a not-yet-valid certificate; made with
 * `openssl ca`, which accepts explicit dates).
 */
export async function makeServerCertificate(pki: Certificates, opts: ServerCertificateOptions): Promise<ExtraCertificate> {
  const dir = join(pki.dir, `${opts.name}.ca`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = join(pki.dir, `${opts.name}.key`);
  const csr = join(dir, 'req.csr');
  const cert = join(pki.dir, `${opts.name}.crt`);
  const conf = join(dir, 'ca.cnf');
  const notBefore = opts.notBefore ?? new Date();
  const notAfter = opts.notAfter ?? new Date(Date.now() + 90 * 86_400_000);
  const altNames = opts.altNames ?? ['DNS:localhost', 'IP:127.0.0.1'];
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(
    conf,
    [
      '[ca]',
      'default_ca = test',
      '[test]',
      `database = ${join(dir, 'index.txt')}`,
      `new_certs_dir = ${dir}`,
      `serial = ${join(dir, 'serial')}`,
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      'copy_extensions = none',
      'x509_extensions = leaf',
      '[any]',
      'commonName = supplied',
      '[leaf]',
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature,keyAgreement',
      'extendedKeyUsage = serverAuth',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid,issuer',
      `subjectAltName = ${altNames.join(',')}`,
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'serial'), `${serial().slice(2)}\n`);
  await openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    csr,
    '-subj',
    `/CN=${opts.commonName ?? 'localhost'}`,
  ]);
  await chmod(key, 0o600);
  await openssl([
    'ca',
    '-batch',
    '-notext',
    '-config',
    conf,
    '-in',
    csr,
    '-cert',
    pki.caCert,
    '-keyfile',
    pki.caKey,
    '-startdate',
    opensslDate(notBefore),
    '-enddate',
    opensslDate(notAfter),
    '-out',
    cert,
  ]);
  await chmod(cert, 0o644);
  await rm(dir, { recursive: true, force: true });
  const [certPem, keyPem] = await Promise.all([readFile(cert, 'utf8'), readFile(key, 'utf8')]);
  return { cert, key, certPem, keyPem };
}
