/**
 * A TLS file the daemon cannot read (`ssl_config.ca` naming a file that is missing, or a
 * directory), through the CLI against a daemon process, as docs/cli.md's exit codes say: in an
 * allowed folder, `validate` fails its *Resolve credentials* check naming the field, the path
 * and the fix (exit 1) and `discover` ends with `PERMISSION_DENIED` and the same hint (exit 4);
 * outside the allowed folders both end with `PERMISSION_DENIED` before the call (exit 4). The
 * answer is the same whether the file is missing or unreadable (the file policy never tells
 * whether a path exists), and no secret is printed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli, startDaemonProcess, type DaemonProcess } from './support/processes';

describe('sourced validate and discover with a TLS file that cannot be read', () => {
  const pg = inject('postgresTls');
  const dir = mkdtempSync(join(tmpdir(), 'sourced-cli-tlsfile-'));
  const allowed = join(dir, 'tls');
  let daemon: DaemonProcess;
  const env = { PG_TLS_FILE_PASSWORD: pg.password };
  const sourced = (...args: string[]) => runCli([...args, '--address', daemon.address], env);

  /** A data-source file for the TLS server whose `ssl_config.ca` is `ca`. */
  function sourceWithCa(name: string, ca: string): string {
    const file = join(dir, `${name}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        type: 'postgres',
        primary: { host: pg.host, port: pg.port, database: pg.database },
        credentials: { username: pg.user, password: 'env://PG_TLS_FILE_PASSWORD' },
        ssl_config: { mode: 'VERIFY_FULL', ca },
      }),
    );
    return file;
  }

  beforeAll(async () => {
    mkdirSync(join(allowed, 'a-directory'), { recursive: true });
    writeFileSync(join(allowed, 'ca.pem'), pg.caCertPem ?? '');
    daemon = await startDaemonProcess({
      env: { ...env, SOURCED_SECRETS_ALLOWED_REFERENCES: `env://PG_TLS_FILE_PASSWORD,file://${allowed}/*` },
    });
  });
  afterAll(async () => {
    await daemon?.terminate();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The CA file that is there: valid (the failures below come from the file, nothing else). */
  it('validates with the CA file in the allowed folder', async () => {
    const r = await sourced('validate', sourceWithCa('present', join(allowed, 'ca.pem')));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\[ok {2}\] TLS handshake .*issued by sourced test CA$/m);
  });

  /** validate: a failed check naming ssl_config.ca, the path and the fix, the same for a missing file and a directory; exit 1. */
  it('validate fails the Resolve credentials check with the path and a hint, exit 1', async () => {
    const outputs = new Set<string>();
    for (const name of ['missing.pem', 'a-directory']) {
      const path = join(allowed, name);
      const r = await sourced('validate', sourceWithCa(name, path));
      expect(r.code, r.stdout + r.stderr).toBe(1);
      const line = r.stdout.split('\n').find((l) => l.includes('Resolve credentials')) ?? '';
      expect(line).toMatch(/^\[FAIL\] Resolve credentials /);
      expect(line).toContain(`data_source.ssl_config.ca (${path}): the daemon did not read this path`);
      expect(line).not.toMatch(/ENOENT|EISDIR|no such file/i);
      expect(r.stdout).toContain("The file is read on the daemon's host: check there that it exists and is a readable regular file");
      expect(r.stdout).toMatch(/^\[skip\] TLS handshake/m);
      expect(r.stdout).toMatch(/^NOT valid in \d+ ms$/m);
      outputs.add(r.stdout.replaceAll(path, 'PATH').replace(/\d+(\.\d+)? ms/g, 'N ms'));
    }
    expect(outputs.size).toBe(1);
  });

  /** discover: PERMISSION_DENIED with SSL_PATH_NOT_ALLOWED's message and hint; exit 4, as for a path the policy refuses. */
  it('discover ends with PERMISSION_DENIED naming the field and the fix, exit 4', async () => {
    const stderrs = new Set<string>();
    for (const ca of [join(allowed, 'missing.pem'), join(allowed, 'a-directory'), join(dir, 'outside.pem')]) {
      const r = await sourced('discover', sourceWithCa('discover', ca));
      expect(r.code, r.stdout + r.stderr).toBe(4);
      expect(r.stderr).toMatch(/^sourced: PERMISSION_DENIED: data_source\.ssl_config\.ca: the daemon did not read this path/);
      expect(r.stderr).toContain("  hint: The file is read on the daemon's host");
      expect(r.stderr).not.toContain(ca);
      stderrs.add(r.stderr);
    }
    expect(stderrs.size).toBe(1);
  });

  /** validate with a path outside the allowed folders: refused before the call, exit 4, the same words. */
  it('validate refuses a path outside the allowed folders before the call, exit 4', async () => {
    const r = await sourced('validate', sourceWithCa('outside', join(dir, 'outside.pem')));
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stdout).not.toContain('Resolve credentials');
    expect(r.stderr).toMatch(/^sourced: PERMISSION_DENIED: data_source\.ssl_config\.ca: the daemon did not read this path/);
    expect(r.stderr).toContain("  hint: The file is read on the daemon's host");
  });

  /** Each command's help says where such a file lands. */
  it("says so in validate's and discover's help", async () => {
    const validate = await runCli(['validate', '--help']);
    expect(validate.stdout.replace(/\s+/g, ' ')).toContain('1 not valid (a check failed: credentials or a TLS file that cannot be read');
    const discover = await runCli(['discover', '--help']);
    expect(discover.stdout.replace(/\s+/g, ' ')).toContain('PERMISSION_DENIED: a reference or host the policy refuses, a TLS file the daemon does not read');
  });
});
