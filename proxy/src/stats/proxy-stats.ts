// Every statistic the proxy keeps: Prometheus metrics in the shape of Istio's
// standard metrics, plain totals and bounded rings of recent records for the
// admin /stats endpoint, and the optional access log. Label children are cached
// so that recording a request is one map lookup and a few additions.

import type { AccessLogFormat } from '../../../src/shared/contract.ts';
import type { CloseReason, Direction } from '../connection-vocabulary.ts';
import { type AccessLogLines, accessLogLines } from './access-log.ts';
import type { ConnectionRecord } from './connection-record.ts';
import { type CounterChild, type HistogramChild, HotCounter, HotHistogram } from './hot-metrics.ts';
import { Registry } from './prometheus-core.ts';
import type { RequestRecord } from './request-record.ts';
import { CONNECTION_FLAGS } from './response-flags.ts';
import { Ring } from './ring.ts';
import {
  ServiceLabels,
  WORKLOAD_LABELS,
  type WorkloadIdentity,
  workloadLabelValues,
} from './workload-labels.ts';

// Istio's default buckets (milliseconds), in seconds as Prometheus prefers.
const DURATION_BUCKETS = [
  0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600, 1800,
  3600,
];
const SIZE_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];
export const RECENT_CAPACITY = 100;

export interface ProxyStatsOptions {
  /** Where access-log lines go; undefined turns the access log off. */
  accessLog?: (line: string) => void;
  accessLogFormat?: AccessLogFormat;
  /** The pod's workload labels (source_* outbound, destination_* inbound). */
  identity?: WorkloadIdentity;
  /** Distinct destination_service values before the rest fold into "other". */
  maxServices?: number;
}

const NO_IDENTITY: WorkloadIdentity = { workload: '', namespace: '', app: '', version: '' };
const REQUEST_LABELS = [
  ...WORKLOAD_LABELS,
  'destination_service',
  'request_protocol',
  'response_code',
  'response_flags',
  'route',
] as const;
const TCP_CLOSE_LABELS = [...WORKLOAD_LABELS, 'response_flags'] as const;

