// Every statistic the proxy keeps: Prometheus metrics in the shape of Istio's
// standard metrics, plain totals and bounded rings of recent records for the
// admin /stats endpoint, and the optional access log. Label children are cached
// so that recording a request is one map lookup and a few additions.

import type { CloseReason, ConnectionRecord } from './connection-record.ts';
import { type CounterChild, type HistogramChild, HotCounter, HotHistogram } from './hot-metrics.ts';
import { Registry } from './prometheus-core.ts';
import type { Direction, RequestRecord } from './request-record.ts';
import { Ring } from './ring.ts';

const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);
const DURATION_BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
];
const SIZE_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];
export const RECENT_CAPACITY = 100;

interface RequestChildren {
  total: CounterChild;
  duration: HistogramChild;
  requestBytes: HistogramChild;
  responseBytes: HistogramChild;
}

export interface Totals {
  requests: number;
  connectionsOpened: number;
  connectionsClosed: number;
  activeConnections: number;
  opaqueConnections: number;
  parseErrors: number;
  upstreamConnectFailures: number;
  loopsRefused: number;
  /** Connections reset because the connection limit was reached. */
  limitRefusals: number;
  /** Errors the capture listeners reported while accepting (EMFILE, ENFILE…). */
  acceptErrors: number;
  bytesFromClients: number;
  bytesToClients: number;
  /** Upstream reads paused because the client had not yet taken the previous read. */
  upstreamReadPauses: number;
  /** Those pauses ended by the client taking it; the difference is paused now (or cut). */
  upstreamReadResumes: number;
}

export class ProxyStats {
  readonly registry = new Registry();
  readonly recentRequests = new Ring<RequestRecord>(RECENT_CAPACITY);
  readonly recentConnections = new Ring<ConnectionRecord>(RECENT_CAPACITY);
  readonly totals: Totals = {
    requests: 0,
    connectionsOpened: 0,
    connectionsClosed: 0,
    activeConnections: 0,
    opaqueConnections: 0,
    parseErrors: 0,
    upstreamConnectFailures: 0,
    loopsRefused: 0,
    limitRefusals: 0,
    acceptErrors: 0,
    bytesFromClients: 0,
    bytesToClients: 0,
    upstreamReadPauses: 0,
    upstreamReadResumes: 0,
  };

  private readonly accessLog: ((line: string) => void) | undefined;
  private readonly requestChildren = new Map<string, RequestChildren>();
  private lastChildren:
    | { direction: Direction; method: string; status: number; children: RequestChildren }
    | undefined;

  private readonly requests = new HotCounter(
    'outrigger_requests_total',
    'HTTP requests seen by the proxy',
    ['direction', 'method', 'response_code', 'response_code_class'],
  );
  private readonly duration = new HotHistogram(
    'outrigger_request_duration_milliseconds',
    'From the first request byte to the last response byte',
    ['direction', 'response_code_class'],
    DURATION_BUCKETS,
  );
  private readonly requestBytes = new HotHistogram(
    'outrigger_request_bytes',
    'HTTP request size on the wire (head and body)',
    ['direction'],
    SIZE_BUCKETS,
  );
  private readonly responseBytes = new HotHistogram(
    'outrigger_response_bytes',
    'HTTP response size on the wire (head and body)',
    ['direction'],
    SIZE_BUCKETS,
  );
  private readonly opened = new HotCounter(
    'outrigger_tcp_connections_opened_total',
    'TCP connections accepted',
    ['direction'],
  );
  private readonly closedConnections = new HotCounter(
    'outrigger_tcp_connections_closed_total',
    'TCP connections closed, by reason',
    ['direction', 'reason'],
  );
  private readonly active = new HotCounter(
    'outrigger_tcp_connections_active',
    'TCP connections open now',
    ['direction'],
    'gauge',
  );
  private readonly received = new HotCounter(
    'outrigger_tcp_received_bytes_total',
    'Bytes received from downstream clients (counted when a connection closes)',
    ['direction'],
  );
  private readonly sent = new HotCounter(
    'outrigger_tcp_sent_bytes_total',
    'Bytes sent to downstream clients (counted when a connection closes)',
    ['direction'],
  );
  private readonly parseErrors = new HotCounter(
    'outrigger_http_parse_errors_total',
    'Connections whose HTTP stopped parsing and continued as opaque TCP',
    ['direction'],
  );
  private readonly connectFailures = new HotCounter(
    'outrigger_upstream_connect_failures_total',
    'Upstream connections that could not be established',
    ['direction', 'reason'],
  );

