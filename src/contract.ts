// The names users type and the numbers the three programs agree on, kept in one
// place so the injector, the init container and the proxy cannot drift apart.
// They mirror ../shared/design/contract.md; change one only with a reason in docs/.

/** Namespace label that opts a namespace in (`enabled`) or out (`disabled`). */
export const NAMESPACE_INJECTION_LABEL = 'outrigger-injection';

/** Pod label or annotation: `"true"` / `"false"`. The label wins when both are set. */
export const POD_INJECT_KEY = 'sidecar.outrigger.dev/inject';

/** Written by injection: JSON listing what was injected and by which version. */
export const STATUS_ANNOTATION = 'sidecar.outrigger.dev/status';

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
export const PROMETHEUS_PATH = '/stats/prometheus';

/** Namespaces that are never injected, whatever their labels say. */
export const SYSTEM_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease'] as const;

export const WEBHOOK_PATH = '/inject';
export const WEBHOOK_PORT = 8443;

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
  forwardPodIdentity: 'OUTRIGGER_FORWARD_POD_IDENTITY',
  addRequestHeaders: 'OUTRIGGER_ADD_REQUEST_HEADERS',
  addResponseHeaders: 'OUTRIGGER_ADD_RESPONSE_HEADERS',
  connectTimeoutMs: 'OUTRIGGER_CONNECT_TIMEOUT_MS',
  idleTimeoutMs: 'OUTRIGGER_IDLE_TIMEOUT_MS',
  drainTimeoutMs: 'OUTRIGGER_DRAIN_TIMEOUT_MS',
  /** Most proxied connections open at once (default derived from heap, fds and memory). */
  maxConnections: 'OUTRIGGER_MAX_CONNECTIONS',
  /** The uid the capture rules exempt; the proxy refuses to start under another. */
  proxyUid: 'OUTRIGGER_PROXY_UID',
} as const;

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
