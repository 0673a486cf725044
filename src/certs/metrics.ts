// What the certificate manager tells Prometheus: when the CA expires, how often
// each rotation step happened, and how often the API work failed. The served leaf's
// expiry is the webhook's own gauge (outrigger_serving_certificate_expiry_timestamp_seconds,
// src/webhook/metrics.ts), set on every swap in every mode, so it is not counted twice here.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RotationStep } from './state.ts';

export interface CertificateMetrics {
  caExpiry(notAfter: Date): void;
  rotation(step: RotationStep | 'ca-bundle-patched'): void;
  failure(operation: 'reconcile'): void;
}

export function certificateMetrics(registry: Registry): CertificateMetrics {
  const expiry = new Gauge({
    name: 'outrigger_webhook_certificate_expiry_timestamp_seconds',
    help: 'Unix time at which the CA that signs the served webhook certificate expires (kind=ca; the leaf is outrigger_serving_certificate_expiry_timestamp_seconds).',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const rotations = new Counter({
    name: 'outrigger_webhook_certificate_rotations_total',
    help: 'Certificate lifecycle steps this replica performed (created, leaf-renewed, ca-staged, ca-promoted, ...).',
    labelNames: ['step'] as const,
    registers: [registry],
  });
  const failures = new Counter({
    name: 'outrigger_webhook_certificate_failures_total',
    help: 'Certificate re-checks that failed (API errors); the next re-check retries.',
    labelNames: ['operation'] as const,
    registers: [registry],
  });
  return {
    caExpiry: (notAfter) => expiry.set({ kind: 'ca' }, Math.floor(notAfter.getTime() / 1000)),
    rotation: (step) => rotations.inc({ step }),
    failure: (operation) => failures.inc({ operation }),
  };
}
