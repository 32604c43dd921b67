import type { DataSource, Endpoint, EndpointRole } from '../datasource/DataSource';
import type { Logger } from '../logging/Logger';
import type { TargetPolicy } from '../connector/TargetPolicy';

/** The outcome of a check. */
export type CheckStatus = 'PASSED' | 'FAILED' | 'WARNING' | 'SKIPPED';

/** What a check reports. */
export interface CheckResult {
  /** The outcome of the check. */
  status: CheckStatus;
  /** What happened, for a person. Never a secret, never raw driver text with credentials. */
  message: string;
  /** How to fix a failure or warning. */
  hint?: string;
  /** Facts found, for example `{ 'tls.protocol': 'TLSv1.3' }`. */
  details?: Record<string, string>;
}

/** What a check receives. `state` is shared by the checks of one endpoint, in order. */
export interface CheckContext<S> {
  /** Which endpoint of the data source the check runs against. */
  role: EndpointRole;
  /** The endpoint with its port filled in. */
  endpoint: Required<Pick<Endpoint, 'host' | 'port'>> & Endpoint;
  /** The data source being validated. */
  source: DataSource;
  /** Fires when the check's time limit passes or the caller gives up. Pass it on. */
  signal: AbortSignal;
  /** The check's time limit in milliseconds. */
  timeoutMs: number;
  /** The state the plan's `createState` made for this endpoint, shared by its checks in order: earlier checks leave what they found in it. */
  state: S;
  /** The daemon's logger. Never log a secret. */
  logger: Logger;
  /**
   * The daemon's target policy: a check that opens a socket of its own dials through it
   * (`targets.socket()`, `targets.connect()`), or only to addresses `dns` left in the state.
   * Undefined when the host sets no policy.
   */
  targets?: TargetPolicy;
}

/** One check of a validation plan. */
export interface CheckDefinition<S> {
  /** Stable kebab-case id: `dns`, `tcp`, `tls`, `authenticate`. */
  id: string;
  /** Title for people: `TCP connect`. */
  title: string;
  /**
   * Checks this one needs. When one of them failed (or was skipped because of a failure),
   * this check is reported as skipped without running.
   */
  dependsOn?: string[];
  /** Runs the check. An error it throws, or its time limit passing, is reported as a FAILED result. */
  run(context: CheckContext<S>): Promise<CheckResult>;
}

/** The checks a connector runs against one endpoint, in order, with their shared state. */
export interface ValidationPlan<S> {
  /** Makes the state the endpoint's checks share; called once per endpoint, before its first check. */
  createState(): S;
  /** The checks, in the order they run. */
  checks: CheckDefinition<S>[];
  /** Releases whatever the checks opened (connections, sockets). Runs on every exit path. */
  cleanup(state: S): Promise<void>;
}

/** Shorthands for check results. */
export const passed = (message: string, details?: Record<string, string>): CheckResult => ({ status: 'PASSED', message, details });
/** A FAILED result: what went wrong, and a hint on how to fix it. */
export const failed = (message: string, hint?: string, details?: Record<string, string>): CheckResult => ({
  status: 'FAILED',
  message,
  hint,
  details,
});
/** A WARNING result: the check passed with a problem worth fixing, and a hint on how. */
export const warning = (message: string, hint?: string, details?: Record<string, string>): CheckResult => ({
  status: 'WARNING',
  message,
  hint,
  details,
});
/** A SKIPPED result: why the check did not apply. */
export const skipped = (message: string, details?: Record<string, string>): CheckResult => ({ status: 'SKIPPED', message, details });
