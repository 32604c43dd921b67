/**
 * What the connector conformance suite checks in a stream, as pure functions over its events:
 * the shape of a validation stream and its finished checks, discovery's entities and order,
 * a type fixture's previewed cells, and a failed call's google.rpc.Status.
 */
import type { ServiceError } from '@grpc/grpc-js';
import type { DiscoverDataSourceResponse, ValidateDataSourceResponse } from '@sourced/api';
import type { Collection, Relation } from '@sourced/api';
import { CheckStatus, EndpointRole } from '@sourced/api';
import type { Cell as PreviewCell } from '@sourced/api';
import { richStatusOf } from '../startTestDaemon';
import type { ExpectedCell, TypeFixture } from './types';
import type { RichStatus } from '@sourced/api';

type Entity = { key: string; schema: string; name: string };

export const relationsOf = (events: DiscoverDataSourceResponse[]): Relation[] =>
  events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.relations : []));
export const collectionsOf = (events: DiscoverDataSourceResponse[]): Collection[] =>
  events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.collections : []));

/** Relations and collections of a stream in arrival order, keyed by (schema, name). */
export function entitiesOf(events: DiscoverDataSourceResponse[]): Entity[] {
  const out: Entity[] = [];
  for (const e of events) {
    if (e.event?.$case !== 'batch') continue;
    for (const r of e.event.value.relations) out.push({ key: `${r.schema}.${r.name}`, schema: r.schema, name: r.name });
    for (const c of e.event.value.collections) out.push({ key: `${c.database}.${c.name}`, schema: c.database, name: c.name });
  }
  return out;
}

/** Core's discovery order (`compareRelationKeys`): schema, then name, by UTF-8 bytes. */
export function compareKeys(a: Entity, b: Entity): number {
  return Buffer.compare(Buffer.from(a.schema), Buffer.from(b.schema)) || Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
}

const ROLE: Partial<Record<number, string>> = { [EndpointRole.ENDPOINT_ROLE_PRIMARY]: 'primary', [EndpointRole.ENDPOINT_ROLE_SECONDARY]: 'secondary' };
const STATUS: Partial<Record<number, string>> = {
  [CheckStatus.CHECK_STATUS_PASSED]: 'PASSED',
  [CheckStatus.CHECK_STATUS_FAILED]: 'FAILED',
  [CheckStatus.CHECK_STATUS_WARNING]: 'WARNING',
  [CheckStatus.CHECK_STATUS_SKIPPED]: 'SKIPPED',
};
const roleName = (r: number) => ROLE[r] ?? `role ${r}`;

/** Problems with the shape of a validation stream (order, pairing, ids, reports, summary); empty when it is well formed. */
export function validationStreamProblems(events: ValidateDataSourceResponse[]): string[] {
  const problems: string[] = [];
  events.forEach((e, i) => {
    if (e.sequence !== i + 1) problems.push(`event ${i + 1} has sequence number ${e.sequence} (must be ${i + 1}: from 1, without gaps)`);
  });
  let open: { checkId: string; endpoint: EndpointRole } | undefined;
  const seen = new Map<number, Set<string>>();
  const checked = new Set<number>();
  const reported = new Set<number>();
  events.forEach((e, i) => {
    const ev = e.event;
    const at = `event ${i + 1}`;
    if (!ev) return problems.push(`${at} carries no event`);
    if (ev.$case === 'summary' && i !== events.length - 1) problems.push(`${at} is a summary before the end of the stream`);
    if (ev.$case !== 'checkFinished' && open) problems.push(`${at} (${ev.$case}) came before check "${open.checkId}" finished`);
    switch (ev.$case) {
      case 'checkStarted': {
        if (open) break;
        const ids = seen.get(ev.value.endpoint) ?? new Set<string>();
        seen.set(ev.value.endpoint, ids);
        if (!ev.value.checkId) problems.push(`${at}: a check started without a check id`);
        if (ids.has(ev.value.checkId)) problems.push(`${at}: check id "${ev.value.checkId}" runs twice on the ${roleName(ev.value.endpoint)} endpoint`);
        if (reported.has(ev.value.endpoint))
          problems.push(`${at}: check "${ev.value.checkId}" started after the ${roleName(ev.value.endpoint)} endpoint's report`);
        ids.add(ev.value.checkId);
        checked.add(ev.value.endpoint);
        open = { checkId: ev.value.checkId, endpoint: ev.value.endpoint };
        break;
      }
      case 'checkFinished':
        if (!open) problems.push(`${at}: check "${ev.value.checkId}" finished without a checkStarted before it`);
        else if (open.checkId !== ev.value.checkId || open.endpoint !== ev.value.endpoint) {
          problems.push(`${at}: check "${ev.value.checkId}" finished while "${open.checkId}" was the one started`);
        }
        open = undefined;
        break;
      case 'report':
        if (reported.has(ev.value.endpoint)) problems.push(`${at}: a second report for the ${roleName(ev.value.endpoint)} endpoint`);
        reported.add(ev.value.endpoint);
        break;
      default:
        break;
    }
  });
  if (open) problems.push(`check "${open.checkId}" started but never finished`);
  for (const role of checked) if (!reported.has(role)) problems.push(`the ${roleName(role)} endpoint ran checks but has no report`);
  if (checked.size === 0) problems.push('the stream holds no check');
  if (events.at(-1)?.event?.$case !== 'summary') problems.push(`the stream ends with ${events.at(-1)?.event?.$case ?? 'nothing'}, not a summary`);
  return problems;
}

