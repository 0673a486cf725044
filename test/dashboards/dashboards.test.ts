// The Grafana dashboards in examples/grafana/ name only metrics the programs
// really expose: the proxy's are scraped from a proxy that carried HTTP and
// TCP traffic, the injector's from its registry after real admissions.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createWebhookMetrics } from '../../src/webhook/metrics.ts';
import {
  closeServer,
  listenHttp,
  listenTcp,
  ROOT,
  rawExchange,
  startTestProxy,
} from '../proxy/support/harness.ts';

interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Array<{
    id: number;
    type: string;
    title: string;
    gridPos: { h: number; w: number; x: number; y: number };
    targets: Array<{ refId: string; expr: string }>;
  }>;
}

const DIR = path.join(ROOT, 'examples/grafana');
const dashboards = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({
    file: f,
    json: JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) as Dashboard,
  }));

/** Sample names a Prometheus text exposition can hold: histograms add _bucket, _sum, _count. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram' || type === 'summary')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b(?:outrigger|process|nodejs)_[a-z0-9_]+\b/g)].map((m) => m[0]);
}

test('the dashboards are Grafana dashboards of the schema they declare, panels laid out, queries named', () => {
  assert.deepEqual(dashboards.map((d) => d.file).sort(), [
    'outrigger-injector.json',
    'outrigger-proxies.json',
  ]);
  for (const { file, json } of dashboards) {
    assert.equal(json.schemaVersion, 42, file);
    assert.match(json.uid, /^[a-z0-9-]{1,40}$/, file);
    const ids = json.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `${file}: panel ids unique`);
    for (const panel of json.panels) {
      assert.equal(panel.type, 'timeseries');
      assert.ok(
        panel.gridPos.w > 0 && panel.gridPos.h > 0 && panel.gridPos.x + panel.gridPos.w <= 24,
      );
      assert.ok(panel.targets.length > 0);
      for (const target of panel.targets) assert.ok(metricsIn(target.expr).length > 0, target.expr);
    }
  }
});

test('every metric a dashboard query names exists in the program it watches', async () => {
  const app = await listenHttp((req, res) => {
    req.resume();
    res.end('ok');
  });
  const echo = await listenTcp((socket) => socket.pipe(socket));
  const http = await startTestProxy({ port: app.port });
  const tcp = await startTestProxy({ port: echo.port });
  const metrics = createWebhookMetrics();
  try {
    await rawExchange(http.ports.inbound, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await rawExchange(
      http.ports.outbound,
      'GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n',
    );
    await rawExchange(tcp.ports.outbound, 'opaque\x00');
    metrics.admissions.inc({ decision: 'injected', reason: 'default_inject' });
    metrics.injectionDuration.observe({ decision: 'injected' }, 0.0001);
    const exposed = {
      'outrigger-proxies.json': exposedNames(
        (await http.stats.registry.metrics()) + (await tcp.stats.registry.metrics()),
      ),
      'outrigger-injector.json': exposedNames(await metrics.registry.metrics()),
    } as Record<string, Set<string>>;
    for (const { file, json } of dashboards) {
      for (const panel of json.panels)
        for (const target of panel.targets)
          for (const name of metricsIn(target.expr))
            assert.ok(exposed[file]!.has(name), `${file} "${panel.title}": ${name} is not exposed`);
    }
  } finally {
    await Promise.all([http.close(), tcp.close()]);
    await closeServer(app);
    await closeServer(echo);
  }
});
