// A token bucket (Envoy's local_ratelimit token_bucket): it starts full with
// maxTokens and gains tokensPerFill at every fillInterval, up to maxTokens;
// each admitted connection (or request) takes one. Refilled lazily from a
// monotonic clock when a token is asked for, so an idle bucket costs nothing
// and no timer runs per bucket or per connection. The refills fall on a fixed
// grid from the bucket's creation, as Envoy's fill timer does: a token taken
// just before a tick comes back at that tick, not a whole interval later.
// grammar.ts, not schema.ts: the L7 path compiles buckets without loading TypeBox.
import { durationMs } from '../../../src/shared/policy/grammar.ts';
import type { TokenBucketSpec } from '../../../src/shared/policy/schema.ts';

/** Milliseconds from a monotonic origin. */
export type Clock = () => number;

export const monotonicClock: Clock = () => performance.now();

export class TokenBucket {
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
  private readonly now: Clock;
  private tokens: number;
  /** The grid point of the last refill (or the creation). */
  private filledAt: number;

  constructor(spec: TokenBucketSpec, now: Clock = monotonicClock) {
    this.maxTokens = spec.maxTokens;
    this.tokensPerFill = spec.tokensPerFill;
    // The parser refuses 0; a bucket never divides by it whatever it is given.
    this.fillIntervalMs = Math.max(1, durationMs(spec.fillInterval));
    this.now = now;
    this.tokens = spec.maxTokens;
    this.filledAt = now();
  }

  /** Same limits: a reload keeps the bucket (and what it has used) when this holds. */
  sameSpec(spec: TokenBucketSpec): boolean {
    return (
      spec.maxTokens === this.maxTokens &&
      spec.tokensPerFill === this.tokensPerFill &&
      Math.max(1, durationMs(spec.fillInterval)) === this.fillIntervalMs
    );
  }

  /** Takes a token if there is one. */
  take(): boolean {
    this.refill(this.now());
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  /** Milliseconds until a token is there again (0 when one is): an HTTP 429's `retry-after`. */
  msUntilNextToken(): number {
    const now = this.now();
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.max(0, this.filledAt + this.fillIntervalMs - now);
  }

  private refill(now: number): void {
    const fills = Math.floor((now - this.filledAt) / this.fillIntervalMs);
    if (fills > 0) {
      this.tokens = Math.min(this.maxTokens, this.tokens + fills * this.tokensPerFill);
      this.filledAt += fills * this.fillIntervalMs;
    }
  }
}
