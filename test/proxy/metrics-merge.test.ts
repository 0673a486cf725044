// The metrics merge through a real proxy process: an app serving its own
// prom-client metrics on loopback, the proxy started with OUTRIGGER_APP_METRICS
// as the injector sets it, and each scrape of /stats/prometheus parsed by the
// Prometheus Go client's strict parser. The app down, slow, or answering
// something else never costs the proxy its own metrics, and each such scrape is
// counted by reason.
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import {
  APP_METRICS_TIMEOUT_MS,
  mergeExpositions,
  parseAppMetrics,
} from '../../proxy/src/admin/app-metrics.ts';
import { PROMETHEUS_PATH, PROXY_ENV } from '../../src/shared/contract.ts';
import { type ExpositionFamily, parseExposition } from '../support/exposition.ts';
import { requirePrerequisites } from '../support/prerequisites.ts';
import {
  closeServer,
  EPHEMERAL_FLAGS,
  listenHttp,
  type ProxyProcess,
  spawnProxy,
} from './support/harness.ts';

/** What the app answers on /metrics; each test sets it. */
let answer: (res: http.ServerResponse) => void;

const appRegistry = new Registry();
collectDefaultMetrics({ register: appRegistry });
const orders = new Counter({
  name: 'shop_orders_total',
  help: 'Orders placed',
  labelNames: ['status'],
  registers: [appRegistry],
});
const latency = new Histogram({
  name: 'shop_checkout_seconds',
  help: 'Checkout latency',
  buckets: [0.1, 1],
  registers: [appRegistry],
});

async function appMetricsAnswer(res: http.ServerResponse): Promise<void> {
  res.writeHead(200, { 'content-type': appRegistry.contentType });
  res.end(await appRegistry.metrics());
}

let app: http.Server & { port: number };
let proxy: ProxyProcess;

