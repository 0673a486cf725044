// The prometheus.io/* scrape annotations injection writes, and the metrics
// merge: when the app already asks to be scraped, Prometheus is pointed at the
// proxy instead, and the proxy serves the app's metrics together with its own
// (as Istio's injector does with ISTIO_PROMETHEUS_ANNOTATIONS). Pure: no I/O.
import type { InjectionConfig } from '../config/schema.ts';
import { type AppMetrics, PORTS, PROMETHEUS_PATH } from '../shared/contract.ts';
import { parsePort } from '../shared/grammar/index.ts';
import type { Overrides } from './overrides.ts';
import { proxyPorts } from './port-collisions.ts';

export const SCRAPE_ANNOTATION = 'prometheus.io/scrape';
export const PORT_ANNOTATION = 'prometheus.io/port';
export const PATH_ANNOTATION = 'prometheus.io/path';
export const SCHEME_ANNOTATION = 'prometheus.io/scheme';

/** What Prometheus' kubernetes-pods convention scrapes when prometheus.io/path is absent. */
export const DEFAULT_APP_METRICS_PATH = '/metrics';

export interface ScrapeAnnotations {
  /** Annotations to set on the pod: added, or (keys in `replaced`) replacing the user's. */
  set: Record<string, string>;
  /** The user's own values of the keys `set` replaces, as they were. */
  replaced: Record<string, string>;
  /** Where the proxy fetches the app's metrics; undefined when nothing is merged. */
  appMetrics?: AppMetrics;
  /** Why an app that asks to be scraped is not merged, for an admission warning. */
  warning?: string;
}

/**
 * The first row that matches decides.
 *
 * | # | condition                                                        | result                                   |
 * |---|------------------------------------------------------------------|------------------------------------------|
 * | 1 | `prometheusScrape: false`                                        | nothing                                  |
 * | 2 | the pod has no `prometheus.io/scrape`                            | scrape, port, path → the proxy           |
 * | 3 | `prometheus.io/scrape` is not `"true"`                           | nothing: the pod said how to scrape it   |
 * | 4 | mergeMetrics off (annotation `sidecar.outrigger.dev/mergeMetrics`, else the configuration) | nothing |
 * | 5 | no usable port, a proxy port, or a scheme other than `http`      | nothing, and a warning                   |
 * | 6 | otherwise                                                        | port, path → the proxy; the app's port and path → OUTRIGGER_APP_METRICS |
 */
export function scrapeAnnotations(
  existing: Readonly<Record<string, string>>,
  config: InjectionConfig,
  overrides: Overrides,
): ScrapeAnnotations {
  const toProxy = {
    [SCRAPE_ANNOTATION]: 'true',
    [PORT_ANNOTATION]: String(PORTS.prometheus),
    [PATH_ANNOTATION]: PROMETHEUS_PATH,
  };
  if (!config.prometheusScrape) return { set: {}, replaced: {} };
  const scrape = existing[SCRAPE_ANNOTATION];
  // A port or path without scrape is rare, but it is the user's: kept to give back.
  if (scrape === undefined) return { set: toProxy, replaced: userValues(existing, toProxy) };
  if (scrape !== 'true' || !(overrides.mergeMetrics ?? config.mergeMetrics)) {
    return { set: {}, replaced: {} };
  }
  const unmerged = (why: string): ScrapeAnnotations => ({
    set: {},
    replaced: {},
    warning: `the app's metrics are not merged into the proxy's, and the proxy's are not scraped: ${why}`,
  });
  const portText = existing[PORT_ANNOTATION];
  if (portText === undefined) return unmerged(`${PORT_ANNOTATION} is not set`);
  const port = parsePort(portText);
  if (!port.ok) return unmerged(`${PORT_ANNOTATION} "${portText}" is not a port number`);
  if (proxyPorts(config).has(port.value))
    return unmerged(`${PORT_ANNOTATION} ${port.value} is one of the proxy's ports`);
  const scheme = existing[SCHEME_ANNOTATION];
  if (scheme !== undefined && scheme !== 'http')
    return unmerged(`the proxy reads the app's metrics over plain HTTP only, not ${scheme}`);
  const path = existing[PATH_ANNOTATION] ?? DEFAULT_APP_METRICS_PATH;
  if (!/^\/[\x21-\x7e]{0,1023}$/.test(path))
    return unmerged(`${PATH_ANNOTATION} "${path}" is not an absolute path without spaces`);

  const set: Record<string, string> = {
    [PORT_ANNOTATION]: toProxy[PORT_ANNOTATION],
    [PATH_ANNOTATION]: toProxy[PATH_ANNOTATION],
  };
  return { set, replaced: userValues(existing, set), appMetrics: { port: port.value, path } };
}

/** The user's values of the keys about to be set. */
function userValues(
  existing: Readonly<Record<string, string>>,
  set: Readonly<Record<string, string>>,
): Record<string, string> {
  const replaced: Record<string, string> = {};
  for (const key of Object.keys(set)) {
    const value = existing[key];
    if (value !== undefined) replaced[key] = value;
  }
  return replaced;
}
