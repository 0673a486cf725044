// The injector's monitoring port: `GET /metrics` in plain HTTP (istiod's 15014),
// so Prometheus, a ServiceMonitor or a PodMonitor scrape it without the
// webhook's CA. Nothing but the registry is served here. Small bounds, as on the
// webhook port (docs/security.md), since anything that reaches the pod reaches it.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { METRICS_PATH } from '../shared/contract.ts';

/** Scrapers keep one or two connections; a flood past this is refused at accept. */
const MAX_CONNECTIONS = 64;

export function createMonitoringServer(registry: Registry): Server {
  const server = createServer(
    { headersTimeout: 5_000, requestTimeout: 10_000, keepAliveTimeout: 65_000 },
    (req, res) => {
      const path = (req.url ?? '/').split('?', 1)[0];
      if (path !== METRICS_PATH) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
        res.end('method not allowed: use GET\n');
        return;
      }
      registry.metrics().then(
        (text) => {
          res.writeHead(200, {
            'content-type': registry.contentType,
            'content-length': Buffer.byteLength(text),
          });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (err: unknown) => res.writeHead(500).end(`${String(err)}\n`),
      );
    },
  );
  server.maxConnections = MAX_CONNECTIONS;
  return server;
}
