// The names users type and the numbers the three programs agree on, kept in one
// place so the injector, the init container and the proxy cannot drift apart.
// This file is the contract; README.md and docs/ (injection.md for annotations,
// traffic-capture.md for the init program's flags, proxy.md for the proxy's
// environment and ports) explain it to users. Change a name only with a reason
// written in docs/.

/** Namespace label that opts a namespace in (`enabled`) or out (`disabled`). */
export const NAMESPACE_INJECTION_LABEL = 'outrigger-injection';

/** Pod label or annotation: `"true"` / `"false"`. The label wins when both are set. */
export const POD_INJECT_KEY = 'sidecar.outrigger.dev/inject';

/** Written by injection: JSON listing what was injected and by which version. */
export const STATUS_ANNOTATION = 'sidecar.outrigger.dev/status';

/**
 * Written by injection when it rewrites app probes: JSON of the user's probes
 * exactly as they were, by container name and probe field, so that
 * `outrigger uninject` can put them back.
 */
export const ORIGINAL_PROBES_ANNOTATION = 'sidecar.outrigger.dev/originalProbes';

/**
 * Written by injection when it changes annotations the user had set (the
 * metrics merge points `prometheus.io/port` and `/path` at the proxy): JSON of
 * their values as they were, by key, so that `outrigger uninject` can put them back.
 */
export const ORIGINAL_ANNOTATIONS_ANNOTATION = 'sidecar.outrigger.dev/originalAnnotations';

export const INIT_CONTAINER_NAME = 'outrigger-init';
export const PROXY_CONTAINER_NAME = 'outrigger-proxy';

export const PROXY_UID = 1337;
export const PROXY_GID = 1337;

export const PORTS = {
  outboundCapture: 15001,
  inboundCapture: 15006,
  admin: 15000,
  health: 15021,
  prometheus: 15090,
} as const;

export const HEALTH_READY_PATH = '/healthz/ready';
/** Rewritten app probes ask the health port for `/app-health/<container>/<readyz|livez|startupz>`. */
export const APP_HEALTH_PATH_PREFIX = '/app-health/';
/** Classic layout: the job's command POSTs here (admin port, localhost only) to stop the proxy. */
export const QUIT_PATH = '/quitquitquit';
export const PROMETHEUS_PATH = '/stats/prometheus';

/** Namespaces that are never injected, whatever their labels say. */
export const SYSTEM_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease'] as const;

export const WEBHOOK_PATH = '/inject';
export const WEBHOOK_PORT = 8443;

/**
 * The injector's own metrics over plain HTTP, `GET /metrics`, as istiod's
 * monitoring port 15014: Prometheus scrapes it with no CA to configure. The chart
 * passes it to `outrigger serve --monitoring-port` and names it `http-monitoring`
 * on the Service.
 */
export const MONITORING_PORT = 15014;
export const METRICS_PATH = '/metrics';

/** Namespace label the PodSecurity admission plugin enforces (a Pod Security Standard). */
export const POD_SECURITY_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

/**
 * The Pod Security Standards that refuse what injection adds (outrigger-init's
 * NET_ADMIN and NET_RAW). The chart sends namespaces enforcing one of these to
 * `${WEBHOOK_PATH}/pod-security/<level>`, so the injector can explain the refusal
 * without reading namespaces: the apiserver allows no query string in a webhook's
 * path or url, so the level travels as path segments.
 */
export const POD_SECURITY_REFUSING_LEVELS = ['baseline', 'restricted'] as const;
export const POD_SECURITY_WEBHOOK_PATH_PREFIX = `${WEBHOOK_PATH}/pod-security/`;

/**
 * Environment the injector sets on `outrigger-proxy`. The proxy reads only these
 * (and its flags); it never talks to the Kubernetes API.
 */
