import type { Tracer } from '@opentelemetry/api';
import type { PreviewableConnector } from '../contract/capabilities';
import { readWithFailover, type FailoverOutcome, type ReadOptions } from '../connector/readWithFailover';
import type { EndpointRole } from '../datasource/DataSource';
import type { RelationKey } from '../discovery/entities';
import { stallBoundOf, STRATEGY_PRESETS, type DiscoveryStrategy, type StallBoundCall } from '../discovery/strategies';
import { abortedErrorFrom, inputErrorOf, SourcedError, UnavailableError, type FieldViolation } from '../errors';
import { noopLogger, type Logger } from '../logging/Logger';
import { withSpan } from '../telemetry/withSpan';
import { columnMasker, refuseSystemTable } from './systemTables';

export type { Cell, PreviewColumnInfo, PreviewRead } from '../contract/preview';
import type { Cell, PreviewColumnInfo } from '../contract/preview';

/** The daemon's preview settings (profiles follow its masking and system-table settings). */
export interface PreviewSettings {
  /** Rows when a request asks for none. */
  defaultRows: number;
  /** The most rows a request may ask for. */
  maxRows: number;
  /** Globs of column names whose values are never read (case-insensitive), for example `*password*`. */
  maskColumns: readonly string[];
  /** Globs of column types whose values are never read (case-insensitive), for example `bytea`. */
  maskTypes: readonly string[];
  /**
   * Whether tables of the database's own schemas (PostgreSQL `pg_catalog`, MySQL `mysql`,
   * MongoDB `admin`, …, as the connector tells) may be previewed and profiled. Absent or
   * false: refused with PERMISSION_DENIED (`SYSTEM_TABLE_NOT_ALLOWED`).
   */
  allowSystemSchemas?: boolean;
  /**
   * Whether the columns a connector names as credential material (password hashes, SCRAM
   * verifiers, connection options) are masked whatever `maskColumns` says. Absent or true: masked.
   */
  maskCredentialColumns?: boolean;
}

/** Names that hold credentials or personal identifiers in most schemas; the daemon masks them unless configured otherwise. */
export const DEFAULT_MASKED_COLUMNS: readonly string[] = [
  '*password*',
  '*passwd*',
  '*secret*',
  '*token*',
  '*api_key*',
  '*apikey*',
  '*private_key*',
  '*ssn*',
  '*social_security*',
  '*credit_card*',
  '*card_number*',
];

/** Defaults of {@link PreviewSettings}. */
export const DEFAULT_PREVIEW_SETTINGS: PreviewSettings = {
  defaultRows: 50,
  maxRows: 1000,
  maskColumns: DEFAULT_MASKED_COLUMNS,
  maskTypes: [],
  allowSystemSchemas: false,
  maskCredentialColumns: true,
};

/** A preview request after the daemon's mapping. */
export interface PreviewRequest {
  table: RelationKey;
  /** Columns in the order wanted; empty means all. */
  columns: readonly string[];
  /** 0 means the default. */
  limit: number;
  strategy: DiscoveryStrategy;
  /**
   * The longest one read may go without an answer, ms (the daemon's `discovery.stallTimeoutMs`
   * when the operator set it): past it the read is cancelled and the preview fails over (HYBRID)
   * or ends UNAVAILABLE `SOURCE_STALLED`. Absent: the strategy's ({@link stallBoundOf}); 0: no
   * bound beyond the server's own statement timeout.
   */
  stallTimeoutMs?: number;
  /** After a read has waited this long, ms, its endpoint is probed (`discovery.stallProbeAfterMs`); absent: the strategy's; 0: no probe. */
  stallProbeAfterMs?: number;
}

/** A preview request checked once ({@link PreviewEngine.checkRequest}), with the limit it runs with. */
export interface CheckedPreviewRequest extends PreviewRequest {
  readonly checked: { readonly limit: number };
}

