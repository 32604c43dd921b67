import type { DataSource, Endpoint, EndpointRole } from '../datasource/DataSource';
import type { Logger } from '../logging/Logger';
import type { TargetPolicy } from '../connector/TargetPolicy';

/** The outcome of a check. */
export type CheckStatus = 'PASSED' | 'FAILED' | 'WARNING' | 'SKIPPED';

/** What a check reports. */
export interface CheckResult {
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
  role: EndpointRole;
  /** The endpoint with its port filled in. */
  endpoint: Required<Pick<Endpoint, 'host' | 'port'>> & Endpoint;
  source: DataSource;
  /** Fires when the check's time limit passes or the caller gives up. Pass it on. */
  signal: AbortSignal;
  /** The check's time limit in milliseconds. */
  timeoutMs: number;
  state: S;
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
  run(context: CheckContext<S>): Promise<CheckResult>;
}

/** The checks a connector runs against one endpoint, in order, with their shared state. */
export interface ValidationPlan<S> {
  createState(): S;
  checks: CheckDefinition<S>[];
  /** Releases whatever the checks opened (connections, sockets). Runs on every exit path. */
  cleanup(state: S): Promise<void>;
}

/** Shorthands for check results. */
export const passed = (message: string, details?: Record<string, string>): CheckResult => ({ status: 'PASSED', message, details });
export const failed = (message: string, hint?: string, details?: Record<string, string>): CheckResult => ({
  status: 'FAILED',
  message,
  hint,
  details,
});
export const warning = (message: string, hint?: string, details?: Record<string, string>): CheckResult => ({
  status: 'WARNING',
  message,
  hint,
  details,
});
export const skipped = (message: string, details?: Record<string, string>): CheckResult => ({ status: 'SKIPPED', message, details });
