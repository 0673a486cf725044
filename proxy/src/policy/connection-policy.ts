// The connection-level (L4) policy the capture listeners apply at accept,
// compiled from the PolicyState once per generation: Block All's allow list
// (outbound only) and the listeners' connection token buckets, keyed by
// direction and original destination port.
//
// `current` is undefined while the policy neither blocks nor limits anything
// (no policy file, allowAny without buckets): the listeners then pay one
// property read per connection and take today's path.
//
// Order at accept, as Envoy picks a filter chain by destination before its
// network filters run: a destination Block All refuses never reaches a
// bucket, so an app that keeps calling a blocked host does not use up the
// tokens of the port's legitimate connections.
//
// A reload keeps each bucket whose direction, port and limits are unchanged,
// with the tokens it has left; a changed or new one starts full. A
// connection already accepted keeps the policy it was accepted under.
import type { Policy } from '../../../src/shared/policy/schema.ts';
import type { Direction } from '../stats/request-record.ts';
import { ALLOW, BLOCK, type HostPattern, hostAllowed, OutboundPolicy } from './outbound-policy.ts';
import type { PolicyState } from './policy-state.ts';
import { type Clock, monotonicClock, TokenBucket } from './token-bucket.ts';

export const ADMIT = 'admit';
export const RATE_LIMITED = 'rate_limited';
export const POLICY_BLOCKED = 'policy_blocked';
export type Refused = typeof RATE_LIMITED | typeof POLICY_BLOCKED;
/** A list of host patterns: the connection's first bytes decide (first-bytes.ts). */
export type Admission = typeof ADMIT | Refused | readonly HostPattern[];

type Buckets = Readonly<Record<Direction, ReadonlyMap<number, TokenBucket>>>;

export class CompiledConnectionPolicy {
  readonly generation: number;
  private readonly outbound: OutboundPolicy | undefined;
  readonly buckets: Buckets;

  constructor(generation: number, outbound: OutboundPolicy | undefined, buckets: Buckets) {
    this.generation = generation;
    this.outbound = outbound;
    this.buckets = buckets;
  }

  /** At accept, from the original destination. */
  admit(direction: Direction, address: string, port: number): Admission {
    if (direction === 'outbound' && this.outbound !== undefined) {
      const decision = this.outbound.decide(address, port);
      if (decision === BLOCK) return POLICY_BLOCKED;
      if (decision !== ALLOW) return decision;
    }
    return this.takeToken(direction, port);
  }

  /** After the first bytes named `host` (undefined: they named none). */
  admitHost(
    direction: Direction,
    port: number,
    patterns: readonly HostPattern[],
    host: string | undefined,
  ): typeof ADMIT | Refused {
    if (host === undefined || !hostAllowed(patterns, host)) return POLICY_BLOCKED;
    return this.takeToken(direction, port);
  }

  private takeToken(direction: Direction, port: number): typeof ADMIT | typeof RATE_LIMITED {
    const bucket = this.buckets[direction].get(port);
    return bucket === undefined || bucket.take() ? ADMIT : RATE_LIMITED;
  }
}

export class ConnectionPolicy {
  /** Undefined while nothing is blocked or limited. */
  current: CompiledConnectionPolicy | undefined;
  private readonly clock: Clock;
  private buckets: Buckets = { inbound: new Map(), outbound: new Map() };

  constructor(state: PolicyState, clock: Clock = monotonicClock) {
    this.clock = clock;
    this.current = this.compile(state.current, state.generation);
    state.onChange((policy, generation) => {
      this.current = this.compile(policy, generation);
    });
  }

  private compile(policy: Policy, generation: number): CompiledConnectionPolicy | undefined {
    const previous = this.buckets;
    const buckets = {
      inbound: new Map<number, TokenBucket>(),
      outbound: new Map<number, TokenBucket>(),
    };
    for (const listener of policy.listeners) {
      const spec = listener.connectionRateLimit;
      if (spec === undefined) continue;
      const kept = previous[listener.direction].get(listener.port);
      buckets[listener.direction].set(
        listener.port,
        kept?.sameSpec(spec) ? kept : new TokenBucket(spec, this.clock),
      );
    }
    this.buckets = buckets;
    const outbound = OutboundPolicy.compile(policy.outbound);
    if (outbound === undefined && buckets.inbound.size === 0 && buckets.outbound.size === 0) {
      return undefined;
    }
    return new CompiledConnectionPolicy(generation, outbound, buckets);
  }
}
