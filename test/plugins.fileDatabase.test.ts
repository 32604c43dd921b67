import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from '@sourced/api';
import {
  bytesCell,
  definePlugin,
  defineFileConnector,
  fileRootSetting,
  integerCell,
  jsonCell,
  NotFoundError,
  renderAs,
  timestampCell,
  withStatementLimit,
  type Cell,
  type FileOpenRequest,
  type ValueKind,
} from '../sdk/src';
import { expectFailure, previewOf, richStatusOf, startTestDaemon, type TestDaemon } from '../sdk/src/testing';

/** A database of JSON files: { tables: { name: { columns: [{ name, type }], rows: [[...]] } } }. */
interface JsonDatabase {
  tables: Record<string, { columns: { name: string; type: ValueKind }[]; rows: unknown[][] }>;
}

const opened: FileOpenRequest[] = [];
let cancelled = 0;

/** A file-database plugin written with the SDK's helpers only: defineFileConnector, fileRootSetting, renderers, withStatementLimit. */
const jsonFiles = definePlugin({
  id: 'json-files',
  version: '1.0.0',
  sdk: '^1.4.0',
  register(registrar) {
    const root = fileRootSetting(registrar.settings, 'json-files');
    registrar.registerConnector(
      defineFileConnector<{ db: JsonDatabase }>({
        type: 'json-files',
        displayName: 'JSON files',
        root,
        open: async (request) => {
          opened.push(request);
          const { readFile } = await import('node:fs/promises');
          return { db: JSON.parse(await readFile(request.file.path, 'utf8')) as JsonDatabase };
        },
        close: () => Promise.resolve(),
        preview: {
          previewColumns: (conn, table, columns) => {
            const t = conn.db.tables[table.name];
            if (table.schema !== 'main' || !t) return Promise.reject(new NotFoundError('TABLE_NOT_FOUND', `no table ${table.schema}.${table.name}`));
            return Promise.resolve(t.columns.filter((c) => columns.length === 0 || columns.includes(c.name)));
          },
          previewRows: (conn, read, signal) =>
            withStatementLimit(
              read.table.name === 'slow' ? 100 : 10_000,
              signal,
              async (limited) => {
                // The "slow" table never answers: only the limit ends its statement.
                if (read.table.name === 'slow') await new Promise((resolve) => limited.addEventListener('abort', resolve));
                const t = conn.db.tables[read.table.name];
                const at = read.columns.map((c) => t.columns.findIndex((x) => x.name === c.name));
                return t.rows.slice(0, read.limit).map((row): Cell[] => at.map((i) => renderAs(t.columns[i].type, decode(row[i]))));
              },
              () => void cancelled++,
              { reason: 'PREVIEW_READ_TIMEOUT', what: `the rows of ${read.table.schema}.${read.table.name}` },
            ),
        },
      }),
    );
  },
});

/** JSON has no bigint, Date or bytes: the fixture writes them as tagged strings. */
function decode(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  if (v.startsWith('big:')) return BigInt(v.slice(4));
  if (v.startsWith('date:')) return new Date(v.slice(5));
  if (v.startsWith('hex:')) return Buffer.from(v.slice(4), 'hex');
  return v;
}

