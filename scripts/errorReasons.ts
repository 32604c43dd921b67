/**
 * The error catalogue (issue 23): the ErrorInfo reasons the code emits, found by reading the
 * source, against the ErrorReason enum of proto/sourced/v1/errors.proto, and the table of
 * docs/clients.md generated from that enum.
 *
 *   npx tsx scripts/errorReasons.ts          # rewrites the table in docs/clients.md
 *   npx tsx scripts/errorReasons.ts --check  # fails when the table or the enum is out of date
 *
 * test/errorReasons.test.ts runs the same checks and also asks the daemon's own mapping
 * (toRichStatus) which gRPC code each reason's error class gets.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..');
const SOURCES = ['core/src', 'daemon/src', 'sdk/src', ...readdirSync(join(ROOT, 'plugins')).map((p) => `plugins/${p}/src`)];
export const ERRORS_PROTO = join(ROOT, 'proto/sourced/v1/errors.proto');
export const DOC = join(ROOT, 'docs/clients.md');
const BEGIN = '<!-- error-reasons:begin (generated from proto/sourced/v1/errors.proto by scripts/errorReasons.ts) -->';
const END = '<!-- error-reasons:end -->';

/** One place the source names a reason. */
export interface ReasonUse {
  reason: string;
  /** `file:line`. */
  at: string;
  /** The error class constructed there, when the source says (`new NotFoundError('X'`, `super('X'` in `class … extends NotAllowedError`). */
  errorClass?: string;
}

function files(dir: string): string[] {
  const abs = join(ROOT, dir);
  try {
    statSync(abs);
  } catch {
    return [];
  }
  return readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.includes('/gen/') && !f.startsWith('gen/'))
    .map((f) => join(abs, f));
}

const REASON = "'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|INTERNAL|CANCELLED)'";
/** A classified connect failure's kind (core/src/connector/ConnectFailure.ts) and the error class it becomes. */
const KIND_CLASS: Record<string, string> = {
  'not-allowed': 'NotAllowedError',
  'not-found': 'NotFoundError',
  invalid: 'SourcedError',
  unavailable: 'UnavailableError',
};

/** The class a `reason: 'X'` belongs to: an InputError's option, or a classified failure's kind just after it. */
function namedReasonClass(m: RegExpExecArray, text: string): string | undefined {
  const kind = /^[^}]*?\bkind: '([a-z-]+)'/.exec(text.slice(m.index, m.index + 200))?.[1];
  if (kind) return KIND_CLASS[kind];
  const before = text.slice(Math.max(0, m.index - 400), m.index);
  const statement = before.slice(before.lastIndexOf(';') + 1);
  return /new InputError\(/.test(statement) ? 'InputError' : undefined;
}
const enclosingClass = (m: RegExpExecArray, text: string) => [...text.slice(0, m.index).matchAll(/class (\w+) extends \w+/g)].at(-1)?.[1];
/** A reason handed to an error's constructor, or named as a `reason` (an InputError's option, a classified failure). */
const PATTERNS: { re: RegExp; cls?: (m: RegExpExecArray, text: string) => string | undefined }[] = [
  { re: new RegExp(`new (\\w*Error)\\(\\s*${REASON}`, 'g'), cls: (m) => m[1] },
  { re: new RegExp(`super\\(\\s*${REASON}`, 'g'), cls: (m, text) => [...text.slice(0, m.index).matchAll(/class \w+ extends (\w+)/g)].at(-1)?.[1] },
  // AbortedError: super(deadline ? 'DEADLINE_EXCEEDED' : 'CANCELLED', …)
  { re: new RegExp(`super\\([\\w?.]+ \\? ${REASON}`, 'g'), cls: enclosingClass },
  { re: new RegExp(`super\\([\\w?.]+ \\? '\\w+' : ${REASON}`, 'g'), cls: enclosingClass },
  { re: new RegExp(`\\breason:\\s*${REASON}`, 'g'), cls: namedReasonClass },
  // InputError's default reason
  { re: new RegExp(`\\breason\\s*\\?\\?\\s*${REASON}`, 'g'), cls: enclosingClass },
  { re: new RegExp(`super\\([^;'\n]*\\?\\?\\s*${REASON}`, 'g'), cls: enclosingClass },
  { re: new RegExp(`\\breason\\s*===?\\s*${REASON}`, 'g') },
  // a table of reasons (core's SecretErrorReason), each documented with its class: /** NotFoundError: … */ NOT_FOUND: 'SECRET_NOT_FOUND',
  { re: new RegExp(`/\\*\\* (\\w+Error): [^*]*\\*/\\s*\\w+: ${REASON}`, 'g'), cls: (m) => m[1] },
];

