// The proxy's whole configuration, resolved once at start from the OUTRIGGER_*
// environment the injector sets and from command-line flags (flags win). Nothing
// on the data path reads the environment or parses a setting again.
import { createRequire } from 'node:module';
import type * as Commander from 'commander';
import {
  ACCESS_LOG_FORMATS,
  type AccessLogFormat,
  type AppMetrics,
  type AppProbes,
  LAYOUTS,
  type Layout,
  PORTS,
  PROXY_ENV,
  PROXY_LOG_LEVELS,
} from '../../src/shared/contract.ts';
import {
  type Grammar,
  ok,
  oneOf,
  parseBoolean,
  parseHostPort,
  parseListeningPort,
  parseNumericId,
  wholeNumber,
} from '../../src/shared/grammar/index.ts';
import { parseAppMetrics } from './admin/app-metrics.ts';
import { parseAppProbes } from './admin/app-probes.ts';
import { errors } from './errors.ts';
import { type HeaderPair, parseHeaderList } from './http/added-headers.ts';

/** The levels the injector's logLevel annotation may pass on (src/shared/contract.ts). */
export const LOG_LEVELS = PROXY_LOG_LEVELS;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ProxyConfig {
  pod: {
    name: string;
    namespace: string;
    ip: string;
    nodeName: string;
    serviceAccount: string;
    /** The pod's workload, `app` and `version` labels, for the metrics' workload labels. */
    workload: string;
    app: string;
    version: string;
  };
  ports: {
    outbound: number;
    inbound: number;
    admin: number;
    health: number;
    prometheus: number;
  };
  /** Address the admin server binds; localhost only by contract. */
  adminAddress: string;
  logLevel: LogLevel;
  accessLog: boolean;
  accessLogFormat: AccessLogFormat;
  forwardPodIdentity: boolean;
  /** Added to outbound HTTP requests. */
  addRequestHeaders: HeaderPair[];
  /** Added to inbound HTTP responses. */
  addResponseHeaders: HeaderPair[];
  connectTimeoutMs: number;
  /** 0 disables the idle timeout. */
  idleTimeoutMs: number;
  /** The most a drain lasts after SIGTERM (the injector sizes it from the grace period). */
  drainTimeoutMs: number;
  /**
   * Native: SIGTERM comes after the app has exited. Classic: it comes with the
   * app's, and the app may still open connections while it shuts down.
   */
  layout: Layout;
  /** The app's original probes by health path, answered on the health port. */
  appProbes: AppProbes;
  /** The metrics merge: where the app serves its own metrics on loopback (admin/app-metrics.ts). */
  appMetrics: AppMetrics | undefined;
  /**
   * Size of each upstream connection's read buffer, in KiB: the most one read
   * takes, and so the most a slow client can hold in the proxy per connection.
   */
  readBufferKiB: number;
  /**
   * Most proxied connections open at once; undefined derives it at start from
   * the heap, file-descriptor and memory limits (connection-limit.ts).
   */
  maxConnections: number | undefined;
  /**
   * The uid the capture rules exempt (the injector's proxy uid). When set, the
   * proxy refuses to start under any other uid: its own connections would be
   * captured again. Unset (tests, a proxy run by hand): not checked.
   */
  proxyUid: number | undefined;
  /**
   * Debug/test only: send every captured connection here instead of its
   * SO_ORIGINAL_DST (for loopback tests without iptables).
   */
  fixedDestination: { host: string; port: number } | undefined;
}

export const DEFAULTS = {
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 3_600_000,
  drainTimeoutMs: 5_000,
  // 64 KiB is what libuv asks for per read.
  readBufferKiB: 64,
  logLevel: 'info' as LogLevel,
  adminAddress: '127.0.0.1',
} as const;

/** One setting: its flag, its environment variable, and the grammar of its value. */
interface Setting<T> {
  flag: string;
  env: string | undefined;
  description: string;
  grammar: Grammar<T>;
}

// Every value is read with the shared grammar (src/shared/grammar), the one the
// injector checked or wrote it with; only the app probes' and app metrics' JSON are the proxy's own.
const text: Grammar<string> = ok;
const port = parseListeningPort;
const millis = wholeNumber(0, 9_999_999_999, 'milliseconds');
const kib = wholeNumber(1, 1024, 'KiB');
const count = wholeNumber(1, 9_999_999);
const logLevel = oneOf(LOG_LEVELS);
const accessLogFormat = oneOf(ACCESS_LOG_FORMATS);
const layout = oneOf(LAYOUTS);

