import { ResourceExhaustedError } from '@sourced/core';

/**
 * Failed authentications per peer address, as a token bucket: a peer may fail `burst` times
 * at once, then `perMinute` times a minute. A peer that has used up its failures is refused
 * before its credentials are looked at (no JWT verification, no token hash): RESOURCE_EXHAUSTED
 * (`TOO_MANY_AUTH_FAILURES`) with a RetryInfo of when its next failure is allowed. Calls that
 * authenticate cost nothing, so a client with good credentials is never slowed down, and a
 * refusal names no credential.
 *
 * Synchronous and in memory (it runs in the call path of every call): at most `maxPeers`
 * buckets, the oldest dropped first, and a bucket that has refilled is forgotten.
 */
export class AuthFailureLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly burst: number,
    private readonly perMinute: number,
    private readonly maxPeers = 100_000,
  ) {}

  private get enabled(): boolean {
    return this.burst > 0 && this.perMinute > 0;
  }

  /** The peer's bucket now (refilled), or undefined when it is full. */
  private current(peer: string, now: number): { tokens: number; at: number } | undefined {
    const bucket = this.buckets.get(peer);
    if (!bucket) return undefined;
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) * this.perMinute) / 60_000);
    bucket.at = now;
    if (bucket.tokens >= this.burst) {
      this.buckets.delete(peer);
      return undefined;
    }
    return bucket;
  }

  /** Throws ResourceExhaustedError when the peer may not fail again yet. */
  check(peer: string): void {
    if (!this.enabled) return;
    const bucket = this.current(peer, Date.now());
    if (!bucket || bucket.tokens >= 1) return;
    const retryMs = Math.ceil(((1 - bucket.tokens) * 60_000) / this.perMinute);
    throw new ResourceExhaustedError(
      'TOO_MANY_AUTH_FAILURES',
      `too many failed authentications from ${peer}; try again in ${Math.ceil(retryMs / 1000)} s with valid credentials`,
      retryMs,
      { metadata: { limit: 'limits.authFailuresPerMinute', value: String(this.perMinute), burst: String(this.burst) } },
    );
  }

  /** Counts one failed authentication of the peer. */
  failed(peer: string): void {
    if (!this.enabled) return;
    const now = Date.now();
    let bucket = this.current(peer, now);
    if (!bucket) {
      if (this.buckets.size >= this.maxPeers) this.buckets.delete(this.buckets.keys().next().value as string);
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(peer, bucket);
    }
    bucket.tokens = Math.max(0, bucket.tokens - 1);
  }
}
