import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { FigureMethod, ProfileMode, type ProfileTableResponse } from '@sourced/api';
import { CONNECTOR_TESTS } from '../src/testing';
import { check, ConformanceFailure, none } from '../src/testing/conformance/shared';
import { previewCellProblems, sampleProfileProblems } from '../src/testing/conformance/valueChecks';

const repo = resolve(__dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'sourced-kit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** What a person reads when a check fails. */
function failureOf(run: () => void): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConformanceFailure);
    return (error as Error).message;
  }
  throw new Error('the check passed');
}

describe('conformance kit messages', () => {
  /** A failed check says what was checked, what was expected and what came; nothing of vitest's diff or the kit's stack. */
  it('reads as what, expected and got', () => {
    expect(failureOf(() => check(3, 'summary.rows of the preview of main.orders (the rows sent)').toBe(2))).toBe(
      'summary.rows of the preview of main.orders (the rows sent): expected 2, got 3',
    );
    expect(failureOf(() => check(['validate'], 'the capabilities of connector sqlite').toContainAll(['validate', 'discover']))).toBe(
      "the capabilities of connector sqlite: expected a list holding [ 'validate', 'discover' ], got [ 'validate' ]",
    );
    expect(failureOf(() => none(['row 1, column id: a', 'row 2, column id: b'], 'cells that differ'))).toBe(
      'cells that differ:\n  - row 1, column id: a\n  - row 2, column id: b',
    );
    const error = (() => {
      try {
        check(1, 'x').toBe(2);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.stack).toBe('ConformanceFailure: x: expected 2, got 1');
  });

  /** Preview values: each in its kind's form, one kind per column; the message names table, row and column. */
  it('checks the form of previewed values', () => {
    const rows = [
      [
        { value: { $case: 'integer' as const, value: '9223372036854775807' } },
        { value: { $case: 'timestamp' as const, value: '2024-03-01T09:30:00.123456+00:00' } },
        { value: { $case: 'bytesBase64' as const, value: 'AP8Q' } },
      ],
      [
        { value: { $case: 'integer' as const, value: '1.5' } },
        { value: { $case: 'text' as const, value: '2024-03-01 09:30' } },
        { value: { $case: 'bytesBase64' as const, value: 'AP8' } },
      ],
      [
        { value: { $case: 'null' as const, value: 0 } },
        { value: { $case: 'timestamp' as const, value: '-infinity' } },
        { value: { $case: 'masked' as const, value: true } },
      ],
    ];
    expect(previewCellProblems('main.t', ['id', 'at', 'raw'], rows)).toEqual([
      'main.t, row 2, column id: integer "1.5" is not decimal digits with an optional sign',
      'main.t, row 2, column at: expected kind timestamp (as in row 1: one kind per column), got text',
      'main.t, row 2, column raw: bytesBase64 "AP8" is not base64 with padding (RFC 4648)',
    ]);
  });

  /** SAMPLE profiles: mode, sample size and method, shares and most common values in range, no STATISTICS figure. */
  it('checks SAMPLE profile figures', () => {
    const events: ProfileTableResponse[] = [
      {
        sequence: 1,
        event: {
          $case: 'header',
          value: {
            mode: ProfileMode.PROFILE_MODE_STATISTICS,
            rowCount: 1000,
            rowCountExact: true,
            sampleRows: 500,
            endpoint: 1,
            source: 'a sample',
            rowCountMethod: FigureMethod.FIGURE_METHOD_EXACT,
            sampleMethod: '',
          },
        },
      },
      {
        sequence: 2,
        event: {
          $case: 'column',
          value: {
            name: 'total',
            dataType: 'numeric',
            nullFraction: 1.5,
            distinctCount: 10,
            distinctExact: true,
            mostCommon: [{ frequency: 0.1 }, { frequency: 0.4 }],
            histogramBounds: [],
            types: [],
            masked: false,
            noStatistics: false,
            methods: {
              nullFraction: FigureMethod.FIGURE_METHOD_SAMPLED,
              distinctCount: FigureMethod.FIGURE_METHOD_STATISTICS,
              minMax: 0,
              mostCommon: FigureMethod.FIGURE_METHOD_SAMPLED,
              histogram: 0,
              averageLength: 0,
            },
          },
        },
      },
      { sequence: 3, event: { $case: 'summary', value: { columns: 1, maskedColumns: [], durationMs: 1 } } },
    ];
    expect(sampleProfileProblems('main.orders', events)).toEqual([
      'main.orders: header.mode: expected SAMPLE (2), got 1',
      'main.orders: header.sample_rows: expected at most the 200 rows asked for, got 500',
      'main.orders: header.sample_method: expected how the rows were chosen (for example "every row"), got ""',
      'main.orders, column "total": null_fraction: expected a share 0..1, got 1.5',
      'main.orders, column "total": distinct_exact: expected false (the sample read 500 of 1000 rows), got true',
      'main.orders, column "total": most_common: expected most frequent first, got 0.1 before 0.4',
      'main.orders, column "total": methods.distinctCount: expected SAMPLED or EXACT in SAMPLE mode, got STATISTICS',
    ]);
  });
});

describe('conformance kit on a plugin that cannot load', () => {
  /**
   * The daemon starts but the plugin fails to register: the first test fails once with the
   * loader's own error, and every other test is skipped pointing at it (not ten UNAVAILABLEs).
   */
  it('reports one root cause and skips the rest', async () => {
    const report = join(scratch, 'report.json');
    await promisify(execFile)(
      process.execPath,
      [join(repo, 'node_modules/vitest/vitest.mjs'), 'run', '--root', join(repo, 'test/fixtures/kit'), '--reporter=json', `--outputFile=${report}`],
      { cwd: repo, env: { ...process.env, CI: '1' }, timeout: 240_000 },
    ).catch((error: unknown) => error); // the run fails: that is the point
    const results = JSON.parse(readFileSync(report, 'utf8')) as {
      testResults: { assertionResults: { title: string; status: string; failureMessages: string[] }[] }[];
    };
    const tests = results.testResults.flatMap((f) => f.assertionResults);
    const failed = tests.filter((t) => t.status === 'failed');
    expect(failed.map((t) => t.title)).toEqual([CONNECTOR_TESTS.listed]);
    expect(failed[0].failureMessages[0]).toContain(
      'ConformanceFailure: the daemon could not load the plugin under test:\n  - half-done (' +
        join(repo, 'test/fixtures/plugins/throws-in-register.cjs') +
        '): register() failed: registration failed on purpose',
    );
    expect(tests.filter((t) => t.status !== 'failed').every((t) => t.status === 'skipped' || t.status === 'pending')).toBe(true);
    expect(tests.length).toBeGreaterThan(10);
  }, 300_000);
});