/** A preview cell of the wire (`{ value: { $case, value } }`) in the SDK's declared form (`{ kind, value }`). */
function declaredForm(cell: PreviewCell): ExpectedCell | { kind: 'missing' } {
  const v = cell.value;
  if (v === undefined) return { kind: 'missing' };
  switch (v.$case) {
    case 'null':
      return { kind: 'null' };
    case 'masked':
      return { kind: 'masked' };
    case 'localTimestamp':
      return { kind: 'local_timestamp', value: v.value };
    case 'bytesBase64':
      return { kind: 'bytes', value: v.value };
    default:
      return { kind: v.$case, value: v.value } as ExpectedCell;
  }
}

/** A cell for a person: `integer "42"`, `null`, `float 1.5`. */
function describeCell(cell: ExpectedCell | { kind: 'missing' }): string {
  return 'value' in cell ? `${cell.kind} ${JSON.stringify(cell.value)}` : cell.kind;
}

/** A float cell's value as a number: a fixture written in JavaScript or read from JSON may declare it as text ('NaN', '1.5'), which compares by number too. */
const floatOf = (value: unknown): number => Number(value);

function sameCell(expected: ExpectedCell, actual: ExpectedCell | { kind: 'missing' }): boolean {
  if (expected.kind !== actual.kind) return false;
  if (!('value' in expected) || !('value' in actual)) return !('value' in expected) && !('value' in actual);
  if (expected.kind === 'float') {
    const want = floatOf(expected.value);
    const got = floatOf(actual.value);
    return Object.is(want, got) || want === got;
  }
  return expected.value === actual.value;
}

/**
 * Mismatches between a type fixture and a preview of it (header columns and rows as the wire
 * carries them), each naming the row (1-based) and the column; empty when every cell matches.
 */
export function typeFixtureProblems(fixture: TypeFixture, columns: readonly string[], rows: readonly { cells: readonly PreviewCell[] }[]): string[] {
  const problems: string[] = [];
  if (columns.join('\u0000') !== fixture.columns.join('\u0000'))
    problems.push(`the preview's columns are [${columns.join(', ')}], the fixture declares [${fixture.columns.join(', ')}]`);
  fixture.rows.forEach((declared, r) => {
    if (declared.length !== fixture.columns.length)
      problems.push(`the fixture's row ${r + 1} declares ${declared.length} cells for ${fixture.columns.length} columns`);
  });
  if (rows.length !== fixture.rows.length) problems.push(`the preview returned ${rows.length} rows, the fixture declares ${fixture.rows.length}`);
  for (let r = 0; r < Math.min(rows.length, fixture.rows.length); r++) {
    fixture.columns.forEach((name, c) => {
      // A row of either side may be shorter than the header.
      const expected = fixture.rows[r].at(c);
      const cell = rows[r].cells.at(c);
      const actual = cell === undefined ? ({ kind: 'missing' } as const) : declaredForm(cell);
      if (expected !== undefined && !sameCell(expected, actual))
        problems.push(`row ${r + 1}, column ${name}: expected ${describeCell(expected)}, got ${describeCell(actual)}`);
    });
  }
  return problems;
}

/** Problems with the finished checks of a validation stream (status, message, hint, duration); empty when all are complete. */
export function finishedCheckProblems(events: ValidateDataSourceResponse[]): string[] {
  const problems: string[] = [];
  for (const e of events) {
    if (e.event?.$case !== 'checkFinished') continue;
    const c = e.event.value;
    const name = `check "${c.checkId}" (${roleName(c.endpoint)})`;
    const status = STATUS[c.status];
    if (!status) problems.push(`${name} finished with status ${c.status}, not one of PASSED, FAILED, WARNING, SKIPPED`);
    if (!c.message.trim()) problems.push(`${name} finished ${status ?? c.status} without a message`);
    if ((status === 'FAILED' || status === 'WARNING') && !c.hint.trim()) problems.push(`${name} is ${status} without a hint (what to do about it)`);
    if (!(c.durationMs >= 0)) problems.push(`${name} has a negative or missing duration (${c.durationMs})`);
  }
  return problems;
}

export function summaryOf(events: ValidateDataSourceResponse[]) {
  const last = events.at(-1)?.event;
  return last?.$case === 'summary' ? last.value : undefined;
}

export function failedChecks(events: ValidateDataSourceResponse[]) {
  return events.flatMap((e) => (e.event?.$case === 'checkFinished' && e.event.value.status === CheckStatus.CHECK_STATUS_FAILED ? [e.event.value] : []));
}

/** The decoded google.rpc.Status of a failed call, or undefined when it carries none. */
export function statusOf(error: ServiceError): RichStatus | undefined {
  try {
    return richStatusOf(error);
  } catch {
    return undefined;
  }
}
