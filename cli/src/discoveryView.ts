/**
 * How discovery looks for a person: the progress line on stderr while it runs and the tree of
 * schemas and relations (or databases and collections) at the end.
 */
import type { Collection, Relation, Schema } from '@sourced/api';
import { collectionKindToJSON, relationKindToJSON } from '@sourced/api';
import { alignedRows, type LiveLine, type Paint } from './output';

/** Counts and rate for the progress line. */
export interface ProgressState {
  entities: number;
  total?: number;
  ratePerSecond?: number;
}

/**
 * The discovery progress line on stderr (a terminal only): entities so far, of the total when the
 * daemon knows it, rate per second, elapsed time. Drawn at once, then at most every 100 ms (a timer
 * keeps the elapsed time moving while the daemon is quiet); `stop()` erases it.
 */
export class ProgressLine {
  private readonly started = Date.now();
  private state: ProgressState = { entities: 0 };
  private last = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly line: LiveLine,
    private readonly paint: Paint,
    private readonly intervalMs = 100,
  ) {
    if (!line.active) return;
    this.draw();
    this.timer = setInterval(() => this.draw(), intervalMs);
    this.timer.unref();
  }

  update(state: ProgressState): void {
    this.state = state;
    if (this.line.active && Date.now() - this.last >= this.intervalMs) this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.line.stop();
  }

  private draw(): void {
    this.last = Date.now();
    const elapsedMs = this.last - this.started;
    const { entities, total } = this.state;
    const rate = this.state.ratePerSecond ?? (elapsedMs > 0 ? (entities * 1000) / elapsedMs : 0);
    const count = total !== undefined && total > 0 ? `${n(entities)} of ${n(total)} entities` : `${n(entities)} entities`;
    const p = this.paint;
    this.line.set(`${p.cyan('discovering…')} ${count} ${p.dim('·')} ${n(Math.round(rate))}/s ${p.dim('·')} ${elapsed(elapsedMs)}`);
  }
}

/** 1,234 */
export function n(value: number): string {
  return value.toLocaleString('en-US');
}

/** 0.4 s, 12.3 s, 2m 05s */
export function elapsed(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

/** "table", "materialized view", ... */
export function relationKind(r: Relation): string {
  return relationKindToJSON(r.kind).replace('RELATION_KIND_', '').toLowerCase().replace(/_/g, ' ');
}

function collectionKind(c: Collection): string {
  return collectionKindToJSON(c.kind).replace('COLLECTION_KIND_', '').toLowerCase().replace(/_/g, ' ');
}

/** `1 column`, `2 columns`, `1 index`, `3 indexes` (with `many`). */
export const plural = (count: number, one: string, many = `${one}s`) => `${n(count)} ${count === 1 ? one : many}`;

/** What the tree keeps of a relation (not the whole message: a catalog can be large). */
interface RelationRow {
  name: string;
  cells: string[];
}

/**
 * What the tree shows of a schema's sequences, routines and types: one row each, except those
 * of an extension (PostgreSQL), which are one row per extension with its version and counts
 * (an extension such as PostGIS brings hundreds of functions; NDJSON lists each).
 */
export function schemaObjectRows(s: Schema): RelationRow[] {
  const own = <T extends { extension: string }>(items: T[]) => items.filter((x) => x.extension === '');
  const sequences = own(s.sequences).map((q) => ({
    name: q.name,
    cells: [
      'sequence',
      q.dataType,
      q.ownedByTable ? `owned by ${q.ownedByTable}.${q.ownedByColumn}${q.identity ? ' (identity)' : ''}` : '',
      q.lastValue ? `last ${q.lastValue}` : '',
    ],
  }));
  const routines = own(s.routines).map((r) => ({
    name: `${r.name}(${r.identityArguments})`,
    cells: [
      r.kind.toLowerCase(),
      r.returnType ? `returns ${r.returnType}` : '',
      r.language,
      [r.volatility.toLowerCase(), r.securityDefiner ? 'security definer' : ''].filter(Boolean).join(', '),
    ],
  }));
  const types = own(s.types).map((t) => {
    const detail: Record<string, string> = {
      ENUM: plural(t.labels.length, 'label'),
      DOMAIN: `${t.baseType}${t.nullable ? '' : ' not null'}${t.checkConstraints.length ? `, ${plural(t.checkConstraints.length, 'check')}` : ''}`,
      COMPOSITE: plural(t.attributes.length, 'attribute'),
      RANGE: `of ${t.subtype}`,
    };
    return { name: t.name, cells: [`${t.kind.toLowerCase()} type`, detail[t.kind] ?? '', '', ''] };
  });
  return [...sequences, ...routines, ...types, ...extensionRows(s)];
}

/** One row per extension whose members are among the schema's objects, in name order. */
function extensionRows(s: Schema): RelationRow[] {
  const extensions = new Map<string, { version: string; sequences: number; routines: number; types: number }>();
  const count = (items: { extension: string; extensionVersion: string }[], kind: 'sequences' | 'routines' | 'types') => {
    for (const x of items) {
      if (x.extension === '') continue;
      const e = extensions.get(x.extension) ?? { version: x.extensionVersion, sequences: 0, routines: 0, types: 0 };
      e[kind] += 1;
      extensions.set(x.extension, e);
    }
  };
  count(s.sequences, 'sequences');
  count(s.routines, 'routines');
  count(s.types, 'types');
  return [...extensions]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, e]) => ({
      name,
      cells: [
        'extension',
        e.version,
        [e.routines ? plural(e.routines, 'routine') : '', e.types ? plural(e.types, 'type') : '', e.sequences ? plural(e.sequences, 'sequence') : '']
          .filter(Boolean)
          .join(', '),
        '',
      ],
    }));
}

