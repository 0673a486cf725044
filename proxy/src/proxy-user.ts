// The proxy's own uid against the one the capture rules exempt. Under any
// other uid every upstream connection is captured again; the loop guard
// (listeners/own-upstreams.ts) keeps that to one extra connect per request,
// but nothing would work, so a known mismatch stops the start instead.

import { PROXY_ENV } from '../../src/shared/contract.ts';
import { errors } from './errors.ts';

/** Throws OUTRIGGER_PROXY_UID_NOT_EXEMPTED when `exempted` is set and differs from `actual`. */
export function assertExemptedUid(exempted: number | undefined, actual: number | undefined): void {
  if (exempted === undefined || actual === undefined || actual === exempted) return;
  throw errors.PROXY_UID_NOT_EXEMPTED(actual, exempted, `${PROXY_ENV.proxyUid} / --proxy-uid`);
}
