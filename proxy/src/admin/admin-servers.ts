// The three small HTTP servers beside the data path: admin (localhost only:
// /stats, /config, /ready), health (/healthz/ready and the app's rewritten
// probes, for the kubelet) and Prometheus (/stats/prometheus). Plain node:http
// keeps them light.
import type http from 'node:http';
import {
  type AppMetrics,
  HEALTH_READY_PATH,
  PROMETHEUS_PATH,
  QUIT_PATH,
} from '../../../src/shared/contract.ts';
import type { ProxyConfig } from '../config.ts';
import type { ProxyStats } from '../stats/proxy-stats.ts';
import {
  APP_METRICS_FAILURES,
  type AppMetricsFailure,
  fetchAppMetrics,
  mergeExpositions,
} from './app-metrics.ts';
import { checkAppProbe } from './app-probes.ts';

// Not `import http from 'node:http'`: an ES import of a built-in reads every
// export, and node:http's WebSocket getter then loads undici (about 13 MiB
// resident that the proxy never uses). getBuiltinModule reads none of them.
const { createServer } = process.getBuiltinModule('node:http');

export interface Readiness {
  /** Every capture listener is bound and the proxy is not draining. */
  ready(): boolean;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/** GET (and HEAD) routes, plus the few that change state and take POST only. */
function serve(
  routes: Record<string, Handler>,
  postRoutes: Record<string, Handler> = {},
): http.Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const post = postRoutes[path];
    const get = routes[path];
    const handler = post ?? get;
    if (handler === undefined) {
      reply(res, 404, 'text/plain', 'not found\n');
      return;
    }
    const allowed = post !== undefined ? ['POST'] : ['GET', 'HEAD'];
    if (!allowed.includes(req.method ?? '')) {
      res.setHeader('allow', allowed.join(', '));
      reply(res, 405, 'text/plain', `method not allowed: use ${allowed.join(' or ')}\n`);
      return;
    }
    Promise.resolve(handler(req, res)).catch((err: unknown) => {
      reply(res, 500, 'text/plain', `${String(err)}\n`);
    });
  });
}

function reply(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function json(res: http.ServerResponse, status: number, value: unknown): void {
  reply(res, status, 'application/json', `${JSON.stringify(value)}\n`);
}

/**
 * Bound to 127.0.0.1 (the contract's "admin, localhost only"). `POST
 * /quitquitquit` is how a classic-layout Job's command stops the proxy, so the
 * pod can complete; it is refused from anywhere but loopback even when
 * --admin-address binds wider.
 */
export function createAdminServer(
  stats: ProxyStats,
  config: ProxyConfig,
  readiness: Readiness,
  onQuit: () => void,
): http.Server {
  return serve(
    {
      '/stats': (_req, res) => json(res, 200, stats.snapshot()),
      '/config': (_req, res) => json(res, 200, config),
      '/ready': (_req, res) => readyAnswer(res, readiness),
    },
    {
      [QUIT_PATH]: (req, res) => {
        if (!isLoopback(req.socket.remoteAddress)) {
          reply(res, 403, 'text/plain', 'quitquitquit is accepted from localhost only\n');
          return;
        }
        res.on('finish', onQuit);
        reply(res, 200, 'text/plain', 'draining, then exiting\n');
      },
    },
  );
}

function isLoopback(address: string | undefined): boolean {
  return address === '::1' || /^(::ffff:)?127\./.test(address ?? '');
}

export function createHealthServer(
  readiness: Readiness,
  config: Pick<ProxyConfig, 'appProbes' | 'pod'>,
): http.Server {
  // The kubelet probes the pod IP; so does the proxy (loopback when it has none, in tests).
  const address = config.pod.ip || '127.0.0.1';
  const routes: Record<string, Handler> = {
    [HEALTH_READY_PATH]: (_req, res) => readyAnswer(res, readiness),
  };
  for (const [path, probe] of Object.entries(config.appProbes)) {
    routes[path] = async (req, res) => {
      const answer = await checkAppProbe(probe, address, req.headers['user-agent']);
      reply(res, answer.status, 'text/plain', answer.body);
    };
  }
  return serve(routes);
}

/**
 * With `appMetrics` (the metrics merge), each scrape fetches the app's metrics
 * first, so a failure is already counted in the proxy's part that follows.
 */
export function createPrometheusServer(stats: ProxyStats, appMetrics?: AppMetrics): http.Server {
  if (appMetrics === undefined) {
    return serve({
      [PROMETHEUS_PATH]: async (_req, res) => {
        reply(res, 200, stats.registry.contentType, await stats.registry.metrics());
      },
    });
  }
  // Every reason is a series from the start, so increase() sees the first failure.
  const failures = Object.fromEntries(
    APP_METRICS_FAILURES.map((reason) => [reason, stats.appMetricsFailures.child(reason)]),
  ) as Record<AppMetricsFailure, { value: number }>;
  return serve({
    [PROMETHEUS_PATH]: async (_req, res) => {
      const app = await fetchAppMetrics(appMetrics);
      if (!app.ok) failures[app.reason].value++;
      const own = await stats.registry.metrics();
      if (!app.ok) {
        reply(res, 200, stats.registry.contentType, own);
        return;
      }
      const families = new Set(stats.registry.getMetricsAsArray().map((m) => m.name));
      reply(res, 200, stats.registry.contentType, mergeExpositions(own, families, app.text).text);
    },
  });
}

function readyAnswer(res: http.ServerResponse, readiness: Readiness): void {
  if (readiness.ready()) reply(res, 200, 'text/plain', 'ready\n');
  else reply(res, 503, 'text/plain', 'not ready\n');
}