/** Every reason the source names, where, and the error class when the source says. */
export function scanReasons(): ReasonUse[] {
  const uses: ReasonUse[] = [];
  for (const dir of SOURCES) {
    for (const file of files(dir)) {
      uses.push(...scanText(readFileSync(file, 'utf8'), relative(ROOT, file)));
    }
  }
  return uses;
}

/** The reasons one source text names. */
export function scanText(text: string, file: string): ReasonUse[] {
  const uses: ReasonUse[] = [];
  for (const { re, cls } of PATTERNS) {
    for (const m of text.matchAll(re)) {
      const reason = m.at(-1)!;
      const line = text.slice(0, m.index).split('\n').length;
      uses.push({ reason, at: `${file}:${line}`, errorClass: cls?.(m as RegExpExecArray, text) });
    }
  }
  return uses;
}

/** One value of the ErrorReason enum: the reason on the wire (the value name without ERROR_REASON_), its documented gRPC code, its meaning. */
export interface Documented {
  reason: string;
  number: number;
  code: string;
  meaning: string;
}

/** The ErrorReason enum of errors.proto; each value's comment starts with its gRPC code ("NOT_FOUND: …", several joined by " or "). */
export function documentedReasons(proto = readFileSync(ERRORS_PROTO, 'utf8')): Documented[] {
  const body = /enum ErrorReason \{([\s\S]*?)\n\}/.exec(proto)?.[1];
  if (!body) throw new Error('errors.proto has no enum ErrorReason');
  const out: Documented[] = [];
  let comment: string[] = [];
  for (const raw of body.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('//')) comment.push(line.replace(/^\/\/ ?/, ''));
    else if (/^ERROR_REASON_\w+ = \d+;$/.test(line)) {
      const [, name, number] = /^ERROR_REASON_(\w+) = (\d+);$/.exec(line)!;
      const text = comment.join(' ');
      const [, code, meaning] = /^([A-Z_]+(?: or [A-Z_]+)*): (.*)$/.exec(text) ?? [undefined, '', text];
      if (name !== 'UNSPECIFIED') out.push({ reason: name, number: Number(number), code, meaning });
      comment = [];
    } else if (line === '') comment = [];
  }
  return out;
}

/** The Markdown table of the reasons. */
export function renderTable(reasons = documentedReasons()): string {
  const rows = [...reasons]
    .sort((a, b) => a.reason.localeCompare(b.reason))
    .map(
      (r) =>
        `| \`${r.reason}\` | ${r.code
          .split(' or ')
          .map((c) => `\`${c}\``)
          .join(' or ')} | ${r.meaning.replace(/\|/g, '\\|')} |`,
    );
  return [BEGIN, '| `ErrorInfo.reason` | gRPC status | When |', '|---|---|---|', ...rows, END].join('\n');
}

/** docs/clients.md with the generated table in place of the old one. */
export function withTable(doc: string, table = renderTable()): string {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/clients.md has no ${BEGIN} … ${END} markers`);
  return doc.slice(0, start) + table + doc.slice(end + END.length);
}

if (require.main === module) {
  const doc = readFileSync(DOC, 'utf8');
  const next = withTable(doc);
  const listed = new Set(documentedReasons().map((r) => r.reason));
  const unlisted = [
    ...new Map(
      scanReasons()
        .filter((u) => !listed.has(u.reason))
        .map((u) => [u.reason, u.at]),
    ).entries(),
  ];
  if (process.argv.includes('--check')) {
    const stale = next !== doc;
    for (const [reason, at] of unlisted) console.error(`${at}: reason ${reason} is not in ErrorReason (proto/sourced/v1/errors.proto)`);
    if (stale) console.error('docs/clients.md: the error table is out of date: npx tsx scripts/errorReasons.ts');
    process.exit(stale || unlisted.length ? 1 : 0);
  }
  writeFileSync(DOC, next);
  for (const [reason, at] of unlisted) console.error(`${at}: reason ${reason} is not in ErrorReason`);
}
