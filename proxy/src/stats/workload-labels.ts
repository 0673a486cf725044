// The label values of Istio's standard metrics, resolved once per process
// (the pod's own workload) or once per distinct authority (the destination
// service), so that recording a request never builds a label string.
import type { Direction } from '../connection-vocabulary.ts';

/** The pod's identity, from its labels (the injector passes them in OUTRIGGER_* variables). */
export interface WorkloadIdentity {
  workload: string;
  namespace: string;
  app: string;
  version: string;
}

/** What Istio reports for a peer it cannot identify. */
export const UNKNOWN = 'unknown';
/** The destination_service of every authority past the limit. */
export const OTHER_SERVICES = 'other';
/** Distinct destination_service values a proxy reports before folding the rest into "other". */
export const DEFAULT_MAX_SERVICES = 100;

export const WORKLOAD_LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_app',
  'source_version',
  'destination_workload',
  'destination_workload_namespace',
  'destination_app',
  'destination_version',
] as const;

/**
 * The workload label values for one direction. Outbound, the pod is the source
 * and reports as `source`; inbound it is the destination. The peer is unknown:
 * without a handshake between proxies (Istio's peer metadata exchange) the
 * proxy cannot tell who is on the other side, so it says so, as Istio does.
 */
export function workloadLabelValues(direction: Direction, self: WorkloadIdentity): string[] {
  const own = [
    self.workload || UNKNOWN,
    self.namespace || UNKNOWN,
    self.app || UNKNOWN,
    self.version || UNKNOWN,
  ];
  const peer = [UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN];
  return direction === 'outbound' ? ['source', ...own, ...peer] : ['destination', ...peer, ...own];
}

// A DNS name or an IPv4 address (letters, digits, '-', '.'), or a bracketed
// IPv6 address. Linear on purpose: clients choose the input.
const HOST_NAME = /^(?:[a-z0-9][a-z0-9.-]*|\[[0-9a-f:.]+\])$/;

/**
 * Turns Host header values into destination_service values with a fixed
 * bound: the host without port or trailing dot, lower-cased; "unknown" when
 * absent or not a host name; the first `limit` distinct ones kept, every later
 * one reported as "other". Cardinality is at most limit + 2 whatever the
 * clients send. Paths never reach a label.
 */
export class ServiceLabels {
  private readonly limit: number;
  private readonly seen = new Set<string>();
  /** Raw authority → label, for authorities seen before (bounded like the labels). */
  private readonly byAuthority = new Map<string, string>();

  constructor(limit = DEFAULT_MAX_SERVICES) {
    this.limit = limit;
  }

  labelFor(authority: string): string {
    const cached = this.byAuthority.get(authority);
    if (cached !== undefined) return cached;
    let label = hostOf(authority);
    if (label !== UNKNOWN && !this.seen.has(label)) {
      if (this.seen.size < this.limit) this.seen.add(label);
      else label = OTHER_SERVICES;
    }
    if (this.byAuthority.size < this.limit * 4) this.byAuthority.set(authority, label);
    return label;
  }
}

function hostOf(authority: string): string {
  if (authority === '' || authority.length > 261) return UNKNOWN;
  let host = authority.toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    host = end < 0 ? host : host.slice(0, end + 1);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) host = host.slice(0, colon);
    if (host.endsWith('.')) host = host.slice(0, -1);
  }
  return host.length > 0 && host.length <= 253 && HOST_NAME.test(host) ? host : UNKNOWN;
}
