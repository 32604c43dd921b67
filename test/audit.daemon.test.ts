/**
 * The audit log as the daemon writes it: one line per call with the principal, the RPC, the
 * data source, the outcome and the trace, a chain that verifies, and no secret in it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_CONFIG } from '../daemon/src';
import { verifyAuditLog } from '../daemon/src/audit';
import { ListPluginsRequest } from '@sourced/api';
import { hashToken } from '../daemon/src/security/authenticate';
import { pgSource } from './support/pg';
import { captureText, registerSecret } from './support/secretScan';
import { collect, expectFailure, startTestDaemon } from './support/testDaemon';

describe('the audit log of a running daemon', () => {
  const pg = inject('postgres');
  const token = `audited-${randomBytes(12).toString('hex')}`;
  let dir: string;

  beforeAll(async () => {
    registerSecret('the audited token', token);
    dir = await mkdtemp(join(tmpdir(), 'sourced-audit-daemon-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('records every call, granted or refused, in a chain that verifies and holds no secret', async () => {
    const file = join(dir, 'audit.log');
    const t = await startTestDaemon({
      plugins: ['@sourced/plugin-postgres'],
      audit: { ...DEFAULT_CONFIG.audit, file, stdout: false },
      auth: { tokens: [{ principal: 'platform-ci', sha256: hashToken(token) }] },
      rbac: {
        roles: { pg: { rpcs: ['sourced.v1.DataSourceService/*'], connectors: ['postgres'], hosts: ['127.0.0.1'], secrets: [] } },
        bindings: { 'platform-ci': ['pg'] },
      },
    });
    const auth = new Metadata();
    auth.set('authorization', `Bearer ${token}`);
    try {
      // granted: a discovery with the password inline
      await collect(
        t.dataSources.discoverDataSource(
          { dataSource: pgSource(pg, { id: 'orders-db' }), strategy: 0, batchSize: 0, resumeAfter: '', maxEntities: 1, maxDurationMs: 0 },
          auth,
        ),
      );
      // refused: an RPC the role does not grant, and a call without credentials
      await expectFailure(
        new Promise((resolve, reject) => t.plugins.listPlugins(ListPluginsRequest.fromPartial({}), auth, (e, r) => (e ? reject(e) : resolve(r)))),
      );
      await expectFailure(
        new Promise((resolve, reject) => t.plugins.listPlugins(ListPluginsRequest.fromPartial({}), new Metadata(), (e, r) => (e ? reject(e) : resolve(r)))),
      );
    } finally {
      await t.stop();
    }
    const text = readFileSync(file, 'utf8');
    captureText('the audit log', text);
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.principal, l.rpc, l.outcome, l.code])).toEqual([
      ['platform-ci', 'sourced.v1.DataSourceService/DiscoverDataSource', 'OK', status.OK],
      ['platform-ci', 'sourced.v1.PluginService/ListPlugins', 'PERMISSION_DENIED', status.PERMISSION_DENIED],
      ['anonymous', 'sourced.v1.PluginService/ListPlugins', 'UNAUTHENTICATED', status.UNAUTHENTICATED],
    ]);
    expect(lines[0].data_source).toEqual({ id: 'orders-db', type: 'postgres', host: `${pg.host}:${pg.port}` });
    expect(lines[0].trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(await verifyAuditLog(file)).toMatchObject({ ok: true, lines: 3 });
    expect(text).not.toContain(pg.password);
  });
});
