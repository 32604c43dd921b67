/**
 * What `sourced demo` reports: the summary `--json` prints, made from the stream events, and the
 * report for a person made from it.
 */
import { checkStatusToJSON, relationKindToJSON, type CheckFinished, type Relation, type Schema } from '@sourced/api';
import { DEMO_READER, DEMO_RELATIONS, DEMO_SCHEMAS } from './demoSchema';

/**
 * The password reference the demo suggests for the user's own database: an `env://` variable the
 * daemon's default secret policy allows (`env://SOURCED_SECRET_*`).
 */
export const OWN_PASSWORD_REFERENCE = 'env://SOURCED_SECRET_PG_PASSWORD';

/** The name of the data source file the demo writes into its folder. */
export const DEMO_SOURCE_FILE = 'demo-shop.json';

export interface CheckLine {
  id: string;
  title: string;
  status: string;
  durationMs: number;
  message: string;
  hint?: string;
  details: Record<string, string>;
}

export interface RelationLine {
  schema: string;
  name: string;
  kind: string;
  comment: string;
  columns: number;
  primaryKey: string[];
  foreignKeys: number;
  indexes: number;
  estimatedRows: number;
  partitionOf?: string;
  partitions: number;
}

export interface SchemaLine {
  name: string;
  comment: string;
  usable: boolean;
}

/** The summary `--json` prints, also what the report is made of. */
export interface DemoSummary {
  ok: boolean;
  keep: boolean;
  folder: string;
  dataSourceFile: string;
  database: {
    address: string;
    version: string;
    user: string;
    authenticated: false;
    note: string;
    /** How long PGlite took to start (compiling PostgreSQL's WebAssembly, initdb in memory). */
    startMs: number;
    seed: { schemas: number; relations: number; rows: number; durationMs: number };
    readOnlyRole: string;
  };
  daemon: { address: string; version: string; log: string | null };
  validation: {
    ok: boolean;
    durationMs: number;
    checks: CheckLine[];
    report?: { address: string; ok: boolean; passed: number; failed: number; warnings: number; skipped: number };
  };
  discovery: {
    ok: boolean;
    durationMs: number;
    schemas: SchemaLine[];
    relations: RelationLine[];
    summary?: { schemas: number; relations: number; tables: number; views: number; columns: number; batches: number; warnings: number };
    warnings: { code: string; message: string }[];
    /** Seeded relations discovery did not report (`schema.name`), or reported with another kind. */
    missing: string[];
  };
}