export const PROXY_ENV = {
  podName: 'OUTRIGGER_POD_NAME',
  podNamespace: 'OUTRIGGER_POD_NAMESPACE',
  podIp: 'OUTRIGGER_POD_IP',
  nodeName: 'OUTRIGGER_NODE_NAME',
  serviceAccount: 'OUTRIGGER_SERVICE_ACCOUNT',
  outboundPort: 'OUTRIGGER_OUTBOUND_PORT',
  inboundPort: 'OUTRIGGER_INBOUND_PORT',
  adminPort: 'OUTRIGGER_ADMIN_PORT',
  healthPort: 'OUTRIGGER_HEALTH_PORT',
  prometheusPort: 'OUTRIGGER_PROMETHEUS_PORT',
  logLevel: 'OUTRIGGER_LOG_LEVEL',
  accessLog: 'OUTRIGGER_ACCESS_LOG',
  /** `json` or `text` (Envoy's default format). */
  accessLogFormat: 'OUTRIGGER_ACCESS_LOG_FORMAT',
  /** The workload the pod belongs to (its Deployment, StatefulSet…), named by the injector. */
  workloadName: 'OUTRIGGER_WORKLOAD_NAME',
  /** The pod's `app` label (downward API), for the app metric labels. */
  app: 'OUTRIGGER_APP',
  /** The pod's `version` label (downward API), for the version metric labels. */
  version: 'OUTRIGGER_VERSION',
  forwardPodIdentity: 'OUTRIGGER_FORWARD_POD_IDENTITY',
  addRequestHeaders: 'OUTRIGGER_ADD_REQUEST_HEADERS',
  addResponseHeaders: 'OUTRIGGER_ADD_RESPONSE_HEADERS',
  connectTimeoutMs: 'OUTRIGGER_CONNECT_TIMEOUT_MS',
  idleTimeoutMs: 'OUTRIGGER_IDLE_TIMEOUT_MS',
  drainTimeoutMs: 'OUTRIGGER_DRAIN_TIMEOUT_MS',
  /** JSON: the app's original httpGet/tcpSocket probes by health path (AppProbes). */
  appProbes: 'OUTRIGGER_APP_PROBES',
  /**
   * JSON AppMetrics: where the app serves the metrics its prometheus.io/port and
   * /path annotations named, which the proxy merges into its own (Istio's
   * ISTIO_PROMETHEUS_ANNOTATIONS). Unset: nothing to merge.
   */
  appMetrics: 'OUTRIGGER_APP_METRICS',
  /** `native` or `classic`: whether the app is still running when the proxy gets SIGTERM. */
  layout: 'OUTRIGGER_LAYOUT',
  /** Most proxied connections open at once (default derived from heap, fds and memory). */
  maxConnections: 'OUTRIGGER_MAX_CONNECTIONS',
  /** The uid the capture rules exempt; the proxy refuses to start under another. */
  proxyUid: 'OUTRIGGER_PROXY_UID',
} as const;

export const LAYOUTS = ['native', 'classic'] as const;
export type Layout = (typeof LAYOUTS)[number];

/**
 * One of the app's original probes, as the proxy checks it for the kubelet
 * (OUTRIGGER_APP_PROBES maps each `/app-health/...` path to one). Named ports
 * are already resolved; probes with their own `host` are never rewritten.
 */
export type AppProbe =
  | {
      httpGet: {
        path: string;
        port: number;
        scheme: 'HTTP' | 'HTTPS';
        httpHeaders?: Array<{ name: string; value: string }>;
      };
      timeoutSeconds: number;
    }
  | { tcpSocket: { port: number }; timeoutSeconds: number };

export type AppProbes = Record<string, AppProbe>;

/** The app's own metrics endpoint on loopback, as the injector hands it to the proxy (OUTRIGGER_APP_METRICS). */
export interface AppMetrics {
  port: number;
  path: string;
}

/** Access-log formats the proxy accepts in OUTRIGGER_ACCESS_LOG_FORMAT (and the accessLogFormat annotation). */
export const ACCESS_LOG_FORMATS = ['json', 'text'] as const;
export type AccessLogFormat = (typeof ACCESS_LOG_FORMATS)[number];

/** Log levels the proxy accepts in OUTRIGGER_LOG_LEVEL (and the logLevel annotation). */
export const PROXY_LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;

/**
 * Flags of `outrigger-iptables`, spelled as istio-iptables spells them so that
 * people who know Istio read an injected pod's init args at once.
 */
export const IPTABLES_FLAGS = {
  outboundPort: '-p',
  inboundPort: '-z',
  proxyUid: '-u',
  proxyGid: '-g',
  mode: '-m',
  includeInboundPorts: '-b',
  excludeInboundPorts: '-d',
  includeOutboundIPRanges: '-i',
  excludeOutboundIPRanges: '-x',
  includeOutboundPorts: '-q',
  excludeOutboundPorts: '-o',
  excludeInterfaces: '-c',
} as const;
