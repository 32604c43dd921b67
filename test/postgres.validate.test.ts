import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pgSource } from './support/pg';
import { expectFailure, richStatusOf, startTestDaemon, type TestDaemon } from './support/testDaemon';
import { check, STATUS, statuses } from './support/validation';

// What every connector's validation shares (a plain run, TLS, a wrong password, a closed port,
// HYBRID, a silent server, the alias, bad input, the trace) runs in connectors.validate.test.ts.

describe('PostgreSQL validation', () => {
  const pg = inject('postgres');
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon();
  });
  afterAll(() => t.stop());

  it('fails at DNS for an unknown host', async () => {
    const events = await t.validate({ dataSource: pgSource(pg, { primary: { host: 'no-such-host.invalid', port: 5432, database: 'x' } }) });
    const dns = check(events, 'dns');
    expect(STATUS[dns.status]).toBe('FAILED');
    expect(dns.message).toContain('no-such-host.invalid');
    expect(statuses(events).tcp).toBe('SKIPPED');
  });

  /** Secrets by reference: env:// allowed by the default policy, resolved in the daemon. */
  it('resolves the password from an env:// reference and says so', async () => {
    process.env.SOURCED_SECRET_TEST_PG = pg.password;
    const events = await t.validate({
      dataSource: pgSource(pg, { credentials: { username: pg.user, password: { source: { $case: 'reference', value: 'env://SOURCED_SECRET_TEST_PG' } } } }),
    });
    expect(check(events, 'resolve-credentials').details['password.source']).toBe('env://SOURCED_SECRET_TEST_PG');
    expect(statuses(events).authenticate).toBe('PASSED');
  });

  /** A reference outside the policy fails the call with PERMISSION_DENIED before any check runs. */
  it('refuses env:// references outside the policy', async () => {
    process.env.NOT_FOR_CALLERS = 'x';
    const error = await expectFailure(
      t.validate({
        dataSource: pgSource(pg, { credentials: { username: pg.user, password: { source: { $case: 'reference', value: 'env://NOT_FOR_CALLERS' } } } }),
      }),
    );
    expect(error.code).toBe(7);
    const status = richStatusOf(error);
    expect(status.errorInfo).toMatchObject({ reason: 'SECRET_REFERENCE_NOT_ALLOWED', metadata: { field: 'data_source.credentials.password.reference' } });
    expect(status.message).toContain('does not allow env://NOT_FOR_CALLERS');
  });

  /** No file:// reference is allowed by default, so a caller cannot read the daemon's files. */
  it('refuses file:// references by default', async () => {
    const error = await expectFailure(
      t.validate({
        dataSource: pgSource(pg, {
          connectionProperties: { password: 'file:///etc/passwd' } as never,
          credentials: { username: pg.user, password: undefined },
        }),
      }),
    );
    expect(error.code).toBe(7);
    expect(richStatusOf(error).errorInfo?.metadata.field).toBe('data_source.connection_properties.password');
  });
});
