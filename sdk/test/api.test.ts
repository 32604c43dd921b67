import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_CHANGED_MESSAGE, generateApiReports } from '../scripts/api-report';
import { findRepoRoot } from '../scripts/apiModel';

const root = findRepoRoot(__dirname);
const reports = generateApiReports(root);

describe('plugin SDK API report', () => {
  /** The public types of every SDK entry are exactly the committed report: a change must be deliberate (and versioned). */
  it.each(reports.map((r) => [r.entry.specifier, r] as const))('%s matches its committed report', (_specifier, report) => {
    const path = join(root, report.entry.report);
    const committed = existsSync(path) ? readFileSync(path, 'utf8') : '';
    expect(report.text, `${report.entry.report}: ${API_CHANGED_MESSAGE}`).toBe(committed);
  });

  /** The report is the same every time it is built: sorted, with no machine-specific path. */
  it('is deterministic and holds no absolute path', () => {
    const again = generateApiReports(root);
    expect(again.map((r) => r.text)).toEqual(reports.map((r) => r.text));
    for (const r of reports) expect(r.text).not.toMatch(/(^|[\s"'(])\/(work|home|Users|tmp)\//m);
  });
});
