import { resolve } from 'node:path';
import { DataSource, type DiscoverDataSourceResponse, type ValidateDataSourceResponse } from '@sourced/plugin-sdk/testing';

/** The built plugin, loaded by the daemon from its path as an operator would. */
export const PLUGIN = resolve(__dirname, '../dist/index.js');

/** A data source naming a file (relative to the plugin's root, or absolute). */
export const sqliteSource = (database: string) => DataSource.fromPartial({ type: 'sqlite', primary: { host: '', port: 0, database } });

type Event<T extends { event?: { $case: string; value: unknown } }, C extends string> = Extract<NonNullable<T['event']>, { $case: C }>['value'];
export type Relation = Event<DiscoverDataSourceResponse, 'batch'>['relations'][number];
export type CheckFinished = Event<ValidateDataSourceResponse, 'checkFinished'>;

export const relationsOf = (events: DiscoverDataSourceResponse[]): Relation[] =>
  events.flatMap((e) => (e.event?.$case === 'batch' ? e.event.value.relations : []));

export const checksOf = (events: ValidateDataSourceResponse[]): CheckFinished[] =>
  events.flatMap((e) => (e.event?.$case === 'checkFinished' ? [e.event.value] : []));
