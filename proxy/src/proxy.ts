// Starts the whole proxy from a resolved configuration: the two capture
// listeners, the admin, health and Prometheus servers, and the drain logic.
// Used by main.ts and, in-process, by the tests.
import type http from 'node:http';
import type net from 'node:net';
import {
  createAdminServer,
  createHealthServer,
  createPrometheusServer,
} from './admin/admin-servers.ts';
import { BufferPool } from './buffer-pool.ts';
import type { ProxyConfig } from './config.ts';
import { connectionLimit, readResourceLimits } from './connection-limit.ts';
import type { Direction } from './connection-vocabulary.ts';
import {
  encodeHeaderLines,
  identityRewrite,
  outboundRequestHeaders,
} from './http/added-headers.ts';
import { HELD_HEAD_BUDGET, HeldHeadBudget } from './http/held-heads.ts';
import type { HeaderInserts } from './http/sniffer.ts';
import { IdleTimeout } from './idle-timeout.ts';
import {
  createCaptureListener,
  type OriginalDestinationResolver,
  soOriginalDst,
} from './listeners/capture-listener.ts';
import { LocalAddresses } from './listeners/local-addresses.ts';
import { OwnUpstreams } from './listeners/own-upstreams.ts';
import type { Logger } from './log.ts';
import type { Destination } from './original-destination.ts';
import { assertExemptedUid } from './proxy-user.ts';
import type { Splice } from './splice.ts';
import { collectDefaultMetrics } from './stats/prometheus-core.ts';
import { ProxyStats } from './stats/proxy-stats.ts';

export interface StartOptions {
  log: Logger;
  /** Replaces SO_ORIGINAL_DST (tests on loopback). Defaults from config.fixedDestination. */
  resolveOriginalDestination?: OriginalDestinationResolver;
  /** Where access-log lines go (default: stdout). */
  accessLog?: (line: string) => void;
  /**
   * Called after `POST /quitquitquit` has been answered. main.ts drains and
   * exits; the default drains with the app finished.
   */
  onQuit?: () => void;
}

export interface DrainOptions {
  /**
   * The app is still running (classic layout, SIGTERM): its outbound calls
   * keep being accepted and carried, and the drain ends only once no
   * connection has been open for a quiet period (or at the deadline). When
   * false (native layout, quitquitquit) both listeners stop at once and the
   * drain ends as soon as the last connection is gone.
   */
  appRunning: boolean;
}

export interface RunningProxy {
  readonly ports: ProxyConfig['ports'];
  readonly stats: ProxyStats;
  /** Stops accepting, lets connections finish up to the drain timeout, then closes everything. */
  drain(options?: DrainOptions): Promise<void>;
  /** Closes everything at once. */
  close(): Promise<void>;
}

const CONNECTION_CLOSE = Buffer.from('Connection: close\r\n', 'latin1');

/**
 * Classic layout: how long the proxy waits with no connection open before it
 * takes the app for done. Like Istio's EXIT_ON_ZERO_ACTIVE_CONNECTIONS with its
 * MINIMUM_DRAIN_DURATION: an app that stays this long without a connection
 * after SIGTERM and then calls out finds the proxy gone.
 */
export const CLASSIC_QUIET_MS = 5_000;
const DRAIN_POLL_MS = 25;

function headerInserts(config: ProxyConfig, direction: Direction): HeaderInserts {
  const identity = {
    forwardPodIdentity: config.forwardPodIdentity,
    podIp: config.pod.ip,
    podName: config.pod.name,
    extra: config.addRequestHeaders,
  };
  const request =
    direction === 'outbound' ? encodeHeaderLines(outboundRequestHeaders(identity)) : undefined;
  const response =
    direction === 'inbound' ? encodeHeaderLines(config.addResponseHeaders) : undefined;
  return {
    request,
    response,
    responseWhileDraining: response
      ? Buffer.concat([response, CONNECTION_CLOSE])
      : CONNECTION_CLOSE,
    identity: direction === 'outbound' ? identityRewrite(identity) : undefined,
  };
}

function fixedResolver(target: { host: string; port: number }): OriginalDestinationResolver {
  const destination: Destination = {
    address: target.host,
    port: target.port,
    family: target.host.includes(':') ? 6 : 4,
  };
  return () => destination;
}

function listen(server: net.Server | http.Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server | http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
}

