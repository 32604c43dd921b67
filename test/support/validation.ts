import type { ValidateDataSourceResponse } from '@sourced/api';
import { CheckStatus, type CheckFinished } from '@sourced/api';

/** Check statuses by name, as a person reads them. */
export const STATUS: Record<number, string> = {
  [CheckStatus.CHECK_STATUS_PASSED]: 'PASSED',
  [CheckStatus.CHECK_STATUS_FAILED]: 'FAILED',
  [CheckStatus.CHECK_STATUS_WARNING]: 'WARNING',
  [CheckStatus.CHECK_STATUS_SKIPPED]: 'SKIPPED',
};

/** The finished checks of a validation stream, in order. */
export function finished(events: ValidateDataSourceResponse[]): CheckFinished[] {
  return events.flatMap((e) => (e.event?.$case === 'checkFinished' ? [e.event.value] : []));
}

/** Each check's status by id. */
export function statuses(events: ValidateDataSourceResponse[]): Record<string, string> {
  return Object.fromEntries(finished(events).map((c) => [c.checkId, STATUS[c.status]]));
}

/** One finished check; throws when the stream has none with that id. */
export function check(events: ValidateDataSourceResponse[], id: string): CheckFinished {
  const c = finished(events).find((x) => x.checkId === id);
  if (!c) throw new Error(`no check ${id}`);
  return c;
}

/** The closing summary; throws when the stream did not end with one. */
export function summary(events: ValidateDataSourceResponse[]) {
  const last = events.at(-1)?.event;
  if (last?.$case !== 'summary') throw new Error('the stream did not end with a summary');
  return last.value;
}