const SETTINGS = {
  podName: { flag: 'pod-name', env: PROXY_ENV.podName, description: 'pod name', grammar: text },
  podNamespace: {
    flag: 'pod-namespace',
    env: PROXY_ENV.podNamespace,
    description: 'pod namespace',
    grammar: text,
  },
  podIp: { flag: 'pod-ip', env: PROXY_ENV.podIp, description: 'pod IP', grammar: text },
  nodeName: { flag: 'node-name', env: PROXY_ENV.nodeName, description: 'node name', grammar: text },
  serviceAccount: {
    flag: 'service-account',
    env: PROXY_ENV.serviceAccount,
    description: 'service account',
    grammar: text,
  },
  outboundPort: {
    flag: 'outbound-port',
    env: PROXY_ENV.outboundPort,
    description: `outbound capture port (default ${PORTS.outboundCapture})`,
    grammar: port,
  },
  inboundPort: {
    flag: 'inbound-port',
    env: PROXY_ENV.inboundPort,
    description: `inbound capture port (default ${PORTS.inboundCapture})`,
    grammar: port,
  },
  adminPort: {
    flag: 'admin-port',
    env: PROXY_ENV.adminPort,
    description: `admin port on localhost (default ${PORTS.admin})`,
    grammar: port,
  },
  healthPort: {
    flag: 'health-port',
    env: PROXY_ENV.healthPort,
    description: `health port (default ${PORTS.health})`,
    grammar: port,
  },
  prometheusPort: {
    flag: 'prometheus-port',
    env: PROXY_ENV.prometheusPort,
    description: `Prometheus port (default ${PORTS.prometheus})`,
    grammar: port,
  },
  logLevel: {
    flag: 'log-level',
    env: PROXY_ENV.logLevel,
    description: `log level: ${LOG_LEVELS.join(', ')} (default ${DEFAULTS.logLevel})`,
    grammar: logLevel,
  },
  workloadName: {
    flag: 'workload-name',
    env: PROXY_ENV.workloadName,
    description: 'workload the pod belongs to, for metric labels',
    grammar: text,
  },
  app: { flag: 'app-label', env: PROXY_ENV.app, description: "the pod's app label", grammar: text },
  version: {
    flag: 'version-label',
    env: PROXY_ENV.version,
    description: "the pod's version label",
    grammar: text,
  },
  accessLogFormat: {
    flag: 'access-log-format',
    env: PROXY_ENV.accessLogFormat,
    description: `access-log format, ${ACCESS_LOG_FORMATS.join(' or ')} (default json)`,
    grammar: accessLogFormat,
  },
  accessLog: {
    flag: 'access-log',
    env: PROXY_ENV.accessLog,
    description: '"true" writes one JSON line per HTTP request on stdout',
    grammar: parseBoolean,
  },
  forwardPodIdentity: {
    flag: 'forward-pod-identity',
    env: PROXY_ENV.forwardPodIdentity,
    description: '"true" adds X-Forwarded-For and X-Client-Hostname to outbound HTTP',
    grammar: parseBoolean,
  },
  addRequestHeaders: {
    flag: 'add-request-headers',
    env: PROXY_ENV.addRequestHeaders,
    description: '"name: value" pairs added to outbound HTTP requests',
    grammar: parseHeaderList,
  },
  addResponseHeaders: {
    flag: 'add-response-headers',
    env: PROXY_ENV.addResponseHeaders,
    description: '"name: value" pairs added to inbound HTTP responses',
    grammar: parseHeaderList,
  },
  connectTimeoutMs: {
    flag: 'connect-timeout-ms',
    env: PROXY_ENV.connectTimeoutMs,
    description: `upstream connect timeout (default ${DEFAULTS.connectTimeoutMs})`,
    grammar: millis,
  },
  idleTimeoutMs: {
    flag: 'idle-timeout-ms',
    env: PROXY_ENV.idleTimeoutMs,
    description: `idle connection timeout, 0 = none (default ${DEFAULTS.idleTimeoutMs})`,
    grammar: millis,
  },
  drainTimeoutMs: {
    flag: 'drain-timeout-ms',
    env: PROXY_ENV.drainTimeoutMs,
    description: `how long SIGTERM waits for open connections (default ${DEFAULTS.drainTimeoutMs})`,
    grammar: millis,
  },
  layout: {
    flag: 'layout',
    env: PROXY_ENV.layout,
    description:
      '"native" (SIGTERM after the app exited) or "classic" (with the app) (default native)',
    grammar: layout,
  },
  appProbes: {
    flag: 'app-probes',
    env: PROXY_ENV.appProbes,
    description:
      "JSON: the app's original probes by /app-health/... path, answered on the health port",
    grammar: parseAppProbes,
  },
  appMetrics: {
    flag: 'app-metrics',
    env: PROXY_ENV.appMetrics,
    description:
      'JSON {"port":N,"path":"/..."}: the app\'s metrics on loopback, served after the proxy\'s on the Prometheus port',
    grammar: parseAppMetrics,
  },
  maxConnections: {
    flag: 'max-connections',
    env: PROXY_ENV.maxConnections,
    description:
      'most proxied connections open at once (default: derived from heap, fd and memory limits)',
    grammar: count,
  },
  proxyUid: {
    flag: 'proxy-uid',
    env: PROXY_ENV.proxyUid,
    description:
      'uid the capture rules exempt; refuse to start under another (default: not checked)',
    grammar: parseNumericId,
  },
  readBufferKiB: {
    flag: 'read-buffer-kib',
    env: undefined,
    description: `upstream read buffer per connection in KiB, 1-1024 (default ${DEFAULTS.readBufferKiB})`,
    grammar: kib,
  },
  adminAddress: {
    flag: 'admin-address',
    env: undefined,
    description: `address the admin server binds (default ${DEFAULTS.adminAddress})`,
    grammar: text,
  },
  fixedDestination: {
    flag: 'fixed-destination',
    env: undefined,
    description: 'debug/test only: forward every connection to host:port, ignoring SO_ORIGINAL_DST',
    grammar: parseHostPort,
  },
} satisfies Record<string, Setting<unknown>>;