  private readonly acceptErrorCounter = new HotCounter(
    'outrigger_accept_errors_total',
    'Errors accepting a captured connection (EMFILE, ENFILE, ENOBUFS…), by errno code',
    ['direction', 'code'],
  );

  constructor(options: { accessLog?: (line: string) => void } = {}) {
    this.accessLog = options.accessLog;
    for (const metric of [
      this.requests,
      this.duration,
      this.requestBytes,
      this.responseBytes,
      this.opened,
      this.closedConnections,
      this.active,
      this.received,
      this.sent,
      this.parseErrors,
      this.connectFailures,
      this.acceptErrorCounter,
    ]) {
      metric.register(this.registry);
    }
  }

  recordRequest(record: RequestRecord): void {
    this.totals.requests++;
    const children = this.childrenFor(record.direction, record.method, record.status);
    children.total.value++;
    this.duration.observe(children.duration, record.durationMs);
    this.requestBytes.observe(children.requestBytes, record.requestBytes);
    this.responseBytes.observe(children.responseBytes, record.responseBytes);
    this.recentRequests.push(record);
    if (this.accessLog !== undefined) this.accessLog(JSON.stringify(record));
  }

  connectionOpened(direction: Direction): void {
    this.totals.connectionsOpened++;
    this.totals.activeConnections++;
    this.opened.child(direction).value++;
    this.active.child(direction).value++;
  }

  connectionClosed(record: ConnectionRecord, opaque: boolean): void {
    this.totals.connectionsClosed++;
    this.totals.activeConnections--;
    if (opaque) this.totals.opaqueConnections++;
    this.totals.bytesFromClients += record.bytesFromClient;
    this.totals.bytesToClients += record.bytesToClient;
    this.closedConnections.child(record.direction, record.closeReason).value++;
    this.active.child(record.direction).value--;
    this.received.child(record.direction).value += record.bytesFromClient;
    this.sent.child(record.direction).value += record.bytesToClient;
    this.recentConnections.push(record);
  }

  parseError(direction: Direction): void {
    this.totals.parseErrors++;
    this.parseErrors.child(direction).value++;
  }

  connectFailure(direction: Direction, reason: CloseReason): void {
    this.totals.upstreamConnectFailures++;
    if (reason === 'loop_refused') this.totals.loopsRefused++;
    else if (reason === 'connection_limit') this.totals.limitRefusals++;
    this.connectFailures.child(direction, reason).value++;
  }

  acceptError(direction: Direction, code: string): void {
    this.totals.acceptErrors++;
    this.acceptErrorCounter.child(direction, code).value++;
  }

  upstreamReadPaused(): void {
    this.totals.upstreamReadPauses++;
  }

  upstreamReadResumed(): void {
    this.totals.upstreamReadResumes++;
  }

  /** The admin /stats document. */
  snapshot(): Record<string, unknown> {
    const memory = process.memoryUsage();
    return {
      totals: { ...this.totals },
      memory: {
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        externalBytes: memory.external,
        arrayBuffersBytes: memory.arrayBuffers,
      },
      recentRequests: this.recentRequests.toArray(),
      recentConnections: this.recentConnections.toArray(),
    };
  }

  reset(): void {
    this.recentRequests.clear();
    this.recentConnections.clear();
  }

  private childrenFor(direction: Direction, method: string, status: number): RequestChildren {
    // Traffic mostly repeats the previous request's labels: skip building the key then.
    const last = this.lastChildren;
    if (
      last !== undefined &&
      last.direction === direction &&
      last.method === method &&
      last.status === status
    ) {
      return last.children;
    }
    const children = this.lookupChildren(direction, method, status);
    this.lastChildren = { direction, method, status, children };
    return children;
  }

  private lookupChildren(direction: Direction, method: string, status: number): RequestChildren {
    const key = `${direction} ${method} ${status}`;
    let children = this.requestChildren.get(key);
    if (children === undefined) {
      const methodLabel = KNOWN_METHODS.has(method) ? method : 'OTHER';
      const code = String(status);
      const codeClass = status === 0 ? '0' : `${Math.floor(status / 100)}xx`;
      children = {
        total: this.requests.child(direction, methodLabel, code, codeClass),
        duration: this.duration.child(direction, codeClass),
        requestBytes: this.requestBytes.child(direction),
        responseBytes: this.responseBytes.child(direction),
      };
      // Unknown methods share one child; bound the cache all the same.
      if (this.requestChildren.size < 10_000) this.requestChildren.set(key, children);
    }
    return children;
  }
}
