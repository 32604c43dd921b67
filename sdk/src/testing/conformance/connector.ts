/**
 * The connector conformance suite (describeConnectorConformance). What it checks in each
 * stream is in streamChecks.ts.
 * Over 400 lines: one describe block whose tests share one closure (the daemon, the sources, the captured logs and streams).
 */
import { Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type {
  DiscoverDataSourceRequest,
  DiscoverDataSourceResponse,
  PreviewTableResponse,
  ProfileTableResponse,
  ValidateDataSourceResponse,
} from '@sourced/api';
import { DiscoveryStrategy, ProfileMode } from '@sourced/api';
import { PluginState } from '@sourced/api';
import { collect, richStatusOf, startTestDaemon, type TestDaemon } from '../startTestDaemon';
import { Captured, check, none, pollUntil, RootCause, secretLabels, testRegistrar, UPPER_SNAKE_CASE, vitestApi, loadedPlugins } from './shared';
import { previewCellProblems, sampleProfileProblems, SAMPLE_REQUEST } from './valueChecks';
import type { ConformanceSource, ConnectorConformanceOptions } from './types';
import type { RichStatus } from '@sourced/api';
import {
  collectionsOf,
  compareKeys,
  entitiesOf,
  failedChecks,
  finishedCheckProblems,
  relationsOf,
  statusOf,
  summaryOf,
  typeFixtureProblems,
  validationStreamProblems,
} from './streamChecks';

/** Test names of the connector suite, as a plugin author reads them in a failure (and lists them in `knownFailures`). */
export const CONNECTOR_TESTS = {
  listed: 'is listed by ListPlugins as LOADED, with its connector type and the validate and discover capabilities',
  validationStream:
    'validation of the good source streams checkStarted/checkFinished pairs with unique check ids, a report per endpoint and a closing summary with ok=true',
  validationChecks: 'every finished check has a status, a message, a hint when FAILED or WARNING, and a non-negative duration',
  wrongPasswordValidation: 'validation with a wrong password fails at a check with a hint, and the summary says ok=false',
  wrongPasswordDiscovery: 'discovery with a wrong password ends with PERMISSION_DENIED and the same UPPER_SNAKE_CASE ErrorInfo reason twice',
  unreachableValidation: 'validation of an unreachable source fails at a check with a hint, and the summary says ok=false',
  unreachableDiscovery: 'discovery of an unreachable source ends with a non-OK status and the same UPPER_SNAKE_CASE ErrorInfo reason twice',
  discoveryStream: 'discovery streams schemas first (when it sends any), sequence numbers 1..n and a closing summary that counts what was sent',
  discoveryEntities: 'every relation or collection has a schema and a name; columns are numbered 1..n in order and have a type',
  discoveryOrder: 'relations and collections arrive in strictly increasing (schema, name) order by bytes',
  discoveryMinimum: 'the good source yields at least minimumRelations relations or collections',
  batching: 'discovery with batch size 1, 2 and the default yields the same entities in the same order',
  resume: 'a discovery cancelled after its first batch with a cursor, resumed from that cursor, yields every entity exactly once',
  cancelFrees: 'a cancelled discovery frees its connections',
  preview:
    "with the preview capability: the first entity previews as a header, rows of one cell per column (at most the limit), each value in its kind's form and one kind per column, and a summary; an unknown table is NOT_FOUND (TABLE_NOT_FOUND)",
  profile: 'with the profile capability: the first entity profiles (STATISTICS) as a header, one event per named column and a summary that counts them',
  profileSample:
    'with the profile capability: the first entity profiles in SAMPLE mode within the requested sample, with sampled figures in range (null shares and frequencies 0..1, most common values in order and within the limit, histogram within its buckets)',
  typeFixture: 'with a type fixture: its preview returns every declared cell, kind and value, row by row and column by column',
  noLeaks: 'no secret appears in any stream event, error status, log line or span',
} as const;

/**
 * Registers a vitest `describe` block that checks a connector against what every connector of
 * sourced must do, through a real daemon started in-process with the plugin:
 *
 * - the plugin loads, and ListPlugins lists the connector type with `validate` and `discover`;
 * - validation streams well-formed events (pairs of checkStarted/checkFinished, unique check ids
 *   per endpoint, gapless sequence numbers, a report per endpoint, a closing summary), every
 *   finished check has a status, a message, a hint when it failed or warned, and a duration;
 * - a wrong password and an unreachable source fail validation at a check with a hint, and end
 *   discovery with a non-OK status (PERMISSION_DENIED for the password) whose ErrorInfo reason is
 *   UPPER_SNAKE_CASE and the same when run twice;
 * - discovery is well-formed (schemas first, named entities, columns numbered 1..n with types,
 *   strictly increasing (schema, name) byte order, a summary that counts what was sent), the same
 *   whatever the batch size, complete when cancelled and resumed from a cursor, and frees its
 *   connections when cancelled;
 * - with the preview and profile capabilities, a preview and a profile are well formed, and a
 *   declared type fixture (`typeFixture`) previews to exactly the declared cells, kind and value;
 * - no secret of the sources appears in any event, error status, log line or span.
 *
 * ```ts
 * import { describeConnectorConformance } from '@sourced/plugin-sdk/testing';
 * describeConnectorConformance({
 *   plugin: require.resolve('../dist/index.js'),
 *   type: 'sqlite',
 *   source: () => ({ dataSource: DataSource.fromPartial({ type: 'sqlite', primary: { database: file } }), secrets: [] }),
 *   unreachable: () => ({ dataSource: DataSource.fromPartial({ type: 'sqlite', primary: { database: '/nonexistent.db' } }), secrets: [] }),
 * });
 * ```
 *
 * Call it at the top level of a vitest test file (vitest is a peer dependency).
 */
export function describeConnectorConformance(options: ConnectorConformanceOptions): void {
  const { describe, beforeAll, afterAll } = vitestApi(options.vitest);
  // The kit's own checks: a failure reads "what: expected X, got Y", without vitest's diff and stack.
  const expect = check;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const minimum = options.minimumRelations ?? 3;
  const rootCause = new RootCause();
  const { test, skip, unknownNames } = testRegistrar(vitestApi(options.vitest), options.knownFailures, timeoutMs, rootCause);
  const T = CONNECTOR_TESTS;

  describe(`connector conformance: ${options.type}`, () => {
    let t: TestDaemon | undefined;
    // Set by beforeAll (from the author's callbacks): undefined until then.
    let good: ConformanceSource | undefined;
    let wrong: ConformanceSource | undefined;
    let unreachable: ConformanceSource | undefined;
    const captured = new Captured();
    let full: Promise<DiscoverDataSourceResponse[]> | undefined;
    let goodValidation: Promise<ValidateDataSourceResponse[]> | undefined;
    const validations: ValidateDataSourceResponse[][] = [];

    const daemon = (): TestDaemon => {
      if (!t) throw new Error('the daemon did not start (see the error of beforeAll)');
      return t;
    };
    const sourceOf = (source: ConformanceSource | undefined): ConformanceSource => {
      if (!source) throw new Error('the sources were not set up (see the error of beforeAll)');
      return source;
    };

    async function validate(source: ConformanceSource, what: string): Promise<ValidateDataSourceResponse[]> {
      try {
        const events = await daemon().validate({ dataSource: source.dataSource });
        captured.add(`validation events (${what})`, events);
        validations.push(events);
        return events;
      } catch (error) {
        captured.addError(`validation error status (${what})`, error);
        throw error;
      }
    }

    async function discover(request: Partial<DiscoverDataSourceRequest>, what: string): Promise<DiscoverDataSourceResponse[]> {
      try {
        const events = await daemon().discover(request);
        captured.add(`discovery events (${what})`, events);
        return events;
      } catch (error) {
        captured.addError(`discovery error status (${what})`, error);
        throw error;
      }
    }

    async function discoveryFailure(source: ConformanceSource, what: string): Promise<ServiceError> {
      try {
        const events = await daemon().discover({ dataSource: source.dataSource });
        captured.add(`discovery events (${what})`, events);
      } catch (error) {
        captured.addError(`discovery error status (${what})`, error);
        return error as ServiceError;
      }
      throw new Error(`discovery of ${what} succeeded, but it must end with an error status`);
    }

    /**
     * Reads a discovery until its first batch with a cursor, then cancels the call; resolves
     * when the call has ended, with the events read up to that batch and the cursor.
     */
    function discoverUntilCursor(
      request: Partial<DiscoverDataSourceRequest>,
      what: string,
    ): Promise<{ events: DiscoverDataSourceResponse[]; cursor?: string; ended: string }> {
      const call: ClientReadableStream<DiscoverDataSourceResponse> = daemon().discoverStream(request);
      const events: DiscoverDataSourceResponse[] = [];
      let cursor: string | undefined;
      return new Promise((resolve) => {
        call.on('data', (e: DiscoverDataSourceResponse) => {
          if (cursor !== undefined) return;
          events.push(e);
          if (e.event?.$case === 'batch' && e.event.value.cursor) {
            cursor = e.event.value.cursor;
            call.cancel();
          }
        });
        const done = (ended: string) => {
          captured.add(`discovery events (${what})`, events);
          resolve({ events, cursor, ended });
        };
        call.on('error', (error: ServiceError) => {
          captured.addError(`discovery error status (${what})`, error);
          done(`error ${error.code}`);
        });
        call.on('end', () => done('end'));
      });
    }

    const fullDiscovery = () => (full ??= discover({ dataSource: sourceOf(good).dataSource }, 'the good source'));
    const goodValidationRun = () => (goodValidation ??= validate(sourceOf(good), 'the good source'));

    beforeAll(
      async () => {
        // A daemon or plugin that cannot start is one root cause, reported once by the first test.
        t = await rootCause.step('starting the daemon with the plugin', () => startTestDaemon({ plugins: [options.plugin], config: options.config }));
        if (t) await rootCause.checkPlugins(t, (p) => p.connectors.includes(options.type), `no loaded plugin registers connector type "${options.type}"`);
        good = await rootCause.step('source()', () => options.source());
        const wrongPassword = options.wrongPassword?.bind(options);
        wrong = wrongPassword ? await rootCause.step('wrongPassword()', wrongPassword) : undefined;
        unreachable = await rootCause.step('unreachable()', () => options.unreachable());
      },
      Math.max(timeoutMs, 60_000),
    );

    afterAll(
      async () => {
        try {
          await t?.stop();
        } finally {
          await options.teardown?.();
        }
      },
      Math.max(timeoutMs, 60_000),
    );

    test(T.listed, async () => {
      const plugins = await loadedPlugins(daemon(), unknownNames());
      const record = plugins.find((p) => p.connectors.includes(options.type));
      expect(
        record,
        `no loaded plugin registers connector type "${options.type}"; loaded: ${plugins.map((p) => `${p.id} [${p.connectors.join(', ')}]`).join('; ')}`,
      ).toBeDefined();
      expect(record?.state, `the state of plugin ${record?.id}`).toBe(PluginState.PLUGIN_STATE_LOADED);
      expect(record?.capabilities, `the capabilities of connector ${options.type}`).toContainAll(['validate', 'discover']);
    });

    test(T.validationStream, async () => {
      const events = await goodValidationRun();
      none(validationStreamProblems(events), 'problems with the validation stream');
      const failed = failedChecks(events).map((c) => `${c.checkId}: ${c.message}`);
      none(failed, 'checks that failed on the good source');
      expect(summaryOf(events)?.ok, 'the summary of the good source').toBe(true);
    });

    test(T.validationChecks, async () => {
      await goodValidationRun();
      // Over every validation of the suite so far, plus the failing sources' own.
      const runs = [...validations];
      if (wrong) runs.push(await validate(wrong, 'the wrong password'));
      runs.push(await validate(sourceOf(unreachable), 'the unreachable source'));
      none(
        runs.flatMap((events) => finishedCheckProblems(events)),
        'problems with finished checks',
      );
    });

    const failingValidation = (source: () => ConformanceSource, what: string) => async () => {
      const events = await validate(source(), what);
      none(validationStreamProblems(events), 'problems with the validation stream');
      none(finishedCheckProblems(events), 'problems with finished checks');
      const failed = failedChecks(events);
      expect(failed.length, `no check failed on ${what}`).toBeGreaterThan(0);
      none(
        failed.filter((c) => !c.hint.trim()).map((c) => c.checkId),
        'failed checks without a hint',
      );
      expect(summaryOf(events)?.ok, `the summary of ${what}`).toBe(false);
    };

    const failingDiscovery = (source: () => ConformanceSource, what: string, code?: number) => async () => {
      const first = await discoveryFailure(source(), what);
      const second = await discoveryFailure(source(), `${what}, again`);
      expect(first.code, `the gRPC status of ${what}: ${first.message}`).not.toBe(0);
      if (code !== undefined) expect(first.code, `the gRPC status code of ${what} (${first.message})`).toBe(code);
      const status = statusOf(first);
      expect(status?.errorInfo, `the status of ${what} carries no google.rpc.ErrorInfo: ${first.message}`).toBeDefined();
      expect(status?.errorInfo?.reason, `the ErrorInfo reason of ${what} (UPPER_SNAKE_CASE)`).toMatch(UPPER_SNAKE_CASE);
      expect(statusOf(second)?.errorInfo?.reason, `the ErrorInfo reason of ${what} changed from one run to the next`).toBe(status?.errorInfo?.reason);
      expect(second.code, `the gRPC status code of ${what}, run again`).toBe(first.code);
    };

    if (options.wrongPassword) {
      test(
        T.wrongPasswordValidation,
        failingValidation(() => wrong as ConformanceSource, 'the wrong password'),
      );
      test(
        T.wrongPasswordDiscovery,
        failingDiscovery(() => wrong as ConformanceSource, 'the wrong password', 7 /* PERMISSION_DENIED */),
      );
    } else {
      skip(T.wrongPasswordValidation);
      skip(T.wrongPasswordDiscovery);
    }
    test(
      T.unreachableValidation,
      failingValidation(() => sourceOf(unreachable), 'the unreachable source'),
    );
    test(
      T.unreachableDiscovery,
      failingDiscovery(() => sourceOf(unreachable), 'the unreachable source'),
    );

    test(T.discoveryStream, async () => {
      const events = await fullDiscovery();
      expect(
        events.map((e) => e.sequence),
        'sequence numbers',
      ).toEqual(events.map((_e, i) => i + 1));
      const schemasAt = events.findIndex((e) => e.event?.$case === 'schemas');
      if (schemasAt >= 0) expect(schemasAt, 'the schemas event is not the first event').toBe(0);
      const summaries = events.filter((e) => e.event?.$case === 'summary');
      expect(summaries.length, 'summaries in the stream').toBe(1);
      const last = events.at(-1)?.event;
      expect(last?.$case, 'the last event').toBe('summary');
      if (last?.$case === 'summary') {
        expect({ relations: last.value.relations, collections: last.value.collections }, 'the summary counts').toEqual({
          relations: relationsOf(events).length,
          collections: collectionsOf(events).length,
        });
        expect(last.value.stoppedEarly, 'the summary says the run stopped early').toBe(false);
      }
    });

    test(T.discoveryEntities, async () => {
      const events = await fullDiscovery();
      const problems: string[] = [];
      for (const r of relationsOf(events)) {
        const name = `relation ${r.schema}.${r.name}`;
        if (!r.name.trim()) problems.push(`a relation of schema "${r.schema}" has no name`);
        if (!r.schema.trim()) problems.push(`${name} has no schema`);
        r.columns.forEach((c, i) => {
          if (c.ordinal !== i + 1) problems.push(`${name}: column ${i + 1} (${c.name}) has ordinal ${c.ordinal}`);
          if (!c.name.trim()) problems.push(`${name}: column ${i + 1} has no name`);
          if (!c.dataType.trim()) problems.push(`${name}: column ${c.name} has no data type`);
        });
        const columns = new Set(r.columns.map((c) => c.name));
        if (columns.size !== r.columns.length) problems.push(`${name} lists a column twice`);
      }
      for (const c of collectionsOf(events)) {
        if (!c.name.trim()) problems.push(`a collection of database "${c.database}" has no name`);
        if (!c.database.trim()) problems.push(`collection ${c.name} has no database`);
        c.indexes.forEach((ix, i) => {
          if (!ix.name.trim()) problems.push(`collection ${c.database}.${c.name}: index ${i + 1} has no name`);
        });
      }
      none(problems, 'problems with the discovered entities');
    });

    test(T.discoveryOrder, async () => {
      const entities = entitiesOf(await fullDiscovery());
      const out: string[] = [];
      for (let i = 1; i < entities.length; i++) {
        if (compareKeys(entities[i - 1], entities[i]) >= 0) out.push(`${entities[i - 1].key} came before ${entities[i].key}`);
      }
      none(out, 'pairs out of order (or repeated)');
    });

    test(T.discoveryMinimum, async () => {
      expect(entitiesOf(await fullDiscovery()).length, `relations and collections of the good source (minimumRelations: ${minimum})`).toBeGreaterThanOrEqual(
        minimum,
      );
    });

    test(T.batching, async () => {
      const expected = entitiesOf(await fullDiscovery()).map((e) => e.key);
      for (const batchSize of [1, 2]) {
        const events = await discover({ dataSource: sourceOf(good).dataSource, batchSize }, `the good source, batch size ${batchSize}`);
        expect(
          entitiesOf(events).map((e) => e.key),
          `entities with batch size ${batchSize}`,
        ).toEqual(expected);
        const sizes = events.flatMap((e) => (e.event?.$case === 'batch' ? [e.event.value.relations.length + e.event.value.collections.length] : []));
        expect(Math.max(0, ...sizes), `the largest batch with batch size ${batchSize}`).toBeLessThanOrEqual(batchSize);
      }
    });

    test(T.resume, async () => {
      const expected = entitiesOf(await fullDiscovery()).map((e) => e.key);
      const first = await discoverUntilCursor({ dataSource: sourceOf(good).dataSource, batchSize: 1 }, 'the good source, cancelled after its first batch');
      expect(first.cursor, `no batch carried a cursor (the call ended with ${first.ended})`).toBeTruthy();
      const before = entitiesOf(first.events).map((e) => e.key);
      const rest = await discover({ dataSource: sourceOf(good).dataSource, resumeAfter: first.cursor }, 'the good source, resumed');
      const after = entitiesOf(rest).map((e) => e.key);
      const all = [...before, ...after];
      none(
        all.filter((k, i) => all.indexOf(k) !== i),
        'entities sent twice',
      );
      expect(all, 'the cancelled part and the resumed part together').toEqual(expected);
    });

    test(T.cancelFrees, async () => {
      const budget = daemon().daemon.container.cradle.connectionBudget;
      const baseline = options.openSessions ? await options.openSessions() : 0;
      const run = await discoverUntilCursor({ dataSource: sourceOf(good).dataSource, batchSize: 1 }, 'the good source, cancelled');
      expect(run.cursor, `no batch carried a cursor (the call ended with ${run.ended})`).toBeTruthy();
      expect(run.ended, 'how the cancelled call ended').toBe('error 1');
      if (options.openSessions) {
        const sessions = options.openSessions.bind(options);
        const open = await pollUntil(
          () => sessions(),
          (n) => n <= baseline,
          10_000,
        );
        expect(open, `sessions open on the source 10 s after the cancel (${baseline} before the discovery)`).toBeLessThanOrEqual(baseline);
      }
      const held = await pollUntil(
        () => budget.totalInUse(),
        (n) => n === 0,
        10_000,
      );
      expect(held, "slots of the daemon's connection budget still held 10 s after the cancel").toBe(0);
    });

    /** The connector's capabilities, as ListPlugins reports them. */
    const capabilities = async () => (await daemon().listPlugins()).find((p) => p.connectors.includes(options.type))?.capabilities ?? [];
    /** The first relation or collection the good source's discovery sent. */
    const firstEntity = async () => {
      const entity = entitiesOf(await fullDiscovery())[0];
      expect(entity, 'a relation or collection of the good source').toBeDefined();
      return entity;
    };
    /** Runs a stream to its end, recording its events or its error status for the leak check. */
    const recorded = async <T>(what: string, call: ClientReadableStream<T>): Promise<T[]> => {
      try {
        const events = await collect(call);
        captured.add(`${what} events`, events);
        return events;
      } catch (error) {
        captured.addError(`${what} error status`, error);
        throw error;
      }
    };
    /** The status of a stream that must fail. */
    const failureOf = async (what: string, call: ClientReadableStream<unknown>): Promise<RichStatus & { grpcCode: number }> => {
      try {
        await recorded(what, call);
      } catch (error) {
        return richStatusOf(error);
      }
      throw new Error(`${what} succeeded but was expected to fail`);
    };
    const MISSING_TABLE = 'sourced_conformance_no_such_table';

    test(T.preview, async (context) => {
      if (!(await capabilities()).includes('preview')) return context.skip('the connector does not declare the preview capability');
      const entity = await firstEntity();
      const request = (name: string) => ({
        dataSource: sourceOf(good).dataSource,
        table: { schema: entity.schema, name },
        columns: [],
        limit: 2,
        strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_UNSPECIFIED,
      });
      const table = `${entity.schema}.${entity.name}`;
      const events = await recorded('preview', daemon().dataSources.previewTable(request(entity.name), new Metadata()));
      expect(
        events.map((e) => e.sequence),
        `the sequence numbers of the preview of ${table}`,
      ).toEqual(events.map((_e, i) => i + 1));
      expect(events[0]?.event?.$case, `the first event of the preview of ${table}`).toBe('header');
      expect(events.at(-1)?.event?.$case, `the last event of the preview of ${table}`).toBe('summary');
      const header = events[0].event as Extract<PreviewTableResponse['event'], { $case: 'header' }>;
      const width = header.value.columns.length;
      expect(width, `the columns in the header of the preview of ${table}`).toBeGreaterThan(0);
      const rows = events.flatMap((e) => (e.event?.$case === 'rows' ? e.event.value.rows : []));
      expect(rows.length, `the rows of the preview of ${table} with limit 2`).toBeLessThanOrEqual(2);
      none(
        rows.flatMap((r, i) =>
          r.cells.length === width && r.cells.every((c) => c.value !== undefined)
            ? []
            : [`row ${i + 1}: ${r.cells.length} cells for ${width} columns, or a cell without a value`],
        ),
        `malformed rows of the preview of ${table}`,
      );
      none(
        previewCellProblems(
          table,
          header.value.columns.map((c) => c.name),
          rows.map((r) => r.cells),
        ),
        `cells of the preview of ${table} not in their kind's form (sourced.v1.Cell)`,
      );
      const summary = events.at(-1)?.event as Extract<PreviewTableResponse['event'], { $case: 'summary' }>;
      expect(summary.value.rows, `summary.rows of the preview of ${table} (the rows sent)`).toBe(rows.length);
      const missing = await failureOf('preview of a missing table', daemon().dataSources.previewTable(request(MISSING_TABLE), new Metadata()));
      expect(
        [missing.grpcCode, missing.errorInfo?.reason],
        `[gRPC code, ErrorInfo reason] of a preview of the missing table ${entity.schema}.${MISSING_TABLE}`,
      ).toEqual([5, 'TABLE_NOT_FOUND']);
    });

    test(T.profile, async (context) => {
      if (!(await capabilities()).includes('profile')) return context.skip('the connector does not declare the profile capability');
      const entity = await firstEntity();
      const events = await recorded(
        'profile',
        daemon().dataSources.profileTable(
          {
            dataSource: sourceOf(good).dataSource,
            table: { schema: entity.schema, name: entity.name },
            columns: [],
            mode: ProfileMode.PROFILE_MODE_STATISTICS,
            sampleRows: 0,
            mostCommonLimit: 0,
            histogramBuckets: 0,
            strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_UNSPECIFIED,
          },
          new Metadata(),
        ),
      );
      const table = `${entity.schema}.${entity.name}`;
      expect(
        events.map((e) => e.sequence),
        `the sequence numbers of the profile of ${table}`,
      ).toEqual(events.map((_e, i) => i + 1));
      expect(events[0]?.event?.$case, `the first event of the profile of ${table}`).toBe('header');
      expect(events.at(-1)?.event?.$case, `the last event of the profile of ${table}`).toBe('summary');
      const columns = events.flatMap((e) => (e.event?.$case === 'column' ? [e.event.value] : []));
      expect(columns.length, `the column events of the profile of ${table}`).toBeGreaterThan(0);
      none(
        columns.filter((c) => !c.name).map((_c, i) => `column event ${i + 1} has no name`),
        `malformed column events of the profile of ${table}`,
      );
      const summary = events.at(-1)?.event as Extract<ProfileTableResponse['event'], { $case: 'summary' }>;
      expect(summary.value.columns, `summary.columns of the profile of ${table} (the column events sent)`).toBe(columns.length);
    });

    test(T.profileSample, async (context) => {
      if (!(await capabilities()).includes('profile')) return context.skip('the connector does not declare the profile capability');
      const entity = await firstEntity();
      const events = await recorded(
        'profile (SAMPLE)',
        daemon().dataSources.profileTable(
          {
            dataSource: sourceOf(good).dataSource,
            table: { schema: entity.schema, name: entity.name },
            columns: [],
            ...SAMPLE_REQUEST,
            strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_UNSPECIFIED,
          },
          new Metadata(),
        ),
      );
      const table = `${entity.schema}.${entity.name}`;
      none(sampleProfileProblems(table, events), `problems with the SAMPLE profile of ${table}`);
    });

    if (options.typeFixture) {
      const declared = options.typeFixture;
      test(T.typeFixture, async () => {
        expect((await capabilities()).includes('preview'), 'a type fixture is declared, but the connector does not declare the preview capability').toBe(true);
        const fixture = typeof declared === 'function' ? await declared() : declared;
        const request = {
          dataSource: fixture.dataSource ?? sourceOf(good).dataSource,
          table: fixture.table,
          columns: fixture.columns,
          limit: fixture.rows.length + 1,
          strategy: DiscoveryStrategy.DISCOVERY_STRATEGY_UNSPECIFIED,
        };
        const events = await recorded('type fixture preview', daemon().dataSources.previewTable(request, new Metadata()));
        const header = events[0]?.event;
        expect(header?.$case, 'the first event of the preview').toBe('header');
        const columns = header?.$case === 'header' ? header.value.columns.map((c) => c.name) : [];
        const rows = events.flatMap((e) => (e.event?.$case === 'rows' ? e.event.value.rows : []));
        none(typeFixtureProblems(fixture, columns, rows), `cells of ${fixture.table.schema}.${fixture.table.name} that differ from the type fixture`);
      });
    } else skip(T.typeFixture);

    test(T.noLeaks, () => {
      const secrets = secretLabels([
        { label: 'source.secrets', values: good?.secrets },
        { label: 'wrongPassword().secrets', values: wrong?.secrets },
        { label: 'unreachable().secrets', values: unreachable?.secrets },
      ]);
      const leaks = captured.leaks(secrets, [{ where: 'daemon log lines and spans', text: daemon().emitted() }]);
      none(leaks, 'secrets that leaked (by label, never the value)');
    });
  });
}
