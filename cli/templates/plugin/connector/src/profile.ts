/**
 * Profiles (capability `profile`, which needs `preview`), not declared yet: the conformance
 * kit skips its profile tests until you add `profile: storeProfile` to the connector.
 *
 * `profileTable(conn, read, signal)` yields the table first (`{ kind: 'table', ... }`), then
 * one item per column of `read.columns` as soon as it is done. `read.mode` is STATISTICS (only
 * what the database keeps: no scan of the data) or SAMPLE (a bounded sample read under the
 * statement time limit). Every figure says how it was obtained (exact, estimate, sample):
 * docs/plugins.md "Preview and profile" lists the items and their figures.
 */
import type { ProfileSpec } from '@sourced/plugin-sdk';
import type { Store } from './store';

export const storeProfile: ProfileSpec<Store> = {
  // eslint-disable-next-line require-yield -- a stub: implement it before declaring the capability
  async *profileTable() {
    throw new Error('profileTable is not implemented yet (src/profile.ts)');
  },
};