type Settings = typeof SETTINGS;
type Resolved = {
  [K in keyof Settings]: (Settings[K]['grammar'] extends Grammar<infer T> ? T : never) | undefined;
};

// commander is loaded only when there are flags to parse. The injected
// container passes none (only environment), and loading commander costs about
// 6 MiB resident: it imports node:fs, node:process and node:child_process whole.
const require = createRequire(import.meta.url);
let commander: typeof Commander | undefined;

function loadCommander(): typeof Commander {
  commander ??= require('commander') as typeof Commander;
  return commander;
}

/** Builds the commander program; exported so `--help` lists every setting. */
export function buildCommand(): Commander.Command {
  const { Command, Option } = loadCommander();
  const command = new Command('outrigger-proxy')
    .description('Transparent sidecar proxy: splices redirected TCP and records HTTP statistics.')
    .allowExcessArguments(false)
    .exitOverride();
  for (const setting of Object.values(SETTINGS) as Setting<unknown>[]) {
    const env = setting.env ? ` [env ${setting.env}]` : '';
    command.addOption(new Option(`--${setting.flag} <value>`, `${setting.description}${env}`));
  }
  return command;
}

/**
 * Resolves the configuration from argv (without node and script) and an
 * environment. Throws OUTRIGGER_INVALID_PROXY_SETTING naming the flag or
 * variable and the value when one is wrong.
 */
export function resolveConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ProxyConfig {
  const flags = argv.length === 0 ? {} : parseFlags(argv);
  const resolved = {} as Record<string, unknown>;
  for (const [key, setting] of Object.entries(SETTINGS) as [string, Setting<unknown>][]) {
    const flagValue = flags[camel(setting.flag)];
    if (flagValue !== undefined) {
      resolved[key] = read(setting, flagValue, `flag --${setting.flag}`);
    } else if (setting.env !== undefined && env[setting.env] !== undefined) {
      resolved[key] = read(setting, env[setting.env]!, `environment variable ${setting.env}`);
    }
  }
  return assemble(resolved as Resolved);
}

function read<T>(setting: Setting<T>, raw: string, source: string): T {
  const parsed = setting.grammar(raw);
  if (!parsed.ok) throw errors.INVALID_PROXY_SETTING(source, raw, parsed.expected);
  return parsed.value;
}

function parseFlags(argv: readonly string[]): Record<string, string | undefined> {
  const command = buildCommand();
  command.parse([...argv], { from: 'user' });
  return command.opts<Record<string, string | undefined>>();
}

/**
 * The exit code commander asks for when it ends parsing (`--help` 0, a bad flag
 * 1), or undefined when `err` did not come from commander.
 */
export function commandLineExitCode(err: unknown): number | undefined {
  return commander !== undefined && err instanceof commander.CommanderError
    ? err.exitCode
    : undefined;
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function assemble(r: Resolved): ProxyConfig {
  return {
    pod: {
      name: r.podName ?? '',
      namespace: r.podNamespace ?? '',
      ip: r.podIp ?? '',
      nodeName: r.nodeName ?? '',
      serviceAccount: r.serviceAccount ?? '',
      workload: r.workloadName ?? '',
      app: r.app ?? '',
      version: r.version ?? '',
    },
    ports: {
      outbound: r.outboundPort ?? PORTS.outboundCapture,
      inbound: r.inboundPort ?? PORTS.inboundCapture,
      admin: r.adminPort ?? PORTS.admin,
      health: r.healthPort ?? PORTS.health,
      prometheus: r.prometheusPort ?? PORTS.prometheus,
    },
    adminAddress: r.adminAddress ?? DEFAULTS.adminAddress,
    logLevel: r.logLevel ?? DEFAULTS.logLevel,
    accessLog: r.accessLog ?? false,
    accessLogFormat: r.accessLogFormat ?? 'json',
    forwardPodIdentity: r.forwardPodIdentity ?? false,
    addRequestHeaders: r.addRequestHeaders ?? [],
    addResponseHeaders: r.addResponseHeaders ?? [],
    connectTimeoutMs: r.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    idleTimeoutMs: r.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
    drainTimeoutMs: r.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs,
    layout: r.layout ?? 'native',
    appProbes: r.appProbes ?? {},
    appMetrics: r.appMetrics,
    readBufferKiB: r.readBufferKiB ?? DEFAULTS.readBufferKiB,
    maxConnections: r.maxConnections,
    proxyUid: r.proxyUid,
    fixedDestination: r.fixedDestination,
  };
}

/** A configuration with every default, for tests and embedding. */
export function defaultConfig(overrides: Partial<ProxyConfig> = {}): ProxyConfig {
  return { ...resolveConfig([], {}), ...overrides };
}