/** The report for a person, on stdout. */
export function printReport(s: DemoSummary): void {
  const out: string[] = [];
  const rows = s.database.seed.rows.toLocaleString('en-US');
  out.push('');
  out.push(`  database   ${s.database.version} at ${s.database.address}`);
  out.push(
    `             started in ${fmtMs(s.database.startMs)}, seeded in ${fmtMs(s.database.seed.durationMs)}: ${s.database.seed.schemas} schemas, ${s.database.seed.relations} relations, ${rows} rows`,
  );
  out.push(`  daemon     sourced ${s.daemon.version} at ${s.daemon.address}${s.daemon.log ? ` (log: ${s.daemon.log})` : ''}`);
  out.push(`  source     ${s.dataSourceFile}`);
  out.push('');
  out.push(...wrap(`Note: ${s.database.note}`, 92, '  '));
  out.push('');

  out.push('Validation');
  for (const c of s.validation.checks) {
    const mark = { PASSED: 'ok  ', FAILED: 'FAIL', WARNING: 'warn', SKIPPED: 'skip' }[c.status] ?? c.status;
    out.push(`  [${mark}] ${c.title} (${c.durationMs.toFixed(1)} ms): ${c.message}`);
    if (c.hint && c.status !== 'PASSED') out.push(`         hint: ${c.hint}`);
  }
  const r = s.validation.report;
  if (r)
    out.push(
      `  primary ${r.address}: ${r.ok ? 'OK' : 'FAILED'} (${r.passed} passed, ${r.failed} failed, ${r.warnings} ${r.warnings === 1 ? 'warning' : 'warnings'}, ${r.skipped} skipped)`,
    );
  out.push(`  ${s.validation.ok ? 'valid' : 'NOT valid'} in ${fmtMs(s.validation.durationMs)}`);
  out.push('');

  out.push('Discovery');
  const bySchema = new Map<string, RelationLine[]>();
  for (const rel of s.discovery.relations) bySchema.set(rel.schema, [...(bySchema.get(rel.schema) ?? []), rel]);
  const width = Math.max(0, ...s.discovery.relations.map((rel) => rel.name.length + (rel.partitionOf ? 3 : 0))) + 2;
  for (const schema of s.discovery.schemas) {
    const rels = bySchema.get(schema.name) ?? [];
    out.push(`  ${schema.name}${schema.comment ? `  -- ${schema.comment}` : ''}${schema.usable ? '' : ' (not usable)'}${rels.length === 0 ? '  (empty)' : ''}`);
    const top = rels.filter((rel) => !rel.partitionOf || !rels.some((p) => `${p.schema}.${p.name}` === rel.partitionOf));
    top.forEach((rel, i) => {
      const last = i === top.length - 1;
      out.push(`  ${last ? '└─' : '├─'} ${rel.name.padEnd(width)}${describeRelation(rel)}`);
      const parts = rels.filter((p) => p.partitionOf === `${rel.schema}.${rel.name}`);
      parts.forEach((p, j) => out.push(`  ${last ? '  ' : '│ '} ${j === parts.length - 1 ? '└─' : '├─'} ${p.name.padEnd(width - 3)}${describeRelation(p)}`));
    });
  }
  for (const w of s.discovery.warnings) out.push(`  warning ${w.code}: ${w.message}`);
  const d = s.discovery.summary;
  if (d)
    out.push(
      `  ${count(d.schemas, 'schema')}, ${count(d.tables, 'table')}, ${count(d.views, 'view')}, ${count(d.columns, 'column')} in ${count(d.batches, 'batch', 'batches')}, ${fmtMs(s.discovery.durationMs)}`,
    );
  const seeded = Object.values(DEMO_RELATIONS).reduce((n, rels) => n + Object.keys(rels).length, 0);
  out.push(
    s.discovery.missing.length === 0
      ? `  found all ${seeded} relations of the seed in ${DEMO_SCHEMAS.length} schemas`
      : `  MISSING from discovery: ${s.discovery.missing.join(', ')}`,
  );
  out.push('');

  out.push(
    s.ok
      ? 'The demo worked: the daemon validated the database and discovered everything in it.'
      : 'The demo did NOT work as it should: see the FAIL lines and MISSING above.',
  );
  out.push('');
  out.push('What next');
  const addr = s.daemon.address;
  const file = s.dataSourceFile;
  if (s.keep) {
    out.push(`  The daemon listens on ${addr} and the database on ${s.database.address} until Ctrl-C. Try:`);
    out.push(`    npx buf curl --protocol grpc --http2-prior-knowledge http://${addr}/sourced.v1.PluginService/ListPlugins`);
    out.push(`    npx buf curl --protocol grpc --http2-prior-knowledge -d "{\\"data_source\\": $(cat ${file})}" \\`);
    out.push(`      http://${addr}/sourced.v1.DataSourceService/ValidateDataSource`);
    out.push(`    grpcurl -plaintext ${addr} list`);
    out.push(`    npx sourced validate ${file} --address ${addr}`);
    out.push(`    npx sourced discover ${file} --address ${addr} --include-schema sales`);
    out.push(`  Ctrl-C stops both and removes ${s.folder}.`);
  } else {
    out.push(
      ...wrap(
        `The daemon and the database have stopped; \`sourced demo --keep\` keeps them running, to try them with grpcurl, buf curl and \`sourced discover\`. ` +
          `The data source the demo used is ${file}${s.daemon.log ? ", the daemon's log is next to it" : ''}.`,
        100,
        '  ',
      ),
    );
  }
  out.push(
    ...wrap(
      `For your own database: describe it in a file like ${DEMO_SOURCE_FILE} or examples/postgres.json (host, port, database, credentials; ` +
        `docs/data-source.md), with the password as a reference the daemon's default secret policy allows, such as "${OWN_PASSWORD_REFERENCE}"; ` +
        'start the daemon with that variable set, and run:',
      100,
      '  ',
    ),
  );
  out.push(`    ${OWN_PASSWORD_REFERENCE.slice('env://'.length)}=... npx sourced serve     # in another shell`);
  out.push('    npx sourced validate FILE');
  out.push('    npx sourced discover FILE');
  out.push(...wrap(`Give sourced a read-only role like the seed's ${DEMO_READER.user}: it needs to log in and USAGE on the schemas, nothing more.`, 100, '  '));
  process.stdout.write(`${out.join('\n')}\n`);
  if (s.keep) process.stdout.write(`\nRunning: daemon ${addr}, database ${s.database.address}. Ctrl-C to stop.\n`);
}

export function checkLine(c: CheckFinished): CheckLine {
  return {
    id: c.checkId,
    title: c.title,
    status: checkStatusToJSON(c.status).replace('CHECK_STATUS_', ''),
    durationMs: round(c.durationMs),
    message: c.message,
    ...(c.hint ? { hint: c.hint } : {}),
    details: c.details,
  };
}

export function schemaLine(s: Schema): SchemaLine {
  return { name: s.name, comment: s.comment, usable: s.usable };
}

export function relationLine(r: Relation): RelationLine {
  return {
    schema: r.schema,
    name: r.name,
    kind: relationKindToJSON(r.kind).replace('RELATION_KIND_', '').toLowerCase().replace(/_/g, ' '),
    comment: r.comment,
    columns: r.columns.length,
    primaryKey: r.primaryKey?.columns ?? [],
    foreignKeys: r.foreignKeys.length,
    indexes: r.indexes.length,
    estimatedRows: r.estimatedRows,
    ...(r.partitionOf ? { partitionOf: r.partitionOf } : {}),
    partitions: r.partitions.length,
  };
}

function describeRelation(r: RelationLine): string {
  const parts = [r.partitionOf ? 'partition' : r.kind, count(r.columns, 'column')];
  if (r.foreignKeys) parts.push(`${r.foreignKeys} foreign ${r.foreignKeys === 1 ? 'key' : 'keys'}`);
  if (r.indexes) parts.push(`${r.indexes} ${r.indexes === 1 ? 'index' : 'indexes'}`);
  if (r.estimatedRows >= 0) parts.push(`~${Math.round(r.estimatedRows).toLocaleString('en-US')} rows`);
  return parts.join(', ');
}

export function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** `1 column`, `2 columns`. */
function count(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
}
