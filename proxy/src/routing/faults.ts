// A route's fault injection, as Istio's HTTPFaultInjection: a delay and an
// abort, each applied to its percentage of requests, chosen at random per
// request (as Envoy's fault filter does), the delay first. Flags: `DI` for a
// delayed request and `FI` for an aborted one (Envoy's names).

import { durationMs } from '../../../src/shared/policy/grammar.ts';
import type { PolicyRoute } from '../../../src/shared/policy/schema.ts';

export interface CompiledFault {
  delayMs: number;
  /** 0-100; 0 when the route has no delay. */
  delayPercent: number;
  abortStatus: number;
  abortPercent: number;
}

export function compileFault(fault: PolicyRoute['fault']): CompiledFault | undefined {
  if (fault === undefined) return undefined;
  return {
    delayMs: fault.delay ? durationMs(fault.delay.fixedDelay) : 0,
    delayPercent: fault.delay?.percentage ?? 0,
    abortStatus: fault.abort?.httpStatus ?? 0,
    abortPercent: fault.abort?.percentage ?? 0,
  };
}

/** Decided for one request. */
export interface FaultDecision {
  /** Milliseconds to wait before going on; 0 for none. */
  delayMs: number;
  /** The status to answer with instead of forwarding; 0 for none. */
  abortStatus: number;
}

const NONE: FaultDecision = Object.freeze({ delayMs: 0, abortStatus: 0 });

export function decideFault(
  fault: CompiledFault,
  random: () => number = Math.random,
): FaultDecision {
  const delayMs = fault.delayPercent > 0 && random() * 100 < fault.delayPercent ? fault.delayMs : 0;
  const abortStatus =
    fault.abortPercent > 0 && random() * 100 < fault.abortPercent ? fault.abortStatus : 0;
  return delayMs === 0 && abortStatus === 0 ? NONE : { delayMs, abortStatus };
}