/** The stall bound of a preview or profile request (the operator's where set, else the strategy's for that call), as {@link readWithFailover} takes it. */
export function stallOptions(request: { strategy: DiscoveryStrategy; stallTimeoutMs?: number; stallProbeAfterMs?: number }, call: StallBoundCall): ReadOptions {
  const bound = stallBoundOf(request.strategy, call, { stallTimeoutMs: request.stallTimeoutMs, stallProbeAfterMs: request.stallProbeAfterMs });
  return { stallMs: bound.stallTimeoutMs, probeAfterMs: bound.stallProbeAfterMs };
}

/** Rows per message. */
const ROWS_PER_EVENT = 100;

/** Events of a preview, in order. */
export type PreviewEvent =
  | { kind: 'header'; table: RelationKey; columns: (PreviewColumnInfo & { masked: boolean })[]; endpoint: EndpointRole }
  | { kind: 'rows'; rows: Cell[][] }
  | { kind: 'failover'; active: EndpointRole; reason: string }
  | { kind: 'summary'; rows: number; truncated: boolean; limit: number; maskedColumns: string[]; durationMs: number };

/**
 * Previews one table through a connector: checks the request, refuses a table of the
 * database's own schemas unless the settings allow them, opens the connection(s) with
 * the strategy's statement timeout, resolves the table and columns in the source's catalog,
 * masks what the settings say and the connector's credential columns (masked columns are not
 * read at all), reads at most `limit`
 * rows (one more, to tell whether there are more), bounds each read as discovery does (a
 * read with no answer past the request's stall bound is cancelled: see {@link readWithFailover}),
 * fails over in HYBRID, and streams a header,
 * the rows in batches and a summary. The caller closes the connector.
 */
export class PreviewEngine {
  constructor(
    private readonly tracer: Tracer,
    private readonly settings: PreviewSettings = DEFAULT_PREVIEW_SETTINGS,
    private readonly logger: Logger = noopLogger,
  ) {}

  /**
   * Checks a request before anything is opened; throws one InputError naming every bad field
   * (a limit over the maximum is `VALUE_OUT_OF_RANGE`, a table or column `INVALID_REQUEST`).
   * The result is what {@link run} takes without checking again.
   */
  checkRequest(request: PreviewRequest): CheckedPreviewRequest {
    const violations = tableRequestViolations(request.table, request.columns);
    if (request.limit > this.settings.maxRows) {
      violations.push({
        field: 'limit',
        description: `${request.limit} is more than this daemon's maximum of ${this.settings.maxRows} rows (preview.maxRows)`,
        reason: 'VALUE_OUT_OF_RANGE',
      });
    }
    if (violations.length) throw inputErrorOf(violations);
    return { ...request, checked: { limit: request.limit || this.settings.defaultRows } };
  }

  /** Checks a request before anything is opened; throws an InputError naming the field. Returns the limit. */
  validateRequest(request: PreviewRequest): number {
    return this.checkRequest(request).checked.limit;
  }

  /**
   * Runs a preview; a request not yet checked is checked first. A preview that ends UNAVAILABLE
   * (stalled, connection lost, no endpoint left) says in its error that a retry is safe ({@link retrySafe}).
   */
  async *run(connector: PreviewableConnector, request: PreviewRequest | CheckedPreviewRequest, signal: AbortSignal): AsyncGenerator<PreviewEvent> {
    try {
      yield* this.preview(connector, request, signal);
    } catch (error) {
      throw retrySafe(error);
    }
  }

