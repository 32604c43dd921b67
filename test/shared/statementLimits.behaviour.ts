import { afterAll, beforeAll, expect, it } from 'vitest';
import { STRATEGY_PRESETS } from '@sourced/core';

export type StrategyName = keyof typeof STRATEGY_PRESETS;

/** What a server saw of one discovery run. */
export interface ObservedRun {
  /**
   * The statement time limit, in milliseconds, of each session the run opened (SQL: what the
   * session set) or of each catalog command it sent (MongoDB: maxTimeMS), as the server saw it.
   */
  limits: number[];
  /** The sessions (connections) the run used, as the server or the daemon counted them. */
  sessions: number;
}

/**
 * What the shared statement-limit cases need of one connector: a server of the suite's own it
 * can watch (a statement log, a general log, a stand-in's commands) and one discovery per
 * strategy on it.
 */
export interface StatementLimitEngine {
  /** Shown in the suite's name. */
  label: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** The presets the engine's cases run. */
  strategies: StrategyName[];
  /** Runs one discovery with the strategy (checking what it read) and returns what the server saw. */
  observe(strategy: StrategyName): Promise<ObservedRun>;
  /** How many sessions a run of the strategy uses: at least, at most. */
  sessions(strategy: StrategyName): [least: number, most: number];
}

/**
 * Registers the statement-limit cases every connector shares (call inside a describe): each
 * strategy's preset statement time limit reaches the server with every session (or catalog
 * command) of a discovery, and the run uses as many sessions as the strategy reads through.
 */
export function statementLimitBehaviour(engine: StatementLimitEngine): void {
  beforeAll(() => engine.setup(), 120_000);
  afterAll(() => engine.teardown());

  it.each(engine.strategies)('%s sends its preset statement limit with every session it opens', async (name) => {
    const { limits, sessions } = await engine.observe(name);
    const [least, most] = engine.sessions(name);
    expect(sessions).toBeGreaterThanOrEqual(least);
    expect(sessions).toBeLessThanOrEqual(most);
    expect(limits.length).toBeGreaterThan(0);
    expect(limits).toEqual(Array<number>(limits.length).fill(STRATEGY_PRESETS[name].statementTimeoutMs));
  });
}