describe('a file database connector from the SDK helpers', () => {
  let t: TestDaemon;
  let dir: string;
  beforeAll(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'sourced-json-files-')));
    mkdirSync(join(dir, 'root'));
    const db: JsonDatabase = {
      tables: {
        orders: {
          columns: [
            { name: 'id', type: 'integer' },
            { name: 'placed', type: 'timestamp' },
            { name: 'raw', type: 'bytes' },
            { name: 'doc', type: 'json' },
          ],
          rows: [
            ['big:9223372036854775807', 'date:2024-03-01T09:30:00.123Z', 'hex:00ff10', { a: [1, 2] }],
            ['not a number', 'date:-000043-03-15T00:00:00Z', 'hex:', null],
          ],
        },
        slow: { columns: [{ name: 'id', type: 'integer' }], rows: [[1]] },
      },
    };
    writeFileSync(join(dir, 'root/shop.json'), JSON.stringify(db));
    writeFileSync(join(dir, 'outside.json'), JSON.stringify(db));
    symlinkSync(join(dir, 'outside.json'), join(dir, 'root/link.json'));
    t = await startTestDaemon({ plugins: [jsonFiles], config: { pluginSettings: { 'json-files': { root: join(dir, 'root') } } } });
  });
  afterAll(async () => {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const source = (database: string, extra: Partial<DataSource> = {}) =>
    DataSource.fromPartial({ type: 'json-files', primary: { host: '', port: 0, database }, ...extra });
  const preview = (database: string, name: string, extra: Partial<DataSource> = {}) =>
    t.preview({ dataSource: source(database, extra), table: { schema: 'main', name } });

  /** Values come out in the contract's forms; a value that does not fit its column's kind is `other`; the file was opened read-only. */
  it('previews through the daemon with the renderers, opened read-only', async () => {
    const { columns, rows } = previewOf(await preview('shop.json', 'orders'));
    expect(columns).toEqual(['id', 'placed', 'raw', 'doc']);
    expect(rows).toEqual([
      [
        { value: { $case: 'integer', value: '9223372036854775807' } },
        { value: { $case: 'timestamp', value: '2024-03-01T09:30:00.123+00:00' } },
        { value: { $case: 'bytesBase64', value: 'AP8Q' } },
        { value: { $case: 'json', value: '{"a":[1,2]}' } },
      ],
      [
        { value: { $case: 'other', value: 'not a number' } },
        { value: { $case: 'timestamp', value: '-0043-03-15T00:00:00+00:00' } },
        { value: { $case: 'bytesBase64', value: '' } },
        { value: { $case: 'null', value: 0 } },
      ],
    ]);
    expect(opened.at(-1)).toMatchObject({ readOnly: true, file: { path: join(dir, 'root/shop.json'), given: 'shop.json', exists: true } });
  });

  /** Paths stay under the operator's root: `..` and a symbolic link out are refused naming the field. */
  it('refuses paths outside the root', async () => {
    for (const database of ['../outside.json', join(dir, 'outside.json'), 'link.json']) {
      const status = richStatusOf(await expectFailure(preview(database, 'orders')));
      expect([status.grpcCode, status.errorInfo?.reason, status.badRequest?.[0]?.field], database).toEqual([
        3,
        'DATABASE_PATH_OUTSIDE_ROOT',
        'data_source.primary.database',
      ]);
      expect(status.message).not.toContain(join(dir, 'root'));
    }
  });

  /** A file has no standby. */
  it('refuses a secondary endpoint', async () => {
    const status = richStatusOf(await expectFailure(preview('shop.json', 'orders', { secondary: { host: '', port: 0, database: 'shop.json' } })));
    expect(status.grpcCode).toBe(3);
    expect(status.badRequest?.map((v) => v.field)).toContain('data_source.secondary');
  });

  /** The statement limit cancels the running statement and fails with the reason given. */
  it('cancels a statement past its time limit', async () => {
    const before = cancelled;
    const status = richStatusOf(await expectFailure(preview('shop.json', 'slow')));
    expect([status.grpcCode, status.errorInfo?.reason]).toEqual([9, 'PREVIEW_READ_TIMEOUT']);
    expect(status.message).toBe('the rows of main.slow ran longer than the statement time limit of 100 ms and was cancelled');
    expect(cancelled).toBe(before + 1);
  });
});

/** Renderers alone: exact integers, RFC 3339 instants and expanded years, base64, JSON with bigints. */
describe('value renderers', () => {
  it('render in the forms sourced.v1.Cell documents', () => {
    expect(integerCell(-9223372036854775808n)).toEqual({ kind: 'integer', value: '-9223372036854775808' });
    expect(() => integerCell(2 ** 60)).toThrow(RangeError);
    expect(timestampCell(new Date(Date.UTC(10000, 0, 1)))).toEqual({ kind: 'timestamp', value: '+10000-01-01T00:00:00+00:00' });
    expect(bytesCell(new Uint8Array([0, 255, 16]))).toEqual({ kind: 'bytes', value: 'AP8Q' });
    expect(jsonCell({ n: 12345678901234567890n })).toEqual({ kind: 'json', value: '{"n":"12345678901234567890"}' });
  });
});
