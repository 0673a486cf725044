// Every statistic the proxy keeps: Prometheus metrics in the shape of Istio's
// standard metrics, plain totals and bounded rings of recent records for the
// admin /stats endpoint, and the optional access log. Label children are cached
// so that recording a request is a few map lookups and additions.

import type { CloseReason, ConnectionRecord } from './connection-record.ts';
import { Counter, Gauge, Histogram, Registry } from './prometheus-core.ts';
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
export const RECENT_CAPACITY = 1000;

type Child<T> =
  T extends Counter<string>
    ? ReturnType<Counter<string>['labels']>
    : T extends Histogram<string>
      ? ReturnType<Histogram<string>['labels']>
      : never;

interface RequestChildren {
  total: Child<Counter<string>>;
  duration: Child<Histogram<string>>;
  requestBytes: Child<Histogram<string>>;
  responseBytes: Child<Histogram<string>>;
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
  bytesFromClients: number;
  bytesToClients: number;
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
    bytesFromClients: 0,
    bytesToClients: 0,
  };

  private readonly accessLog: ((line: string) => void) | undefined;
  private readonly requestChildren = new Map<string, RequestChildren>();

  private readonly requests: Counter<string>;
  private readonly duration: Histogram<string>;
  private readonly requestBytes: Histogram<string>;
  private readonly responseBytes: Histogram<string>;
  private readonly opened: Counter<string>;
  private readonly closedConnections: Counter<string>;
  private readonly active: Gauge<string>;
  private readonly received: Counter<string>;
  private readonly sent: Counter<string>;
  private readonly parseErrors: Counter<string>;
  private readonly connectFailures: Counter<string>;

  constructor(options: { accessLog?: (line: string) => void } = {}) {
    this.accessLog = options.accessLog;
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'outrigger_requests_total',
      help: 'HTTP requests seen by the proxy',
      labelNames: ['direction', 'method', 'response_code', 'response_code_class'],
      registers,
    });
    this.duration = new Histogram({
      name: 'outrigger_request_duration_milliseconds',
      help: 'From the first request byte to the last response byte',
      labelNames: ['direction', 'response_code_class'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.requestBytes = new Histogram({
      name: 'outrigger_request_bytes',
      help: 'HTTP request size on the wire (head and body)',
      labelNames: ['direction'],
      buckets: SIZE_BUCKETS,
      registers,
    });
    this.responseBytes = new Histogram({
      name: 'outrigger_response_bytes',
      help: 'HTTP response size on the wire (head and body)',
      labelNames: ['direction'],
      buckets: SIZE_BUCKETS,
      registers,
    });
    this.opened = new Counter({
      name: 'outrigger_tcp_connections_opened_total',
      help: 'TCP connections accepted',
      labelNames: ['direction'],
      registers,
    });
    this.closedConnections = new Counter({
      name: 'outrigger_tcp_connections_closed_total',
      help: 'TCP connections closed, by reason',
      labelNames: ['direction', 'reason'],
      registers,
    });
    this.active = new Gauge({
      name: 'outrigger_tcp_connections_active',
      help: 'TCP connections open now',
      labelNames: ['direction'],
      registers,
    });
    this.received = new Counter({
      name: 'outrigger_tcp_received_bytes_total',
      help: 'Bytes received from downstream clients (counted when a connection closes)',
      labelNames: ['direction'],
      registers,
    });
    this.sent = new Counter({
      name: 'outrigger_tcp_sent_bytes_total',
      help: 'Bytes sent to downstream clients (counted when a connection closes)',
      labelNames: ['direction'],
      registers,
    });
    this.parseErrors = new Counter({
      name: 'outrigger_http_parse_errors_total',
      help: 'Connections whose HTTP stopped parsing and continued as opaque TCP',
      labelNames: ['direction'],
      registers,
    });
    this.connectFailures = new Counter({
      name: 'outrigger_upstream_connect_failures_total',
      help: 'Upstream connections that could not be established',
      labelNames: ['direction', 'reason'],
      registers,
    });
  }

  recordRequest(record: RequestRecord): void {
    this.totals.requests++;
    const children = this.childrenFor(record.direction, record.method, record.status);
    children.total.inc();
    children.duration.observe(record.durationMs);
    children.requestBytes.observe(record.requestBytes);
    children.responseBytes.observe(record.responseBytes);
    this.recentRequests.push(record);
    if (this.accessLog !== undefined) this.accessLog(JSON.stringify(record));
  }

  connectionOpened(direction: Direction): void {
    this.totals.connectionsOpened++;
    this.totals.activeConnections++;
    this.opened.labels(direction).inc();
    this.active.labels(direction).inc();
  }

  connectionClosed(record: ConnectionRecord, opaque: boolean): void {
    this.totals.connectionsClosed++;
    this.totals.activeConnections--;
    if (opaque) this.totals.opaqueConnections++;
    this.totals.bytesFromClients += record.bytesFromClient;
    this.totals.bytesToClients += record.bytesToClient;
    this.closedConnections.labels(record.direction, record.closeReason).inc();
    this.active.labels(record.direction).dec();
    this.received.labels(record.direction).inc(record.bytesFromClient);
    this.sent.labels(record.direction).inc(record.bytesToClient);
    this.recentConnections.push(record);
  }

  parseError(direction: Direction): void {
    this.totals.parseErrors++;
    this.parseErrors.labels(direction).inc();
  }

  connectFailure(direction: Direction, reason: CloseReason): void {
    this.totals.upstreamConnectFailures++;
    if (reason === 'loop_refused') this.totals.loopsRefused++;
    this.connectFailures.labels(direction, reason).inc();
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
    const key = `${direction} ${method} ${status}`;
    let children = this.requestChildren.get(key);
    if (children === undefined) {
      const methodLabel = KNOWN_METHODS.has(method) ? method : 'OTHER';
      const code = String(status);
      const codeClass = status === 0 ? '0' : `${Math.floor(status / 100)}xx`;
      children = {
        total: this.requests.labels(direction, methodLabel, code, codeClass),
        duration: this.duration.labels(direction, codeClass),
        requestBytes: this.requestBytes.labels(direction),
        responseBytes: this.responseBytes.labels(direction),
      };
      // Unknown methods share one child; bound the cache all the same.
      if (this.requestChildren.size < 10_000) this.requestChildren.set(key, children);
    }
    return children;
  }
}
