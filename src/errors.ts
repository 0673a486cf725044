// Every error Outrigger raises on purpose is created here, with a stable code.
// Callers and tests match on `code`, never on message text. A value that came
// from outside is echoed through echo.ts, so its size is bounded here.
import { echoText, quoteValue } from './echo.ts';

export class OutriggerError extends Error {
  readonly code: string;
  /** HTTP status the webhook answers with when this error ends a request. */
  readonly statusCode: number;

  constructor(code: string, message: string, statusCode: number) {
    super(message);
    this.name = 'OutriggerError';
    this.code = code;
    this.statusCode = statusCode;
  }
}

type Factory<A extends unknown[]> = ((...args: A) => OutriggerError) & { readonly code: string };

function define<A extends unknown[]>(
  code: string,
  statusCode: number,
  message: (...args: A) => string,
): Factory<A> {
  const make = (...args: A) => new OutriggerError(code, message(...args), statusCode);
  return Object.assign(make, { code });
}

export function isOutriggerError(err: unknown, factory?: { code: string }): err is OutriggerError {
  return err instanceof OutriggerError && (factory === undefined || err.code === factory.code);
}

// ── Admission review (webhook input) ──────────────────────────────────────────
export const errors = {
  NOT_ADMISSION_REVIEW: define(
    'OUTRIGGER_NOT_ADMISSION_REVIEW',
    400,
    (detail: string) => `request body is not an admission.k8s.io/v1 AdmissionReview: ${detail}`,
  ),
  NOT_A_POD: define(
    'OUTRIGGER_NOT_A_POD',
    400,
    (what: string) => `AdmissionReview carries no Pod to inject: ${what}`,
  ),

  // ── Pod override annotations ────────────────────────────────────────────────
  INVALID_ANNOTATION: define(
    'OUTRIGGER_INVALID_ANNOTATION',
    400,
    (key: string, value: string, expected: string) =>
      `annotation ${echoText(key)}: invalid value ${quoteValue(value)}: ${expected}`,
  ),

  INVALID_LABEL: define(
    'OUTRIGGER_INVALID_LABEL',
    400,
    (key: string, value: string, expected: string) =>
      `label ${echoText(key)}: invalid value ${quoteValue(value)}: ${expected}`,
  ),

  NAME_CONFLICT: define(
    'OUTRIGGER_NAME_CONFLICT',
    400,
    (what: string, name: string) =>
      `the pod already has a ${what} named ${name}, which Outrigger needs for its own; rename it or opt the pod out`,
  ),

  PROXY_PORT_CONFLICT: define(
    'OUTRIGGER_PROXY_PORT_CONFLICT',
    400,
    (container: string, port: number, use: string) =>
      `container ${container} declares port ${port}, which the proxy uses (${use}); move the app to another port, or exclude it with traffic.sidecar.outrigger.dev/excludeInboundPorts if you know what you are doing`,
  ),

  // ── Configuration ───────────────────────────────────────────────────────────
  INVALID_CONFIG: define(
    'OUTRIGGER_INVALID_CONFIG',
    500,
    (source: string, detail: string) => `invalid configuration in ${source}: ${detail}`,
  ),

  // ── CLI input ───────────────────────────────────────────────────────────────
  INVALID_MANIFEST: define(
    'OUTRIGGER_INVALID_MANIFEST',
    400,
    (source: string, detail: string) => `cannot read manifest ${source}: ${detail}`,
  ),
  MISSING_FLAG: define(
    'OUTRIGGER_MISSING_FLAG',
    400,
    (flag: string, needed: string) => `${needed} needs ${flag}`,
  ),
  INVALID_FLAG: define(
    'OUTRIGGER_INVALID_FLAG',
    400,
    (flag: string, value: string, expected: string) =>
      `flag ${flag}: invalid value ${quoteValue(value)}: ${expected}`,
  ),

  CLUSTER_REQUEST_FAILED: define(
    'OUTRIGGER_CLUSTER_REQUEST_FAILED',
    500,
    (what: string, detail: string) => `cannot ${what}: ${detail}`,
  ),

  // ── `outrigger selftest` (what `helm test` runs) ────────────────────────────
  SELFTEST_FAILED: define(
    'OUTRIGGER_SELFTEST_FAILED',
    500,
    (detail: string) => `selftest failed: ${detail}`,
  ),

  // ── Proxy (outrigger-proxy) ────────────────────────────────────────────────
  INVALID_PROXY_SETTING: define(
    'OUTRIGGER_INVALID_PROXY_SETTING',
    400,
    (source: string, value: string, expected: string) =>
      `${source}: invalid value ${quoteValue(value)}: ${expected}`,
  ),
  PROXY_UID_NOT_EXEMPTED: define(
    'OUTRIGGER_PROXY_UID_NOT_EXEMPTED',
    500,
    (actual: number, exempted: number, source: string) =>
      `outrigger-proxy runs as uid ${actual}, but the capture rules exempt uid ${exempted} (${source}): ` +
      `its own upstream connections would be captured again and loop; run it as uid ${exempted} ` +
      `(securityContext.runAsUser) or make the two agree`,
  ),
  INVALID_POLICY: define(
    'OUTRIGGER_INVALID_POLICY',
    500,
    (file: string, problems: readonly string[]) =>
      `traffic policy ${echoText(file)} is invalid, so the proxy does not start without the policy it was given: ` +
      problems
        .slice(0, 50)
        .map((p) => echoText(p))
        .join('; ') +
      (problems.length > 50 ? `; and ${problems.length - 50} more` : ''),
  ),
  POLICY_UNREADABLE: define(
    'OUTRIGGER_POLICY_UNREADABLE',
    500,
    (file: string, detail: string) =>
      `cannot read traffic policy ${echoText(file)}, so the proxy does not start without the policy it was given: ${echoText(detail)}`,
  ),
  ORIGINAL_DESTINATION_UNAVAILABLE: define(
    'OUTRIGGER_ORIGINAL_DESTINATION_UNAVAILABLE',
    500,
    (detail: string) => `cannot recover the original destination: ${detail}`,
  ),

  // ── Certificates ────────────────────────────────────────────────────────────
  TLS_MATERIAL: define(
    'OUTRIGGER_TLS_MATERIAL',
    500,
    (source: string, detail: string) => `cannot load TLS material from ${source}: ${detail}`,
  ),

  UNSAFE_CERTS_DIR: define(
    'OUTRIGGER_UNSAFE_CERTS_DIR',
    500,
    (dir: string, why: string) =>
      `refusing to write the generated certificates into ${dir}: ${why}; remove it, or pass --certs-dir with a directory of your own`,
  ),

  // ── Traffic capture (outrigger-iptables) ────────────────────────────────────
  IPTABLES_UNAVAILABLE: define(
    'OUTRIGGER_IPTABLES_UNAVAILABLE',
    500,
    (detail: string) => `no working iptables back end in this network namespace: ${detail}`,
  ),
  IPTABLES_COMMAND_FAILED: define(
    'OUTRIGGER_IPTABLES_COMMAND_FAILED',
    500,
    (command: string, detail: string) => `${command} failed: ${detail}`,
  ),
  IPTABLES_ROLLED_BACK: define(
    'OUTRIGGER_IPTABLES_ROLLED_BACK',
    500,
    (failure: string, families: string) =>
      `${failure}\nthe ${families} rules committed before it were rolled back: the network namespace is as it was, and nothing is captured`,
  ),
  IPTABLES_HALF_APPLIED: define(
    'OUTRIGGER_IPTABLES_HALF_APPLIED',
    500,
    (failure: string, families: string, detail: string) =>
      `${failure}\nrolling back the ${families} rules committed before it failed too (${detail}): the network namespace is half-programmed; run outrigger-iptables --cleanup`,
  ),
} as const;