/**
 * Collects schemas, relations and collections as they stream and prints them as a tree at the end:
 * schema → relations (kind, columns, primary key, foreign keys, indexes, checks and triggers when
 * any, estimated rows), then its sequences, routines and types, then one line per extension
 * whose objects it holds; database → collections (kind,
 * indexes, estimated documents, inferred fields, validator when any).
 */
export class DiscoveryTree {
  private readonly schemas = new Map<string, { comment: string; usable: boolean; rows: RelationRow[]; objects: RelationRow[] }>();
  private readonly databases = new Map<string, RelationRow[]>();

  addSchema(s: Schema): void {
    const known = this.schemas.get(s.name);
    if (known) Object.assign(known, { comment: s.comment, usable: s.usable, objects: schemaObjectRows(s) });
    else this.schemas.set(s.name, { comment: s.comment, usable: s.usable, rows: [], objects: schemaObjectRows(s) });
  }

  addRelation(r: Relation): void {
    let schema = this.schemas.get(r.schema);
    if (!schema) {
      schema = { comment: '', usable: true, rows: [], objects: [] };
      this.schemas.set(r.schema, schema);
    }
    schema.rows.push({
      name: r.name,
      cells: [
        relationKind(r),
        plural(r.columns.length, 'column'),
        r.primaryKey && r.primaryKey.columns.length ? `pk (${r.primaryKey.columns.join(', ')})` : 'no pk',
        plural(r.foreignKeys.length, 'fk'),
        plural(r.indexes.length, 'index', 'indexes'),
        [
          r.checkConstraints.length ? plural(r.checkConstraints.length, 'check') : '',
          r.triggers.length ? plural(r.triggers.length, 'trigger') : '',
          r.populated === false ? 'not populated' : '',
        ]
          .filter(Boolean)
          .join(', '),
        r.estimatedRows >= 0 ? `~${n(r.estimatedRows)} rows` : '',
      ],
    });
  }

  addCollection(c: Collection): void {
    let rows = this.databases.get(c.database);
    if (!rows) {
      rows = [];
      this.databases.set(c.database, rows);
    }
    rows.push({
      name: c.name,
      cells: [
        collectionKind(c),
        plural(c.indexes.length, 'index', 'indexes'),
        c.estimatedDocuments >= 0 ? `~${n(c.estimatedDocuments)} documents` : '',
        c.schema ? plural(c.schema.fields.length, 'field') : '',
        c.validator ? `validator${c.validationLevel ? ` (${c.validationLevel}, ${c.validationAction})` : ''}` : '',
      ],
    });
  }

  /** The tree's lines. */
  render(paint: Paint, unicode: boolean): string[] {
    const [tee, elbow] = unicode ? ['├── ', '└── '] : ['|-- ', '`-- '];
    const lines: string[] = [];
    const group = (title: string, rows: RelationRow[], empty: string) => {
      lines.push(title);
      if (rows.length === 0) {
        lines.push(`${elbow}${paint.dim(empty)}`);
        return;
      }
      const aligned = alignedRows(rows.map((row) => [paint.bold(row.name), ...row.cells.map((c, i) => (i === 0 ? paint.dim(c) : c))]));
      aligned.forEach((line, index) => lines.push(`${index === rows.length - 1 ? elbow : tee}${line}`));
    };
    for (const [name, s] of this.schemas) {
      const extra = [s.comment ? ` ${unicode ? '—' : '--'} ${s.comment}` : '', s.usable ? '' : ' (not usable)'].join('');
      group(`${paint.bold(paint.cyan(name))}${paint.dim(extra)}`, [...s.rows, ...s.objects], 'no relations');
    }
    for (const [name, rows] of this.databases) group(paint.bold(paint.cyan(name)), rows, 'no collections');
    return lines;
  }
}