interface TcpChildren {
  closed: CounterChild;
  received: CounterChild;
  sent: CounterChild;
}

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
  private readonly lines: AccessLogLines;
  private readonly workloadValues: Record<Direction, string[]>;
  private readonly services: ServiceLabels;
  private readonly requestChildren = new Map<string, RequestChildren>();
  private readonly tcpChildren = new Map<string, TcpChildren>();
  private readonly openedChildren: Record<Direction, CounterChild>;
  private readonly activeChildren: Record<Direction, CounterChild>;
  private lastChildren:
    | {
        direction: Direction;
        authority: string;
        status: number;
        flags: string;
        route: string;
        children: RequestChildren;
      }
    | undefined;

  private readonly requests = new HotCounter(
    'outrigger_requests_total',
    'HTTP requests seen by the proxy (istio_requests_total)',
    REQUEST_LABELS,
  );
  private readonly duration = new HotHistogram(
    'outrigger_request_duration_seconds',
    'From the first request byte to the last response byte (istio_request_duration_milliseconds, in seconds)',
    REQUEST_LABELS,
    DURATION_BUCKETS,
  );
  private readonly requestBytes = new HotHistogram(
    'outrigger_request_bytes',
    'HTTP request size on the wire, head and body (istio_request_bytes)',
    REQUEST_LABELS,
    SIZE_BUCKETS,
  );
  private readonly responseBytes = new HotHistogram(
    'outrigger_response_bytes',
    'HTTP response size on the wire, head and body (istio_response_bytes)',
    REQUEST_LABELS,
    SIZE_BUCKETS,
  );
  private readonly opened = new HotCounter(
    'outrigger_tcp_connections_opened_total',
    'TCP connections accepted, refused ones included (istio_tcp_connections_opened_total)',
    WORKLOAD_LABELS,
  );
  private readonly closedConnections = new HotCounter(
    'outrigger_tcp_connections_closed_total',
    'TCP connections closed, by response flags (istio_tcp_connections_closed_total)',
    TCP_CLOSE_LABELS,
  );
  private readonly active = new HotCounter(
    'outrigger_tcp_connections_active',
    'TCP connections open now',
    ['reporter'],
    'gauge',
  );
  private readonly received = new HotCounter(
    'outrigger_tcp_received_bytes_total',
    'Bytes received from downstream clients, counted when a connection closes (istio_tcp_received_bytes_total)',
    TCP_CLOSE_LABELS,
  );
  private readonly sent = new HotCounter(
    'outrigger_tcp_sent_bytes_total',
    'Bytes sent to downstream clients, counted when a connection closes (istio_tcp_sent_bytes_total)',
    TCP_CLOSE_LABELS,
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

  /** Metrics merge (admin/app-metrics.ts): scrapes whose app part was left out, by why. */
  readonly appMetricsFailures = new HotCounter(
    'outrigger_app_metrics_scrape_failures_total',
    "Scrapes of /stats/prometheus served without the app's merged metrics, by reason",
    ['reason'],
  );

  constructor(options: ProxyStatsOptions = {}) {
    this.accessLog = options.accessLog;
    this.lines = accessLogLines(options.accessLogFormat ?? 'json');
    const identity = options.identity ?? NO_IDENTITY;
    this.workloadValues = {
      inbound: workloadLabelValues('inbound', identity),
      outbound: workloadLabelValues('outbound', identity),
    };
    this.services = new ServiceLabels(options.maxServices);
    this.openedChildren = {
      inbound: this.opened.child(...this.workloadValues.inbound),
      outbound: this.opened.child(...this.workloadValues.outbound),
    };
    this.activeChildren = {
      inbound: this.active.child('destination'),
      outbound: this.active.child('source'),
    };
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
      this.appMetricsFailures,
    ]) {
      metric.register(this.registry);
    }
  }

  recordRequest(record: RequestRecord): void {
    this.totals.requests++;
    const children = this.childrenFor(
      record.direction,
      record.authority,
      record.status,
      record.responseFlags,
      record.route,
    );
    children.total.value++;
    this.duration.observe(children.duration, record.durationMs / 1000);
    this.requestBytes.observe(children.requestBytes, record.requestBytes);
    this.responseBytes.observe(children.responseBytes, record.responseBytes);
    this.recentRequests.push(record);
    if (this.accessLog !== undefined) this.accessLog(this.lines.request(record));
  }

  connectionOpened(direction: Direction): void {
    this.totals.connectionsOpened++;
    this.totals.activeConnections++;
    this.openedChildren[direction].value++;
    this.activeChildren[direction].value++;
  }

  /**
   * A connection closed. Each is logged in the access log unless it carried
   * HTTP, whose exchanges have lines of their own.
   */
  connectionClosed(record: ConnectionRecord, opaque: boolean): void {
    this.totals.connectionsClosed++;
    this.totals.activeConnections--;
    if (opaque) this.totals.opaqueConnections++;
    this.totals.bytesFromClients += record.bytesFromClient;
    this.totals.bytesToClients += record.bytesToClient;
    const tcp = this.tcpChildrenFor(record.direction, record.responseFlags);
    tcp.closed.value++;
    tcp.received.value += record.bytesFromClient;
    tcp.sent.value += record.bytesToClient;
    this.activeChildren[record.direction].value--;
    this.recentConnections.push(record);
    if (this.accessLog !== undefined && !record.http) this.accessLog(this.lines.connection(record));
  }

  /**
   * A connection reset before any upstream was tried (loop guard, limit, not
   * the pod, no destination, the traffic policy): counted as opened and
   * closed with its flag, and as a connect failure with its reason.
   */
  connectionRefused(
    direction: Direction,
    reason: CloseReason,
    downstream: string,
    upstream: string,
    bytesFromClient = 0,
  ): void {
    this.connectFailure(direction, reason);
    this.connectionWithoutUpstream(direction, reason, downstream, upstream, bytesFromClient);
  }

  /**
   * A connection that ended before any upstream was tried: refused, or its
   * client left while the proxy waited for its first bytes (policy/host-peek.ts).
   */
  connectionWithoutUpstream(
    direction: Direction,
    reason: CloseReason,
    downstream: string,
    upstream: string,
    bytesFromClient = 0,
  ): void {
    this.connectionOpened(direction);
    this.connectionClosed(
      {
        direction,
        downstream,
        upstream,
        bytesFromClient,
        bytesToClient: 0,
        durationMs: 0,
        closeReason: reason,
        responseFlags: CONNECTION_FLAGS[reason],
        http: false,
        timestamp: Date.now(),
      },
      true,
    );
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

  private childrenFor(
    direction: Direction,
    authority: string,
    status: number,
    flags: string,
    route: string,
  ): RequestChildren {
    // Traffic mostly repeats the previous request's labels (the parser hands
    // back the previous authority string when the bytes are the same).
    const last = this.lastChildren;
    if (
      last !== undefined &&
      last.authority === authority &&
      last.status === status &&
      last.direction === direction &&
      last.flags === flags &&
      last.route === route
    ) {
      return last.children;
    }
    const children = this.lookupChildren(
      direction,
      this.services.labelFor(authority),
      status,
      flags,
      route,
    );
    this.lastChildren = { direction, authority, status, flags, route, children };
    return children;
  }

  private lookupChildren(
    direction: Direction,
    service: string,
    status: number,
    flags: string,
    route: string,
  ): RequestChildren {
    const key = `${direction} ${service} ${status} ${flags} ${route}`;
    let children = this.requestChildren.get(key);
    if (children === undefined) {
      const labels = [
        ...this.workloadValues[direction],
        service,
        'http',
        String(status),
        flags,
        route,
      ];
      children = {
        total: this.requests.child(...labels),
        duration: this.duration.child(...labels),
        requestBytes: this.requestBytes.child(...labels),
        responseBytes: this.responseBytes.child(...labels),
      };
      this.requestChildren.set(key, children);
    }
    return children;
  }

  private tcpChildrenFor(direction: Direction, flags: string): TcpChildren {
    const key = `${direction} ${flags}`;
    let children = this.tcpChildren.get(key);
    if (children === undefined) {
      const labels = [...this.workloadValues[direction], flags];
      children = {
        closed: this.closedConnections.child(...labels),
        received: this.received.child(...labels),
        sent: this.sent.child(...labels),
      };
      this.tcpChildren.set(key, children);
    }
    return children;
  }
}
