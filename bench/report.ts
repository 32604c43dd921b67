/** The benchmark's markdown tables. */
import type { PerTableResult } from './perTable';
import type { SourcedResult } from './sourcedRun';

export interface Row {
  n: number;
  expectedRelations: number;
  sourced: SourcedResult;
  floorMs: number;
  perTable?: PerTableResult;
  /** The shared set-based floor (../shared/bench), median of the paired runs. */
  sharedFloorMs?: number;
  /** The database server's CPU during one shared floor run, median. */
  sharedFloorServerCpuMs?: number;
}

const MIB = 2 ** 20;
const int = (x: number) => Math.round(x).toLocaleString('en-US');
const ratio = (x: number) => (x >= 10 ? x.toFixed(0) : x.toFixed(1));
const ratio2 = (x: number) => x.toFixed(2);

export const HEADER = [
  '| N | strategy | relations | first entity ms | total ms | shared floor ms | total / shared floor | server CPU ms | floor server CPU ms | server CPU / floor | daemon CPU ms | daemon baseline RSS MiB | daemon peak RSS MiB | bench floor ms | total / bench floor | per-table ms | per-table / total |',
  '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
];

export function formatRow(r: Row): string {
  const s = r.sourced;
  const relations = s.relations === r.expectedRelations ? int(s.relations) : `${int(s.relations)} (expected ${int(r.expectedRelations)})`;
  const est = r.perTable?.estimated ? '~' : '';
  const perTable = r.perTable ? `${est}${int(r.perTable.ms)}` : 'skipped';
  const perTableRatio = r.perTable ? `${est}${ratio(r.perTable.ms / s.totalMs)}` : '–';
  const shared = r.sharedFloorMs === undefined ? ['–', '–'] : [int(r.sharedFloorMs), ratio2(s.totalMs / r.sharedFloorMs)];
  const serverCpu = s.serverCpuMs === undefined ? '–' : int(s.serverCpuMs);
  const floorCpu = r.sharedFloorServerCpuMs === undefined ? '–' : int(r.sharedFloorServerCpuMs);
  const cpuRatio = s.serverCpuMs !== undefined && r.sharedFloorServerCpuMs ? ratio2(s.serverCpuMs / r.sharedFloorServerCpuMs) : '–';
  return `| ${int(r.n)} | ${s.strategy} | ${relations} | ${int(s.firstMs)} | ${int(s.totalMs)} | ${shared[0]} | ${shared[1]} | ${serverCpu} | ${floorCpu} | ${cpuRatio} | ${int(s.daemonCpuMs)} | ${(s.baselineRss / MIB).toFixed(0)} | ${(s.peakRss / MIB).toFixed(0)} | ${int(r.floorMs)} | ${ratio(s.totalMs / r.floorMs)} | ${perTable} | ${perTableRatio} |`;
}

export function formatTable(title: string, rows: Row[], notes: string[]): string {
  return [`### ${title}`, '', ...HEADER, ...rows.map(formatRow), '', ...notes.map((n) => `- ${n}`), ''].join('\n');
}