async function scrape(): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${proxy.ports.prometheus}${PROMETHEUS_PATH}`, {
    signal: AbortSignal.timeout(APP_METRICS_TIMEOUT_MS + 10_000),
  });
  return { status: response.status, text: await response.text() };
}

function value(families: Record<string, ExpositionFamily>, name: string, labels = {}): number {
  const family = families[name];
  assert.ok(family, `no family ${name}`);
  const sample = family.samples.find((s) =>
    Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  assert.ok(sample, `no ${name} sample with ${JSON.stringify(labels)}`);
  return sample.value;
}

const failures = (families: Record<string, ExpositionFamily>, reason: string) =>
  value(families, 'outrigger_app_metrics_scrape_failures_total', { reason });

describe('metrics merge through a real proxy', () => {
  before(async () => {
    answer = (res) => void appMetricsAnswer(res);
    app = await listenHttp((req, res) => {
      if (req.url === '/internal/metrics') answer(res);
      else res.writeHead(200).end('ok\n');
    });
    orders.inc({ status: 'paid' }, 3);
    latency.observe(0.05);
    proxy = await spawnProxy([...EPHEMERAL_FLAGS, `--fixed-destination=127.0.0.1:${app.port}`], {
      [PROXY_ENV.appMetrics]: JSON.stringify({ port: app.port, path: '/internal/metrics' }),
      [PROXY_ENV.workloadName]: 'shop',
    });
    // One request through the proxy, so its own request metrics have samples.
    const through = await fetch(`http://127.0.0.1:${proxy.ports.inbound}/`);
    assert.equal(await through.text(), 'ok\n');
  });
  after(async () => {
    proxy.child.kill('SIGKILL');
    await proxy.exited;
    await closeServer(app);
  });

  test("one scrape serves the proxy's metrics and the app's, valid exposition", async (t) => {
    if (!requirePrerequisites(t, 'go')) return;
    answer = (res) => void appMetricsAnswer(res);
    const { status, text } = await scrape();
    assert.equal(status, 200);
    const families = parseExposition(text);
    // The app's own, as it serves them.
    assert.equal(value(families, 'shop_orders_total', { status: 'paid' }), 3);
    assert.equal(families.shop_checkout_seconds?.type, 'HISTOGRAM');
    assert.equal(value(families, 'shop_checkout_seconds'), 1);
    // The proxy's own, with the request just made.
    assert.equal(
      value(families, 'outrigger_requests_total', {
        reporter: 'destination',
        destination_workload: 'shop',
      }),
      1,
    );
    // Families both serve (the app is a Node process with prom-client's
    // defaults) appear once, as the proxy's: the parser refuses two TYPE lines.
    assert.equal(families.process_resident_memory_bytes?.samples.length, 1);
    assert.equal(failures(families, 'refused'), 0);
  });

  test("the app down: the proxy's metrics are served whole and the failure counted", async (t) => {
    if (!requirePrerequisites(t, 'go')) return;
    const before = parseExposition((await scrape()).text);
    const closed = await listenHttp(() => {});
    const { port } = closed;
    await closeServer(closed);
    // A second proxy whose app port has nothing listening.
    const lonely = await spawnProxy(EPHEMERAL_FLAGS, {
      [PROXY_ENV.appMetrics]: JSON.stringify({ port, path: '/metrics' }),
    });
    try {
      const response = await fetch(`http://127.0.0.1:${lonely.ports.prometheus}${PROMETHEUS_PATH}`);
      assert.equal(response.status, 200);
      const families = parseExposition(await response.text());
      assert.equal(failures(families, 'refused'), 1);
      assert.ok(families.outrigger_tcp_connections_active, "the proxy's own metrics");
      assert.ok(families.process_resident_memory_bytes);
      assert.equal(families.shop_orders_total, undefined);
    } finally {
      lonely.child.kill('SIGKILL');
      await lonely.exited;
    }
    assert.equal(failures(before, 'refused'), 0);
  });

  test('the app slower than the timeout: served without it, counted as timeout', async (t) => {
    if (!requirePrerequisites(t, 'go')) return;
    const held: http.ServerResponse[] = [];
    answer = (res) => held.push(res);
    const { status, text } = await scrape();
    for (const res of held) res.destroy();
    assert.equal(status, 200);
    const families = parseExposition(text);
    assert.equal(failures(families, 'timeout'), 1);
    assert.equal(families.shop_orders_total, undefined);
    assert.ok(families.outrigger_requests_total);
  });

  test('an app answer that is not exposition, an error or too large is left out and counted', async (t) => {
    if (!requirePrerequisites(t, 'go')) return;
    const cases: Array<[string, (res: http.ServerResponse) => void]> = [
      ['invalid', (res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('<html>oops')],
      ['status', (res) => res.writeHead(500).end('broken\n')],
      [
        'content_type',
        (res) =>
          res.writeHead(200, { 'content-type': 'application/openmetrics-text' }).end('# EOF\n'),
      ],
      [
        'too_large',
        (res) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          // Past the 4 MiB cap, in chunks, without a content-length to refuse it up front.
          const line = `big_gauge{i="${'x'.repeat(1000)}"} 1\n`;
          for (let i = 0; i < 5000; i++) res.write(line);
          res.end();
        },
      ],
    ];
    for (const [reason, respond] of cases) {
      answer = respond;
      const { status, text } = await scrape();
      assert.equal(status, 200, reason);
      const families = parseExposition(text);
      assert.equal(failures(families, reason), 1, reason);
      assert.equal(families.big_gauge, undefined);
      assert.ok(families.outrigger_requests_total, reason);
    }
    // And the app, healthy again, is back in the next scrape.
    answer = (res) => void appMetricsAnswer(res);
    const families = parseExposition((await scrape()).text);
    assert.equal(value(families, 'shop_orders_total', { status: 'paid' }), 3);
  });
});

test('OUTRIGGER_APP_METRICS is read strictly', () => {
  assert.deepEqual(parseAppMetrics('{"port":8080,"path":"/metrics"}'), {
    ok: true,
    value: { port: 8080, path: '/metrics' },
  });
  for (const bad of [
    '',
    '[]',
    '{"port":"8080","path":"/metrics"}',
    '{"port":0,"path":"/metrics"}',
    '{"port":8080,"path":"metrics"}',
    '{"port":8080,"path":"/a b"}',
    '{"port":8080,"path":"/m","scheme":"https"}',
  ]) {
    assert.equal(parseAppMetrics(bad).ok, false, bad);
  }
});

test("the merge leaves out the app's families that the proxy also has, and only those", () => {
  const own = '# HELP up_own x\n# TYPE up_own gauge\nup_own 1\n';
  const app = [
    '# HELP up_own the same name as one of the proxy families',
    '# TYPE up_own gauge',
    'up_own 7',
    '# HELP app_seconds a histogram',
    '# TYPE app_seconds histogram',
    'app_seconds_bucket{le="+Inf"} 2',
    'app_seconds_sum 0.5',
    'app_seconds_count 2',
    'untyped_one{a="}"} 3',
    '',
  ].join('\n');
  const merged = mergeExpositions(own, new Set(['up_own']), app);
  assert.deepEqual(merged.dropped, ['up_own']);
  assert.equal(
    merged.text,
    `${own}# HELP app_seconds a histogram\n# TYPE app_seconds histogram\napp_seconds_bucket{le="+Inf"} 2\napp_seconds_sum 0.5\napp_seconds_count 2\nuntyped_one{a="}"} 3\n`,
  );
});
