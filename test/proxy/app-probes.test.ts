// The health port answers the app's rewritten probes with the app's own result:
// httpGet with the probe's path, headers and scheme, tcpSocket by connecting,
// and none of it counted as application traffic.
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { RunningProxy } from '../../proxy/src/proxy.ts';
import { generateCertificateAuthority, issueServingCertificate } from '../../src/certs/generate.ts';
import type { AppProbes } from '../../src/shared/contract.ts';
import { closeServer, listenHttp, startTestProxy } from './support/harness.ts';

let app: Awaited<ReturnType<typeof listenHttp>>;
let tlsApp: https.Server;
let proxy: RunningProxy;
let closedPort: number;
const seen: Array<{ url: string; headers: Record<string, unknown> }> = [];

before(async () => {
  app = await listenHttp((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const url = new URL(req.url ?? '/', 'http://app');
    if (url.pathname === '/slow') return void setTimeout(() => res.end('late\n'), 3000);
    const status = Number(url.searchParams.get('status') ?? 200);
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(`app says ${status}\n`);
  });
  const ca = generateCertificateAuthority();
  const leaf = issueServingCertificate(ca, { dnsNames: ['app.test'], ipAddresses: ['127.0.0.1'] });
  tlsApp = https.createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
    res.writeHead(req.url === '/tls-ok' ? 200 : 500);
    res.end('tls\n');
  });
  await new Promise<void>((resolve) => tlsApp.listen(0, '127.0.0.1', resolve));
  // A port that was just free: nothing listens there.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));

  const tlsPort = (tlsApp.address() as net.AddressInfo).port;
  const appProbes: AppProbes = {
    '/app-health/web/readyz': {
      httpGet: {
        path: '/ready?status=204',
        port: app.port,
        scheme: 'HTTP',
        httpHeaders: [
          { name: 'Host', value: 'web.example' },
          { name: 'X-Probe', value: 'yes' },
        ],
      },
      timeoutSeconds: 1,
    },
    '/app-health/web/livez': {
      httpGet: { path: '/live?status=503', port: app.port, scheme: 'HTTP' },
      timeoutSeconds: 1,
    },
    '/app-health/web/startupz': { tcpSocket: { port: app.port }, timeoutSeconds: 1 },
    '/app-health/idle/livez': { tcpSocket: { port: closedPort }, timeoutSeconds: 1 },
    '/app-health/tls/readyz': {
      httpGet: { path: '/tls-ok', port: tlsPort, scheme: 'HTTPS' },
      timeoutSeconds: 1,
    },
    '/app-health/odd/readyz': {
      httpGet: {
        path: '/ready',
        port: app.port,
        scheme: 'HTTP',
        httpHeaders: [{ name: 'X-Odd', value: 'line\nbreak' }],
      },
      timeoutSeconds: 1,
    },
    '/app-health/slow/readyz': {
      httpGet: { path: '/slow', port: app.port, scheme: 'HTTP' },
      timeoutSeconds: 1,
    },
  };
  proxy = await startTestProxy({ port: app.port }, { appProbes });
});

after(async () => {
  await proxy.close();
  await closeServer(app);
  tlsApp.closeAllConnections();
  await new Promise((resolve) => tlsApp.close(resolve));
});

async function probe(path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${proxy.ports.health}${path}`, {
    headers: { 'user-agent': 'kube-probe/1.36' },
  });
  return { status: res.status, body: await res.text() };
}

test("httpGet: the app's status and body, for the probe's path and headers", async () => {
  const ready = await probe('/app-health/web/readyz');
  assert.equal(ready.status, 204);
  const request = seen.find((r) => r.url === '/ready?status=204');
  assert.ok(request, JSON.stringify(seen));
  assert.equal(request.headers.host, 'web.example');
  assert.equal(request.headers['x-probe'], 'yes');
  assert.equal(request.headers['user-agent'], 'kube-probe/1.36', "the kubelet's user agent");

  const live = await probe('/app-health/web/livez');
  assert.equal(live.status, 503);
  assert.equal(live.body, 'app says 503\n');
});

test('tcpSocket: 200 when the app listens, 503 when nothing does', async () => {
  assert.equal((await probe('/app-health/web/startupz')).status, 200);
  const idle = await probe('/app-health/idle/livez');
  assert.equal(idle.status, 503);
  assert.match(idle.body, /ECONNREFUSED/);
});

test('HTTPS: checked without verifying the certificate, as the kubelet does', async () => {
  assert.equal((await probe('/app-health/tls/readyz')).status, 200);
});

test("an app slower than the probe's timeout fails the probe", async () => {
  const slow = await probe('/app-health/slow/readyz');
  assert.equal(slow.status, 503);
  assert.match(slow.body, /timed out/);
});

test('a probe Node cannot send (a header with a line break) fails, and the server keeps serving', async () => {
  const odd = await probe('/app-health/odd/readyz');
  assert.equal(odd.status, 503);
  assert.equal((await probe('/app-health/web/startupz')).status, 200);
});

test('unknown app-health paths are 404; the proxy readiness path still answers', async () => {
  assert.equal((await probe('/app-health/web/other')).status, 404);
  assert.equal((await probe('/healthz/ready')).status, 200);
});

test('probe checks are not application traffic: no request or connection recorded', () => {
  assert.equal(proxy.stats.recentRequests.toArray().length, 0);
  assert.equal(proxy.stats.recentConnections.toArray().length, 0);
  assert.equal((proxy.stats.snapshot().totals as { requests: number }).requests, 0);
});
