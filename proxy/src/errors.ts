// The proxy's error table: everything outrigger-proxy refuses on purpose, each
// with a stable code and a reason (src/shared/errors.ts). None has an HTTP
// status: they stop the proxy at start, before anything is served.
import { quoteValue } from '../../src/shared/echo.ts';
import { defineError } from '../../src/shared/errors.ts';

export { isOutriggerError, OutriggerError } from '../../src/shared/errors.ts';

export const errors = {
  INVALID_PROXY_SETTING: defineError(
    { code: 'OUTRIGGER_INVALID_PROXY_SETTING', reason: 'invalid_proxy_setting' },
    (source: string, value: string, expected: string) =>
      `${source}: invalid value ${quoteValue(value)}: ${expected}`,
  ),
  PROXY_UID_NOT_EXEMPTED: defineError(
    { code: 'OUTRIGGER_PROXY_UID_NOT_EXEMPTED', reason: 'proxy_uid_not_exempted' },
    (actual: number, exempted: number, source: string) =>
      `outrigger-proxy runs as uid ${actual}, but the capture rules exempt uid ${exempted} (${source}): ` +
      `its own upstream connections would be captured again and loop; run it as uid ${exempted} ` +
      `(securityContext.runAsUser) or make the two agree`,
  ),
  ORIGINAL_DESTINATION_UNAVAILABLE: defineError(
    {
      code: 'OUTRIGGER_ORIGINAL_DESTINATION_UNAVAILABLE',
      reason: 'original_destination_unavailable',
    },
    (detail: string) => `cannot recover the original destination: ${detail}`,
  ),
} as const;
