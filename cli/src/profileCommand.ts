/** `sourced profile FILE --table SCHEMA.NAME`: each column's nulls, distinct values, min/max, common values and histogram as it completes. */
import { Metadata } from '@grpc/grpc-js';
import { DataSourceServiceClient, DiscoveryStrategy, endpointRoleToJSON, ProfileTableResponse } from '@sourced/api';
import { FigureMethod, ProfileMode, type ColumnFigureMethods, type ColumnProfile, type StatisticsAge } from '@sourced/api';
import { clientContext } from './client';
import { readDataSourceFile } from './dataSourceFile';
import { EXIT } from './errors';
import type { ProfileOptions } from './options';
import type { Paint } from './output';
import { plural } from './discoveryView';
import { cellText } from './previewCommand';

/** Runs the profile and prints each column as it arrives; returns the exit code (0). */
export async function runProfile(file: string, options: ProfileOptions): Promise<number> {
  const dataSource = readDataSourceFile(file);
  const { address, channel, deadline, json, out } = clientContext(options);
  const client = new DataSourceServiceClient(address, channel);
  const call = client.profileTable(
    {
      dataSource,
      table: { schema: options.table.schema, name: options.table.name },
      columns: options.column,
      mode: options.mode === 'sample' ? ProfileMode.PROFILE_MODE_SAMPLE : ProfileMode.PROFILE_MODE_STATISTICS,
      sampleRows: options.sampleRows,
      mostCommonLimit: 0,
      histogramBuckets: 0,
      strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_UNSPECIFIED,
    },
    new Metadata(),
    { deadline },
  );
  // The header's statistics age: a column whose statistics are as old is not told again.
  let tableAge: StatisticsAge | undefined;
  try {
    for await (const message of call as AsyncIterable<ProfileTableResponse>) {
      if (json) {
        out.line(JSON.stringify(ProfileTableResponse.toJSON(message)));
        continue;
      }
      const e = message.event;
      if (e?.$case === 'header') {
        const h = e.value;
        const rows = h.rowCount === undefined ? 'rows unknown' : `${h.rowCountExact ? '' : '~'}${Math.round(h.rowCount)} rows`;
        out.line(out.paint.bold(`${h.table?.schema}.${h.table?.name}: ${rows}; from ${h.source}`));
        if (h.sampleMethod) out.line(`  sample: ${h.sampleRows} rows, ${h.sampleMethod}`);
        if (h.statisticsAge) out.line(`  row count statistics ${describeAge(h.statisticsAge)}`);
        tableAge = h.statisticsAge;
      } else if (e?.$case === 'column') {
        for (const line of describeColumn(e.value, out.paint, tableAge)) out.line(line);
      } else if (e?.$case === 'failover') out.note(`failover to ${endpointRoleToJSON(e.value.active)}: ${e.value.reason}`);
      else if (e?.$case === 'summary')
        out.line(
          `${plural(e.value.columns, 'column')} in ${e.value.durationMs.toFixed(0)} ms${e.value.maskedColumns.length ? `; masked: ${e.value.maskedColumns.join(', ')}` : ''}`,
        );
    }
  } finally {
    client.close();
    out.close();
  }
  return EXIT.OK;
}

/**
 * When statistics were collected, for a person: `collected 2026-01-02 03:04:05Z (pg_stat_user_tables.last_analyze)`,
 * or `collected at an unknown time (unknown: mysql.column_stats keeps no collection time)`.
 */
export function describeAge(age: StatisticsAge): string {
  const seconds = age.collectedAt?.seconds;
  if (seconds === undefined) return `collected at an unknown time (${age.source})`;
  const when = new Date(seconds * 1000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  return `collected ${when} (${age.source})`;
}

const sameAge = (a: StatisticsAge | undefined, b: StatisticsAge | undefined) =>
  !!a && !!b && a.collectedAt?.seconds === b.collectedAt?.seconds && a.source === b.source;

/** A column's profile in a few lines for a person; its statistics' age unless it is the table's (`tableAge`). */
export function describeColumn(c: ColumnProfile, paint: Paint, tableAge?: StatisticsAge): string[] {
  const head = `  ${paint.bold(c.name)} ${paint.dim(c.dataType)}${c.masked ? paint.dim(' (masked)') : ''}`;
  if (c.noStatistics) return [`${head}: no statistics (ANALYZE the table, or use --mode sample)`];
  const facts: string[] = [];
  if (c.nullFraction !== undefined) facts.push(`${(c.nullFraction * 100).toFixed(1)}% null`);
  if (c.distinctCount !== undefined) facts.push(`${c.distinctExact ? '' : '~'}${Math.round(c.distinctCount)} distinct`);
  if (c.min && c.max) facts.push(`${cellText(c.min, paint)} … ${cellText(c.max, paint)}`);
  if (c.averageLength !== undefined) facts.push(`avg ${c.averageLength.toFixed(1)} bytes`);
  const lines = [`${head}: ${facts.join(', ')}`];
  const how = describeMethods(c.methods);
  const age = c.statisticsAge && !sameAge(c.statisticsAge, tableAge) ? `statistics ${describeAge(c.statisticsAge)}` : '';
  if (how || age) lines.push(`      ${paint.dim([how, age].filter(Boolean).join('; '))}`);
  if (c.types.length) lines.push(`      types: ${c.types.map((t) => `${t.type} ${(t.frequency * 100).toFixed(1)}%`).join(', ')}`);
  if (c.mostCommon.length) {
    lines.push(
      `      most common: ${c.mostCommon
        .slice(0, 5)
        .map((m) => `${m.value ? cellText(m.value, paint) : ''} (${(m.frequency * 100).toFixed(1)}%)`)
        .join(', ')}`,
    );
  }
  if (c.histogramBounds.length) lines.push(`      histogram: ${c.histogramBounds.map((b) => cellText(b, paint)).join(' | ')}`);
  return lines;
}

const METHOD_WORDS: Partial<Record<FigureMethod, string>> = {
  [FigureMethod.FIGURE_METHOD_EXACT]: 'exact',
  [FigureMethod.FIGURE_METHOD_STATISTICS]: 'from statistics (estimates)',
  [FigureMethod.FIGURE_METHOD_SAMPLED]: 'from the sample',
};
const FIGURE_WORDS: [keyof ColumnFigureMethods, string][] = [
  ['nullFraction', 'nulls'],
  ['distinctCount', 'distinct'],
  ['minMax', 'min/max'],
  ['mostCommon', 'most common'],
  ['histogram', 'histogram'],
  ['averageLength', 'length'],
];

/** How a column's figures were obtained, in words: `all from statistics (estimates)` or per method the figures. */
export function describeMethods(m: ColumnFigureMethods | undefined): string {
  if (!m) return '';
  const groups = new Map<string, string[]>();
  for (const [key, word] of FIGURE_WORDS) {
    const method = METHOD_WORDS[m[key]];
    if (method) groups.set(method, [...(groups.get(method) ?? []), word]);
  }
  if (groups.size === 1) return `all ${[...groups.keys()][0]}`;
  return [...groups].map(([method, figures]) => `${figures.join(', ')}: ${method}`).join('; ');
}
