/**
 * Rows of the reads of a relation's CHECK constraints (information_schema.CHECK_CONSTRAINTS)
 * and triggers (information_schema.TRIGGERS), and their mapping to core's entities. Pure
 * functions, testable without a server.
 */
import type { CheckConstraintEntity, TriggerEntity, TriggerEvent, TriggerTiming } from '@sourced/core';
import { byteOrder, type CheckRow } from './catalogRows';

/** mysql2 returns BIGINT and DECIMAL as strings (bigNumberStrings); small integers as numbers. */
type Num = number | string;

export interface TriggerRow {
  schema_name: string;
  name: string;
  trigger_name: string;
  /** INSERT, UPDATE or DELETE (one per trigger). */
  event: string;
  /** BEFORE or AFTER. */
  timing: string;
  /** ROW (MySQL and MariaDB have no statement-level triggers). */
  orientation: string;
  /** Position among the table's triggers of the same timing and event, from 1. */
  action_order: Num;
  /** The body. */
  statement: string;
  /** DEFINER, `user@host` (the account whose privileges the body runs with). */
  definer: string;
}

/**
 * The CHECK constraints of one relation, in name order: the clause as the server prints it,
 * enforced unless MySQL says NOT ENFORCED, always validated (neither server has NOT VALID).
 * A MariaDB column-level check (LEVEL `Column`, named after its column) names that column;
 * a table-level one names none (the server does not say which columns it reads).
 */
export function toCheckConstraints(rows: readonly CheckRow[]): CheckConstraintEntity[] {
  return [...rows]
    .sort((a, b) => byteOrder(a.constraint_name, b.constraint_name))
    .map((r) => ({
      name: r.constraint_name,
      expression: r.check_clause,
      enforced: r.enforced !== 'NO',
      validated: true,
      columns: r.level === 'Column' ? [r.constraint_name] : [],
    }));
}

const TIMINGS = new Set<string>(['BEFORE', 'AFTER']);
const EVENTS = new Set<string>(['INSERT', 'UPDATE', 'DELETE']);

/**
 * The triggers of one relation, in name order. Each fires on one event, for each row, and is
 * always enabled (neither server can disable one); the definition is the body
 * (ACTION_STATEMENT), the order its ACTION_ORDER (FOLLOWS / PRECEDES), the definer its
 * DEFINER (a trigger always runs with its definer's privileges). A row with a timing
 * or event this code does not know is left out rather than mislabelled.
 */
export function toTriggers(rows: readonly TriggerRow[]): TriggerEntity[] {
  return rows
    .filter((r) => TIMINGS.has(r.timing) && EVENTS.has(r.event))
    .sort((a, b) => byteOrder(a.trigger_name, b.trigger_name))
    .map((r) => ({
      name: r.trigger_name,
      timing: r.timing as TriggerTiming,
      events: [r.event as TriggerEvent],
      level: r.orientation === 'STATEMENT' ? 'STATEMENT' : 'ROW',
      enabled: 'ENABLED',
      definition: r.statement,
      actionOrder: Number(r.action_order),
      updateColumns: [],
      definer: r.definer,
    }));
}