  private async *preview(connector: PreviewableConnector, request: PreviewRequest | CheckedPreviewRequest, signal: AbortSignal): AsyncGenerator<PreviewEvent> {
    const { limit } = ('checked' in request ? request : this.checkRequest(request)).checked;
    const started = performance.now();
    const { previewColumns, previewRows } = connector;
    if (!previewColumns || !previewRows) {
      throw new SourcedError('PREVIEW_NOT_SUPPORTED', `the ${connector.source.type} connector cannot preview tables`);
    }
    refuseSystemTable(connector, request.table, this.settings, 'preview');
    const masked = columnMasker(connector, request.table, this.settings);

    await connector.initialize(signal, { statementTimeoutMs: STRATEGY_PRESETS[request.strategy].statementTimeoutMs });
    const failovers: FailoverOutcome[] = [];
    const bound = stallOptions(request, 'preview');
    const columns = await this.read(connector, signal, failovers, bound, (s) => previewColumns.call(connector, request.table, request.columns, s));
    const header = columns.map((c) => ({ ...c, masked: masked(c.name, c.type) }));
    for (const f of failovers.splice(0)) yield { kind: 'failover', ...f };
    yield { kind: 'header', table: request.table, columns: header, endpoint: connector.activeRole };

    const readable = header.filter((c) => !c.masked).map(({ name, type }) => ({ name, type }));
    const read = { table: request.table, columns: readable, limit: limit + 1, isMasked: masked };
    const rows = await withSpan(this.tracer, 'sourced.preview.read', { 'sourced.preview.limit': limit, 'sourced.preview.columns': readable.length }, () =>
      this.read(connector, signal, failovers, bound, (s) => previewRows.call(connector, read, s)),
    );
    for (const f of failovers.splice(0)) yield { kind: 'failover', ...f };
    const truncated = rows.length > limit;
    const sent = rows.slice(0, limit);
    for (let i = 0; i < sent.length; i += ROWS_PER_EVENT) {
      if (signal.aborted) throw abortedErrorFrom(signal);
      yield { kind: 'rows', rows: sent.slice(i, i + ROWS_PER_EVENT).map((cells) => this.withMasks(header, cells)) };
    }
    this.logger.debug('preview done', { rows: sent.length, truncated });
    yield {
      kind: 'summary',
      rows: sent.length,
      truncated,
      limit,
      maskedColumns: header.filter((c) => c.masked).map((c) => c.name),
      durationMs: performance.now() - started,
    };
  }

  private async read<T>(
    connector: PreviewableConnector,
    signal: AbortSignal,
    failovers: FailoverOutcome[],
    bound: ReadOptions,
    read: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const result = await readWithFailover(connector, signal, read, bound);
    if (result.failover) failovers.push(result.failover);
    return result.value;
  }

  /** A row of the read columns, with a `masked` cell in place of each masked column. */
  private withMasks(header: { masked: boolean }[], cells: Cell[]): Cell[] {
    const out: Cell[] = [];
    let next = 0;
    for (const column of header) out.push(column.masked ? { kind: 'masked' } : (cells[next++] ?? { kind: 'null' }));
    return out;
  }
}

/**
 * `error`, when it is UNAVAILABLE, with ErrorInfo metadata saying that the preview may be sent
 * again as it was (`retry`: `SAFE`) and a hint that says so: a preview has no cursor to resume
 * from, but it only reads, and a new call sends its rows from the first.
 */
export function retrySafe(error: unknown): unknown {
  if (!(error instanceof UnavailableError)) return error;
  const metadata: Partial<Record<string, string>> = error.metadata;
  metadata.retry = 'SAFE';
  metadata.hint = `${metadata.hint ? `${metadata.hint} ` : ''}A preview only reads, so the same request is safe to send again; it starts from the first row (rows received from this call are sent again).`;
  return error;
}

/** What is wrong with the table and columns of a preview or profile request, each naming its field. */
export function tableRequestViolations(table: RelationKey, columns: readonly string[]): FieldViolation[] {
  const violations: FieldViolation[] = [];
  if (!table.schema) violations.push({ field: 'table.schema', description: 'is required' });
  if (!table.name) violations.push({ field: 'table.name', description: 'is required' });
  columns.forEach((c, i) => {
    if (c === '') violations.push({ field: `columns[${i}]`, description: 'is empty' });
  });
  const duplicate = columns.findIndex((c, i) => columns.indexOf(c) !== i);
  if (duplicate >= 0) violations.push({ field: `columns[${duplicate}]`, description: `"${columns[duplicate]}" is named twice` });
  return violations;
}
