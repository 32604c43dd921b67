import { describe, expect, it } from 'vitest';
import { findRepoRoot } from '../scripts/apiModel';
import { findUndocumented } from '../scripts/tsdoc-report';

const reports = findUndocumented(findRepoRoot(__dirname));

describe('plugin SDK TSDoc', () => {
  /** Every export of each SDK entry, and every non-private member of its interfaces and classes, has a doc comment in the built declarations. */
  it.each(reports.map((r) => [r.entry.specifier, r] as const))('documents every export and member of %s', (specifier, report) => {
    expect(report.missing, `these exports and members of ${specifier} have no doc comment (write one where they are declared, then \`npm run build\`)`).toEqual(
      [],
    );
  });

  /** The check covers both entry points, so neither can drop out of it unnoticed. */
  it('covers @sourced/plugin-sdk and @sourced/plugin-sdk/testing', () => {
    expect(reports.map((r) => r.entry.specifier)).toEqual(['@sourced/plugin-sdk', '@sourced/plugin-sdk/testing']);
  });
});
