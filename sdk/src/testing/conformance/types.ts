import type { Cell, SourcedPlugin } from '@sourced/core';
import type { DaemonConfig } from '@sourced/daemon';
import type { DataSource } from '@sourced/api';
import type { VitestApi } from './shared';

/**
 * A data source the kit can reach, as the request message (`DataSource.fromPartial({...})`),
 * with the secrets it holds (the kit checks none of them ever leaves the daemon).
 */
export interface ConformanceSource {
  /** The data source as the request message carries it (`DataSource.fromPartial({...})`). */
  dataSource: DataSource;
  /** Values that must never appear in events, error statuses, logs or spans (passwords, keys). */
  secrets: string[];
}

/** How to run the connector conformance suite against a connector. */
export interface ConnectorConformanceOptions {
  /** The plugin that registers the connector: the plugin object, or a module specifier or absolute path. */
  plugin: SourcedPlugin | string;
  /** The connector type under test (as registered, for example `sqlite`). */
  type: string;
  /** Daemon configuration for the suite (for example `pluginSettings` for the plugin). */
  config?: Partial<DaemonConfig>;
  /**
   * Starts (or reaches) a test source and describes it. Called once, before the suite's
   * tests; the source must hold at least `minimumRelations` relations or collections.
   */
  source(): Promise<ConformanceSource> | ConformanceSource;
  /** Stops what `source()` started; called once after the suite. */
  teardown?(): Promise<void> | void;
  /** Relations or collections the source holds at least (default 3): batching and cancellation need a few. */
  minimumRelations?: number;
  /**
   * The same source with a wrong password, when the connector authenticates: validation must
   * fail at a check with a hint, and discovery must end with PERMISSION_DENIED and a stable
   * ErrorInfo reason. Omit for sources without credentials.
   */
  wrongPassword?(): Promise<ConformanceSource> | ConformanceSource;
  /**
   * A source that cannot be reached (a closed port, a missing file): validation must fail
   * with a hint, and discovery must end with a non-OK status and a stable ErrorInfo reason.
   */
  unreachable(): Promise<ConformanceSource> | ConformanceSource;
  /**
   * How many sessions the connector holds open on the source now, seen from the source's
   * side (for example `pg_stat_activity`); lets the kit check that a cancelled discovery
   * frees its connections. Without it, the kit checks the daemon's own connection count.
   */
  openSessions?(): Promise<number>;
  /**
   * The connector's type fixture: a table of the good source holding values of the types the
   * connector renders (edge values included), and the cells its preview must return for them.
   * The kit previews the table through the daemon and compares every cell, kind and value,
   * with the declaration, naming the row and column of each mismatch. Without it the kit's
   * value round-trip test is skipped. A function is called after `source()`.
   */
  typeFixture?: TypeFixture | (() => TypeFixture | Promise<TypeFixture>);
  /** Per-test time limit, milliseconds (default 30,000). */
  timeoutMs?: number;
  /** vitest's API (`import * as vitest from 'vitest'`); by default the running vitest's own. */
  vitest?: VitestApi;
  /**
   * Names of the kit's tests (exactly as the kit names them) this connector is known to fail:
   * they run as `it.fails`, so the suite stays green while the deviation is tracked and turns
   * red once the connector is fixed (then remove the name). Empty by default.
   */
  knownFailures?: readonly string[];
}

/** How to run the secret provider conformance suite against a provider. */
export interface SecretProviderConformanceOptions {
  /** The plugin that registers the provider. */
  plugin: SourcedPlugin | string;
  /** The scheme under test, for example `vault`. */
  scheme: string;
  /** Daemon configuration for the suite; the kit adds the scheme to `secrets.allowedReferences`. */
  config?: Partial<DaemonConfig>;
  /** Starts (or reaches) the secret store and describes what it holds. Called once before the suite. */
  setup(): Promise<SecretProviderFixture> | SecretProviderFixture;
  /** Stops what `setup()` started. */
  teardown?(): Promise<void> | void;
  /** Per-test time limit, milliseconds (default 30,000). */
  timeoutMs?: number;
  /** vitest's API (`import * as vitest from 'vitest'`); by default the running vitest's own. */
  vitest?: VitestApi;
  /** Names of the kit's tests this provider is known to fail; see {@link ConnectorConformanceOptions.knownFailures}. */
  knownFailures?: readonly string[];
}

/** What the store under test holds, for {@link SecretProviderConformanceOptions}. */
export interface SecretProviderFixture {
  /** A reference that exists, and the value it must resolve to. */
  existing: { reference: string; value: string };
  /** A well-formed reference to nothing: it must fail with reason SECRET_NOT_FOUND. */
  missing: string;
  /** A reference the provider must refuse as malformed (an InputError: INVALID_ARGUMENT naming the field); optional. */
  malformed?: string;
  /**
   * A reference whose look-up the store holds for `holdMs` or longer, to check cancellation;
   * optional. `holdMs` should be a few seconds (the kit cancels after about 100 ms and allows
   * up to half of `holdMs`, at most 2 s more). `dataSource`, when given, replaces the fixture's
   * `dataSource` for this look-up (for example to point the provider at a store that is slow).
   */
  slow?: { reference: string; holdMs: number; dataSource?: DataSource };
  /**
   * The data source the look-ups are made for, as the request message: what the provider reads
   * from it (credentials in `cloud_config`, endpoint overrides in `connection_properties`). The
   * kit normalizes it as the daemon does; its type and host need not name a loaded connector
   * (defaults: type `conformance`, host `conformance.invalid`). Optional: without it the
   * look-ups are made for such a minimal source.
   */
  dataSource?: DataSource;
  /** Other values that must never appear in logs, spans or error messages (the provider's own credentials). */
  secrets?: string[];
}

/**
 * A cell as a connector author declares it: the SDK's `Cell` (`{ kind: 'integer', value: '42' }`,
 * `{ kind: 'null' }`, `{ kind: 'bytes', value: '<base64>' }`), exactly what the connector's
 * `previewRows` should yield for the value. Compared by kind and value: strings exactly (JSON
 * text too: declare it as the connector writes it), floats by number (NaN equals NaN).
 */
export type ExpectedCell = Cell;

/** A connector's type fixture, for {@link ConnectorConformanceOptions.typeFixture}. */
export interface TypeFixture {
  /** The table to preview, as a PreviewTable request names it (schema: the schema, database or attached file name). */
  table: { schema: string; name: string };
  /**
   * The data source that holds the table, when it is not the good source's (for example a
   * database of its own, so that the fixture does not change what the good source discovers);
   * default the good source. Its secrets must be among the good source's `secrets`.
   */
  dataSource?: DataSource;
  /** The columns to preview, in this order (the request's `columns`); each row declares one cell per column. */
  columns: string[];
  /**
   * Every row of the table, in the order the connector's preview returns them (its documented
   * order, for example by primary key): the kit asks for one row more than declared, so a
   * table with more rows than declared is a mismatch too.
   */
  rows: ExpectedCell[][];
}
