// A route's local rate limit: Envoy's local_ratelimit token bucket. It starts
// full with maxTokens and gains tokensPerFill every fillInterval, up to
// maxTokens; each request takes one. The refill is computed lazily from a
// monotonic clock when a request asks, so an idle route costs no timer.

import { durationMs } from '../../../src/shared/policy/grammar.ts';
import type { TokenBucketSpec } from '../../../src/shared/policy/schema.ts';

export class TokenBucket {
  private readonly max: number;
  private readonly perFill: number;
  private readonly intervalMs: number;
  private tokens: number;
  /** performance.now() of the last whole fill interval counted. */
  private filledAt: number;

  constructor(spec: TokenBucketSpec, now = performance.now()) {
    this.max = spec.maxTokens;
    this.perFill = spec.tokensPerFill;
    this.intervalMs = Math.max(1, durationMs(spec.fillInterval));
    this.tokens = spec.maxTokens;
    this.filledAt = now;
  }

  /** Takes a token; false when there is none now. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens === 0) return false;
    this.tokens--;
    return true;
  }

  /** Milliseconds until the next token, for `retry-after`. */
  msUntilNextToken(now: number): number {
    this.refill(now);
    if (this.tokens > 0) return 0;
    return Math.max(0, this.filledAt + this.intervalMs - now);
  }

  private refill(now: number): void {
    const fills = Math.floor((now - this.filledAt) / this.intervalMs);
    if (fills <= 0) return;
    this.filledAt += fills * this.intervalMs;
    this.tokens = Math.min(this.max, this.tokens + fills * this.perFill);
  }
}
