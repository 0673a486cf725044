// prom-client's metric classes, loaded without its index. The index also
// loads the Pushgateway (node:https, TLS) and OpenTelemetry for exemplars,
// about 19 MiB of resident memory a sidecar never uses; the classes below
// cost about 3 MiB. Types still come from the package's own declarations.
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

const require = createRequire(import.meta.url);

export const Registry = require('prom-client/lib/registry') as typeof PromClient.Registry;
export const Counter = require('prom-client/lib/counter') as typeof PromClient.Counter;
export const Gauge = require('prom-client/lib/gauge') as typeof PromClient.Gauge;
export const Histogram = require('prom-client/lib/histogram') as typeof PromClient.Histogram;
export type Registry = PromClient.Registry;
export type Counter<T extends string> = PromClient.Counter<T>;
export type Gauge<T extends string> = PromClient.Gauge<T>;
export type Histogram<T extends string> = PromClient.Histogram<T>;
