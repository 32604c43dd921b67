import { SpanStatusCode, type Meter, type Tracer } from '@opentelemetry/api';
import type { ValidatableConnector } from '../contract/capabilities';
import type { Endpoint, EndpointRole } from '../datasource/DataSource';
import { abortedErrorFrom, describeError, throwIfAborted } from '../errors';
import { noopLogger, type Logger } from '../logging/Logger';
import { dbSystemOf, sourcedInstruments, type SourcedInstruments } from '../telemetry/metrics';
import type { CheckResult, CheckStatus } from './Check';
import { raceSignal } from './standardChecks';

/** Events of a validation run, in the order they happen. */
export type ValidationEvent =
  | { kind: 'checkStarted'; checkId: string; title: string; endpoint: EndpointRole }
  | {
      kind: 'checkFinished';
      checkId: string;
      title: string;
      endpoint: EndpointRole;
      status: CheckStatus;
      durationMs: number;
      message: string;
      hint: string;
      details: Record<string, string>;
    }
  | {
      kind: 'report';
      endpoint: EndpointRole;
      address: string;
      ok: boolean;
      passed: number;
      failed: number;
      warnings: number;
      skipped: number;
      durationMs: number;
    }
  | { kind: 'summary'; ok: boolean; endpoints: number; durationMs: number; connector: string };

export interface ValidationOptions {
  /** Time limit of each check. */
  checkTimeoutMs: number;
}

/**
 * Runs a connector's checks in order against each endpoint (the primary, then the
 * secondary of a HYBRID source) and yields each check as it starts and ends. A check
 * whose dependency failed is skipped without running. A check that throws is reported
 * as failed; the run goes on. Whatever the checks opened is released on every exit path.
 */
export class ValidationRunner {
  private readonly instruments: SourcedInstruments;

  constructor(
    private readonly tracer: Tracer,
    private readonly logger: Logger = noopLogger,
    /** Where `sourced.validation.checks` is recorded; no-op instruments by default. */
    meter?: Meter,
  ) {
    this.instruments = sourcedInstruments(meter);
  }

  async *run(connector: ValidatableConnector, options: ValidationOptions, signal: AbortSignal): AsyncGenerator<ValidationEvent> {
    const started = performance.now();
    const roles: EndpointRole[] = connector.source.location === 'HYBRID' ? ['PRIMARY', 'SECONDARY'] : ['PRIMARY'];
    let ok = true;
    for (const role of roles) {
      const endpoint = connector.endpoint(role);
      const plan = connector.validationPlan(role);
      const state = plan.createState();
      const blocked = new Set<string>();
      const counts = { PASSED: 0, FAILED: 0, WARNING: 0, SKIPPED: 0 };
      const endpointStarted = performance.now();
      try {
        for (const check of plan.checks) {
          if (signal.aborted) throw abortedErrorFrom(signal);
          yield { kind: 'checkStarted', checkId: check.id, title: check.title, endpoint: role };
          const checkStarted = performance.now();
          const blocker = check.dependsOn?.find((d) => blocked.has(d));
          let result: CheckResult;
          if (blocker) {
            result = { status: 'SKIPPED', message: `skipped: ${blocker} did not succeed` };
            blocked.add(check.id);
          } else {
            result = await this.runOne(check, { role, endpoint, state, options, connector, signal });
            if (result.status === 'FAILED') blocked.add(check.id);
          }
          // Not `if (signal.aborted)`: TypeScript would keep the loop's first check's narrowing across the await.
          throwIfAborted(signal);
          counts[result.status] += 1;
          this.instruments.validationChecks.add(1, {
            'sourced.check.id': check.id,
            'sourced.check.status': result.status.toLowerCase(),
            'db.system': dbSystemOf(connector),
          });
          yield {
            kind: 'checkFinished',
            checkId: check.id,
            title: check.title,
            endpoint: role,
            status: result.status,
            durationMs: performance.now() - checkStarted,
            message: result.message,
            hint: result.hint ?? '',
            details: result.details ?? {},
          };
        }
      } finally {
        await plan.cleanup(state).catch((error: unknown) => this.logger.warn('validation cleanup failed', { error: describeError(error) }));
      }
      const endpointOk = counts.FAILED === 0;
      ok &&= endpointOk;
      yield {
        kind: 'report',
        endpoint: role,
        address: `${endpoint.host}:${endpoint.port}`,
        ok: endpointOk,
        passed: counts.PASSED,
        failed: counts.FAILED,
        warnings: counts.WARNING,
        skipped: counts.SKIPPED,
        durationMs: performance.now() - endpointStarted,
      };
    }
    yield { kind: 'summary', ok, endpoints: roles.length, durationMs: performance.now() - started, connector: connector.source.type };
  }

  private runOne(
    check: ReturnType<ValidatableConnector['validationPlan']>['checks'][number],
    a: {
      role: EndpointRole;
      endpoint: Endpoint & { port: number };
      state: unknown;
      options: ValidationOptions;
      connector: ValidatableConnector;
      signal: AbortSignal;
    },
  ): Promise<CheckResult> {
    return this.tracer.startActiveSpan(`sourced.check ${check.id}`, async (span) => {
      span.setAttributes({ 'sourced.check.id': check.id, 'sourced.endpoint.role': a.role });
      const limit = AbortSignal.any([a.signal, AbortSignal.timeout(a.options.checkTimeoutMs)]);
      let result: CheckResult;
      const running = check.run({
        role: a.role,
        endpoint: a.endpoint,
        source: a.connector.source,
        signal: limit,
        timeoutMs: a.options.checkTimeoutMs,
        state: a.state,
        logger: this.logger,
        targets: a.connector.targetPolicy,
      });
      try {
        result = await raceSignal(running, limit);
      } catch (error) {
        // A check that ignored its signal may still be tearing down what it opened: give it a
        // moment before the plan's cleanup runs, so cleanup never races the check.
        await Promise.race([running.catch(() => undefined), new Promise((r) => setTimeout(r, 2000).unref())]);
        if (a.signal.aborted) {
          span.end();
          throw abortedErrorFrom(a.signal);
        }
        result = limit.aborted
          ? {
              status: 'FAILED',
              message: `${check.title} did not finish within ${a.options.checkTimeoutMs} ms`,
              hint: 'The source is slow or unreachable; raise check_timeout_ms if it is merely slow.',
            }
          : { status: 'FAILED', message: `${check.title} failed: ${describeError(error)}` };
      }
      span.setAttribute('sourced.check.status', result.status);
      if (result.status === 'FAILED') span.setStatus({ code: SpanStatusCode.ERROR, message: result.message });
      span.end();
      return result;
    });
  }
}
