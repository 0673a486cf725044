// The injector's error table (the webhook, injection, the configuration, the
// certificates and the `outrigger` CLI): every error it raises on purpose is
// created here, with a stable code and a reason (src/shared/errors.ts). Only
// the errors that end an HTTP exchange carry a status: a review that is not
// one (the server's 400) and the refusals answered as `allowed: false` inside
// an AdmissionReview, whose `status.code` it is. A value that came from outside
// is echoed through shared/echo.ts, so its size is bounded here.

import { echoText, quoteValue } from './shared/echo.ts';
import { defineError } from './shared/errors.ts';

export { isOutriggerError, OutriggerError } from './shared/errors.ts';

export const errors = {
  // ── Admission review (webhook input) ──────────────────────────────────────
  NOT_ADMISSION_REVIEW: defineError(
    { code: 'OUTRIGGER_NOT_ADMISSION_REVIEW', reason: 'not_admission_review', httpStatus: 400 },
    (detail: string) => `request body is not an admission.k8s.io/v1 AdmissionReview: ${detail}`,
  ),
  NOT_A_POD: defineError(
    { code: 'OUTRIGGER_NOT_A_POD', reason: 'not_a_pod', httpStatus: 400 },
    (what: string) => `AdmissionReview carries no Pod to inject: ${what}`,
  ),

  // ── Pod override annotations ────────────────────────────────────────────────
  INVALID_ANNOTATION: defineError(
    { code: 'OUTRIGGER_INVALID_ANNOTATION', reason: 'invalid_annotation', httpStatus: 400 },
    (key: string, value: string, expected: string) =>
      `annotation ${echoText(key)}: invalid value ${quoteValue(value)}: ${expected}`,
  ),

  INVALID_LABEL: defineError(
    { code: 'OUTRIGGER_INVALID_LABEL', reason: 'invalid_label', httpStatus: 400 },
    (key: string, value: string, expected: string) =>
      `label ${echoText(key)}: invalid value ${quoteValue(value)}: ${expected}`,
  ),

  NAME_CONFLICT: defineError(
    { code: 'OUTRIGGER_NAME_CONFLICT', reason: 'name_conflict', httpStatus: 400 },
    (what: string, name: string) =>
      `the pod already has a ${what} named ${name}, which Outrigger needs for its own; rename it or opt the pod out`,
  ),

  PROXY_PORT_CONFLICT: defineError(
    { code: 'OUTRIGGER_PROXY_PORT_CONFLICT', reason: 'proxy_port_conflict', httpStatus: 400 },
    (container: string, port: number, use: string) =>
      `container ${container} declares port ${port}, which the proxy uses (${use}); move the app to another port, or exclude it with traffic.sidecar.outrigger.dev/excludeInboundPorts if you know what you are doing`,
  ),

  // ── Configuration ───────────────────────────────────────────────────────────
  INVALID_CONFIG: defineError(
    { code: 'OUTRIGGER_INVALID_CONFIG', reason: 'invalid_config' },
    (source: string, detail: string) => `invalid configuration in ${source}: ${detail}`,
  ),

  // ── CLI input ───────────────────────────────────────────────────────────────
  INVALID_MANIFEST: defineError(
    { code: 'OUTRIGGER_INVALID_MANIFEST', reason: 'invalid_manifest' },
    (source: string, detail: string) => `cannot read manifest ${source}: ${detail}`,
  ),
  MISSING_FLAG: defineError(
    { code: 'OUTRIGGER_MISSING_FLAG', reason: 'missing_flag' },
    (flag: string, needed: string) => `${needed} needs ${flag}`,
  ),
  INVALID_FLAG: defineError(
    { code: 'OUTRIGGER_INVALID_FLAG', reason: 'invalid_flag' },
    (flag: string, value: string, expected: string) =>
      `flag ${flag}: invalid value ${quoteValue(value)}: ${expected}`,
  ),

  CLUSTER_REQUEST_FAILED: defineError(
    { code: 'OUTRIGGER_CLUSTER_REQUEST_FAILED', reason: 'cluster_request_failed' },
    (what: string, detail: string) => `cannot ${what}: ${detail}`,
  ),

  // ── `outrigger selftest` (what `helm test` runs) ────────────────────────────
  SELFTEST_FAILED: defineError(
    { code: 'OUTRIGGER_SELFTEST_FAILED', reason: 'selftest_failed' },
    (detail: string) => `selftest failed: ${detail}`,
  ),

  // ── Certificates ────────────────────────────────────────────────────────────
  TLS_MATERIAL: defineError(
    { code: 'OUTRIGGER_TLS_MATERIAL', reason: 'tls_material' },
    (source: string, detail: string) => `cannot load TLS material from ${source}: ${detail}`,
  ),

  UNSAFE_CERTS_DIR: defineError(
    { code: 'OUTRIGGER_UNSAFE_CERTS_DIR', reason: 'unsafe_certs_dir' },
    (dir: string, why: string) =>
      `refusing to write the generated certificates into ${dir}: ${why}; remove it, or pass --certs-dir with a directory of your own`,
  ),

  CERTIFICATE_SETTINGS: defineError(
    { code: 'OUTRIGGER_CERTIFICATE_SETTINGS', reason: 'certificate_settings' },
    (detail: string) => `cannot manage certificates: ${detail}`,
  ),
  CERTIFICATE_SECRET_CONFLICT: defineError(
    { code: 'OUTRIGGER_CERTIFICATE_SECRET_CONFLICT', reason: 'certificate_secret_conflict' },
    (secret: string) => `could not settle Secret ${secret}: too many write conflicts`,
  ),
  CERTIFICATE_SECRET_INCOMPLETE: defineError(
    { code: 'OUTRIGGER_CERTIFICATE_SECRET_INCOMPLETE', reason: 'certificate_secret_incomplete' },
    (secret: string) => `Secret ${secret} has no tls.crt and tls.key yet`,
  ),
  NO_SERVING_MATERIAL: defineError(
    { code: 'OUTRIGGER_NO_SERVING_MATERIAL', reason: 'no_serving_material' },
    (detail: string) => `no serving certificate yet: ${detail}`,
  ),
} as const;
