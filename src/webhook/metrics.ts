// The injector's Prometheus metrics, on one prom-client registry that the
// certificate manager registers into as well.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface WebhookMetrics {
  registry: Registry;
  requests: Counter<'route' | 'status_code'>;
  admissions: Counter<'decision' | 'reason'>;
  injectionDuration: Histogram<'decision'>;
  configReloads: Counter<'result'>;
  configLastReloadSuccess: Gauge;
  tlsReloads: Counter<'result'>;
  servingCertificateExpiry: Gauge;
  connectionsDropped: Counter;
}

export function createWebhookMetrics(): WebhookMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'outrigger_webhook_requests_total',
      help: 'HTTP requests served by the webhook, by route and status code.',
      labelNames: ['route', 'status_code'],
      registers: [registry],
    }),
    admissions: new Counter({
      name: 'outrigger_admissions_total',
      help: 'Admission reviews answered, by decision (injected, skipped, denied) and reason code.',
      labelNames: ['decision', 'reason'],
      registers: [registry],
    }),
    injectionDuration: new Histogram({
      name: 'outrigger_injection_duration_seconds',
      help: 'Time to decide, render and patch one admission review, excluding HTTP and JSON parsing.',
      labelNames: ['decision'],
      buckets: [
        0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05,
      ],
      registers: [registry],
    }),
    configReloads: new Counter({
      name: 'outrigger_config_reloads_total',
      help: 'Configuration file reloads, by result (success, failure).',
      labelNames: ['result'],
      registers: [registry],
    }),
    configLastReloadSuccess: new Gauge({
      name: 'outrigger_config_last_reload_successful',
      help: '1 when the last configuration load succeeded, 0 when the injector kept an older configuration.',
      registers: [registry],
    }),
    tlsReloads: new Counter({
      name: 'outrigger_tls_reloads_total',
      help: 'Serving certificate swaps, by result (success, failure).',
      labelNames: ['result'],
      registers: [registry],
    }),
    servingCertificateExpiry: new Gauge({
      name: 'outrigger_serving_certificate_expiry_timestamp_seconds',
      help: 'When the certificate the webhook serves expires, as a Unix timestamp.',
      registers: [registry],
    }),
    connectionsDropped: new Counter({
      name: 'outrigger_webhook_connections_dropped_total',
      help: 'TCP connections closed at once because the webhook already had --max-connections open.',
      registers: [registry],
    }),
  };
}
