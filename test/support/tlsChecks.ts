import { CheckStatus, type CheckFinished } from '@sourced/api';
import type { ValidateDataSourceResponse } from '@sourced/api';
import { SslMode } from '@sourced/api';

export const STATUS: Record<number, string> = {
  [CheckStatus.CHECK_STATUS_PASSED]: 'PASSED',
  [CheckStatus.CHECK_STATUS_FAILED]: 'FAILED',
  [CheckStatus.CHECK_STATUS_WARNING]: 'WARNING',
  [CheckStatus.CHECK_STATUS_SKIPPED]: 'SKIPPED',
};

/** The finished event of one check, with its status as a word. */
export function checkOf(events: ValidateDataSourceResponse[], id: string): CheckFinished & { state: string } {
  const c = events.flatMap((e) => (e.event?.$case === 'checkFinished' ? [e.event.value] : [])).find((x) => x.checkId === id);
  if (!c) throw new Error(`no check ${id}`);
  return { ...c, state: STATUS[c.status] ?? String(c.status) };
}

/** An inline secret value. */
export const inline = (value: string) => ({ source: { $case: 'inlineValue' as const, value } });
/** A secret reference. */
export const reference = (value: string) => ({ source: { $case: 'reference' as const, value } });

/** TLS settings in the request's shape. */
export function sslConfig(o: {
  mode?: SslMode;
  ca?: string;
  cert?: string;
  key?: ReturnType<typeof inline> | ReturnType<typeof reference>;
  serverName?: string;
}) {
  return { mode: o.mode ?? SslMode.SSL_MODE_VERIFY_FULL, ca: o.ca ?? '', cert: o.cert ?? '', key: o.key, serverName: o.serverName ?? '' } as never;
}
