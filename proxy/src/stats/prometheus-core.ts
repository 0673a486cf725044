// prom-client's registry, loaded without the package index. The index also
// loads the Pushgateway (node:https, TLS) and OpenTelemetry for exemplars,
// about 16 MiB of resident memory a sidecar never uses. The proxy's metrics
// are hot-path counters (hot-metrics.ts) that this registry renders, plus
// prom-client's default runtime collectors (process_*, nodejs_*), also loaded
// on their own.
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

const require = createRequire(import.meta.url);

export const Registry = require('prom-client/lib/registry') as typeof PromClient.Registry;
export type Registry = PromClient.Registry;

/** prom-client's collectDefaultMetrics: resident memory, CPU, heap spaces, event-loop lag, GC. */
export const collectDefaultMetrics = require('prom-client/lib/defaultMetrics') as (config: {
  register: Registry;
}) => void;
