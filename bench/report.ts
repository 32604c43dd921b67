/** The benchmark's markdown tables. */
import type { PerTableResult } from './perTable';
import type { SourcedResult } from './sourcedRun';

export interface Row {
  n: number;
  expectedRelations: number;
  sourced: SourcedResult;
  floorMs: number;
  perTable?: PerTableResult;
}

const MIB = 2 ** 20;
const int = (x: number) => Math.round(x).toLocaleString('en-US');
const ratio = (x: number) => (x >= 10 ? x.toFixed(0) : x.toFixed(1));

export const HEADER = [
  '| N | strategy | relations | first entity ms | total ms | entities/s | daemon baseline RSS MiB | daemon peak RSS MiB | floor ms | total / floor | per-table ms | per-table / total |',
  '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
];

export function formatRow(r: Row): string {
  const s = r.sourced;
  const relations = s.relations === r.expectedRelations ? int(s.relations) : `${int(s.relations)} (expected ${int(r.expectedRelations)})`;
  const est = r.perTable?.estimated ? '~' : '';
  const perTable = r.perTable ? `${est}${int(r.perTable.ms)}` : 'skipped';
  const perTableRatio = r.perTable ? `${est}${ratio(r.perTable.ms / s.totalMs)}` : '–';
  return `| ${int(r.n)} | ${s.strategy} | ${relations} | ${int(s.firstMs)} | ${int(s.totalMs)} | ${int((s.relations / s.totalMs) * 1000)} | ${(s.baselineRss / MIB).toFixed(0)} | ${(s.peakRss / MIB).toFixed(0)} | ${int(r.floorMs)} | ${ratio(s.totalMs / r.floorMs)} | ${perTable} | ${perTableRatio} |`;
}

export function formatTable(title: string, rows: Row[], notes: string[]): string {
  return [`### ${title}`, '', ...HEADER, ...rows.map(formatRow), '', ...notes.map((n) => `- ${n}`), ''].join('\n');
}