export async function startProxy(
  config: ProxyConfig,
  options: StartOptions,
): Promise<RunningProxy> {
  const { log } = options;
  assertExemptedUid(config.proxyUid, process.getuid?.());
  const accessLog = config.accessLog
    ? (options.accessLog ?? ((line: string) => process.stdout.write(`${line}\n`)))
    : undefined;
  const stats = new ProxyStats({
    accessLog,
    accessLogFormat: config.accessLogFormat,
    identity: {
      workload: config.pod.workload,
      namespace: config.pod.namespace,
      app: config.pod.app,
      version: config.pod.version,
    },
  });
  // process_* and nodejs_*: the sidecar's memory, CPU, event-loop lag and GC.
  collectDefaultMetrics({ register: stats.registry });
  const live = new Set<Splice>();
  // 64 spare buffers cover typical concurrency.
  const readBuffers = new BufferPool(config.readBufferKiB * 1024, 64);
  const idle = new IdleTimeout(config.idleTimeoutMs);
  const heldHeads = new HeldHeadBudget(HELD_HEAD_BUDGET);
  const resolve =
    options.resolveOriginalDestination ??
    (config.fixedDestination ? fixedResolver(config.fixedDestination) : soOriginalDst);
  const policy = {
    capturePorts: [config.ports.inbound, config.ports.outbound],
    localAddresses: new LocalAddresses(),
    destinationFromKernel: resolve === soOriginalDst,
  };
  const ownUpstreams = new OwnUpstreams();
  const { limit: maxConnections, boundBy } = connectionLimit(
    config.maxConnections,
    readResourceLimits(),
    config.readBufferKiB * 1024,
    HELD_HEAD_BUDGET,
  );
  if (config.maxConnections !== undefined && maxConnections < config.maxConnections) {
    log.warn('max connections lowered to what the file descriptor limit allows', {
      configured: config.maxConnections,
      maxConnections,
    });
  }
  const listener = (direction: Direction) =>
    createCaptureListener({
      direction,
      resolve,
      policy,
      stats,
      settings: {
        connectTimeoutMs: config.connectTimeoutMs,
        idle,
        inserts: headerInserts(config, direction),
        readBuffers,
        heldHeads,
        capturesLogFields: accessLog !== undefined,
      },
      log,
      live,
      ownUpstreams,
      maxConnections,
    });
  const outbound = listener('outbound');
  const inbound = listener('inbound');
  let draining = false;
  const readiness = { ready: () => !draining && outbound.listening && inbound.listening };
  let running: RunningProxy | undefined;
  const onQuit = options.onQuit ?? (() => void running?.drain({ appRunning: false }));
  const admin = createAdminServer(stats, config, readiness, onQuit);
  const health = createHealthServer(readiness, config);
  const prometheus = createPrometheusServer(stats, config.appMetrics);
  const servers = [outbound, inbound, admin, health, prometheus];

  try {
    const [outboundPort, inboundPort, adminPort, healthPort, prometheusPort] = await Promise.all([
      listen(outbound, config.ports.outbound),
      listen(inbound, config.ports.inbound),
      listen(admin, config.ports.admin, config.adminAddress),
      listen(health, config.ports.health),
      listen(prometheus, config.ports.prometheus),
    ]);
    const ports = {
      outbound: outboundPort!,
      inbound: inboundPort!,
      admin: adminPort!,
      health: healthPort!,
      prometheus: prometheusPort!,
    };
    // Ephemeral ports (0, in tests) are known only now; the loop check needs the real ones.
    policy.capturePorts = [ports.inbound, ports.outbound];
    log.info('ready', { ports, maxConnections, maxConnectionsBoundBy: boundBy });

    const closeAll = async () => {
      await Promise.all(servers.map(closeServer));
    };

    let drained: Promise<void> | undefined;
    running = {
      ports,
      stats,
      close: async () => {
        draining = true;
        for (const splice of live) splice.forceClose();
        await closeAll();
      },
      // A second call (SIGTERM after quitquitquit) joins the first drain.
      drain: (drainOptions = { appRunning: false }) => {
        drained ??= drain(drainOptions.appRunning);
        return drained;
      },
    };
    return running;

    /** docs/proxy.md, "Shutdown", is the rule this follows. */
    async function drain(appRunning: boolean): Promise<void> {
      draining = true;
      const started = Date.now();
      const deadline = started + config.drainTimeoutMs;
      // New inbound connections are refused from now on: the pod is leaving its
      // endpoints. close() resolves only once every connection is gone.
      const listenersClosed = [closeServer(inbound)];
      if (!appRunning) listenersClosed.push(closeServer(outbound));
      log.info('draining', {
        connections: live.size,
        timeoutMs: config.drainTimeoutMs,
        appRunning,
      });
      // Idle HTTP keep-alives close now, busy ones after their response. The
      // app's own outbound connections are its business while it runs.
      for (const splice of live) {
        if (!appRunning || splice.direction === 'inbound') splice.startDrain();
      }
      let quietSince = started;
      const quietMs = Math.min(CLASSIC_QUIET_MS, config.drainTimeoutMs);
      for (;;) {
        const now = Date.now();
        if (live.size > 0) quietSince = now;
        else if (!appRunning || now - quietSince >= quietMs) break;
        if (now >= deadline) break;
        await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
      }
      // Stop accepting first, so nothing slips in between the cut and the close.
      if (appRunning) listenersClosed.push(closeServer(outbound));
      if (live.size > 0) log.warn('drain timeout: closing connections', { connections: live.size });
      for (const splice of live) splice.forceClose();
      await Promise.all(listenersClosed);
      await closeAll();
      log.info('drained', { ms: Date.now() - started });
    }
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    throw err;
  }
}
