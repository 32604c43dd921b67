import { describe, expect, it } from 'vitest';
import {
  frozenServerBoundMs,
  PROFILE_STATEMENTS_PER_FIGURE,
  STALL_FAILOVER_ALLOWANCE_MS,
  STALL_PROBE_TIMEOUT_MS,
  stallBoundOf,
  STRATEGY_PRESETS,
  type DiscoveryStrategy,
} from '../src';

const STRATEGIES = Object.keys(STRATEGY_PRESETS) as DiscoveryStrategy[];

/** Issue 24: the stall bound is set per strategy, the operator's settings override it, and each kind of call gets a bound that fits its reads. */
describe('the stall bound of each strategy', () => {
  /** The requirement: under the default strategy a frozen primary is left within 10 s. */
  it('leaves a frozen server within 10 s under BALANCED', () => {
    const bound = stallBoundOf('BALANCED', 'discovery');
    expect(frozenServerBoundMs(bound)).toBe(10_000);
    expect(bound).toEqual({ stallTimeoutMs: 60_000, stallProbeAfterMs: 5_000 });
  });

  /** CONSERVATIVE is the slowest to declare a stall and AGGRESSIVE the fastest; ADAPTIVE starts as BALANCED. */
  it('orders the strategies from slow to fast to declare a stall', () => {
    const frozen = (s: DiscoveryStrategy) => frozenServerBoundMs(stallBoundOf(s, 'discovery'));
    expect(frozen('CONSERVATIVE')).toBeGreaterThan(frozen('BALANCED'));
    expect(frozen('BALANCED')).toBeGreaterThan(frozen('AGGRESSIVE'));
    expect(frozen('ADAPTIVE')).toBe(frozen('BALANCED'));
    expect(STRATEGIES.map((s) => [s, frozen(s)])).toEqual([
      ['CONSERVATIVE', 15_000 + STALL_PROBE_TIMEOUT_MS + STALL_FAILOVER_ALLOWANCE_MS],
      ['BALANCED', 5_000 + STALL_PROBE_TIMEOUT_MS + STALL_FAILOVER_ALLOWANCE_MS],
      ['AGGRESSIVE', 3_000 + STALL_PROBE_TIMEOUT_MS + STALL_FAILOVER_ALLOWANCE_MS],
      ['ADAPTIVE', 5_000 + STALL_PROBE_TIMEOUT_MS + STALL_FAILOVER_ALLOWANCE_MS],
    ]);
  });

  /**
   * A slow statement of a live server ends with the server's own statement timeout, not as a
   * stall: every backstop is longer than its strategy's statement timeout, and a profile's covers
   * the statements one figure may take.
   */
  it('keeps every backstop above the statement timeouts it covers', () => {
    for (const s of STRATEGIES) {
      const p = STRATEGY_PRESETS[s];
      expect(stallBoundOf(s, 'discovery').stallTimeoutMs, s).toBeGreaterThan(p.statementTimeoutMs);
      expect(stallBoundOf(s, 'preview')).toEqual(stallBoundOf(s, 'discovery'));
      const profile = stallBoundOf(s, 'profile');
      expect(profile.stallTimeoutMs, s).toBeGreaterThan(PROFILE_STATEMENTS_PER_FIGURE * p.statementTimeoutMs);
      expect(profile.stallTimeoutMs, s).toBeGreaterThanOrEqual(p.stallTimeoutMs);
      // A frozen server is left as soon in a profile as in a discovery.
      expect(profile.stallProbeAfterMs, s).toBe(p.stallProbeAfterMs);
    }
    expect(stallBoundOf('BALANCED', 'profile').stallTimeoutMs).toBe(150_000);
  });

  /** `discovery.stallTimeoutMs`/`stallProbeAfterMs`, when set, replace the strategy's value for every call; 0 turns each off. */
  it("takes the operator's settings over the strategy's", () => {
    for (const call of ['discovery', 'preview', 'profile'] as const) {
      expect(stallBoundOf('CONSERVATIVE', call, { stallTimeoutMs: 20_000, stallProbeAfterMs: 1_000 })).toEqual({
        stallTimeoutMs: 20_000,
        stallProbeAfterMs: 1_000,
      });
      expect(stallBoundOf('AGGRESSIVE', call, { stallProbeAfterMs: 0 }).stallProbeAfterMs).toBe(0);
    }
    expect(stallBoundOf('BALANCED', 'discovery', { stallTimeoutMs: undefined })).toEqual(stallBoundOf('BALANCED', 'discovery'));
    // Without a probe, a frozen server is left at the backstop; with neither, never.
    expect(frozenServerBoundMs({ stallTimeoutMs: 20_000, stallProbeAfterMs: 0 })).toBe(20_000 + STALL_FAILOVER_ALLOWANCE_MS);
    expect(frozenServerBoundMs({ stallTimeoutMs: 2_000, stallProbeAfterMs: 5_000 })).toBe(2_000 + STALL_FAILOVER_ALLOWANCE_MS);
    expect(frozenServerBoundMs({ stallTimeoutMs: 0, stallProbeAfterMs: 0 })).toBe(0);
  });
});
