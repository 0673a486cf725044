// outrigger-iptables' error table: a bad flag, and the ways programming the
// pod's network namespace can fail, each with a stable code and a reason
// (src/shared/errors.ts). None has an HTTP status: the init container reports
// them on stderr and through its exit code.
import { quoteValue } from '../shared/echo.ts';
import { defineError } from '../shared/errors.ts';

export { isOutriggerError, OutriggerError } from '../shared/errors.ts';

export const errors = {
  INVALID_FLAG: defineError(
    { code: 'OUTRIGGER_INVALID_FLAG', reason: 'invalid_flag' },
    (flag: string, value: string, expected: string) =>
      `flag ${flag}: invalid value ${quoteValue(value)}: ${expected}`,
  ),
  IPTABLES_UNAVAILABLE: defineError(
    { code: 'OUTRIGGER_IPTABLES_UNAVAILABLE', reason: 'iptables_unavailable' },
    (detail: string) => `no working iptables back end in this network namespace: ${detail}`,
  ),
  IPTABLES_COMMAND_FAILED: defineError(
    { code: 'OUTRIGGER_IPTABLES_COMMAND_FAILED', reason: 'iptables_command_failed' },
    (command: string, detail: string) => `${command} failed: ${detail}`,
  ),
  IPTABLES_ROLLED_BACK: defineError(
    { code: 'OUTRIGGER_IPTABLES_ROLLED_BACK', reason: 'iptables_rolled_back' },
    (failure: string, families: string) =>
      `${failure}\nthe ${families} rules committed before it were rolled back: the network namespace is as it was, and nothing is captured`,
  ),
  IPTABLES_HALF_APPLIED: defineError(
    { code: 'OUTRIGGER_IPTABLES_HALF_APPLIED', reason: 'iptables_half_applied' },
    (failure: string, families: string, detail: string) =>
      `${failure}\nrolling back the ${families} rules committed before it failed too (${detail}): the network namespace is half-programmed; run outrigger-iptables --cleanup`,
  ),
} as const;
