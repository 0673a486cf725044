// The metrics merge on a real node: a pod that asks Prometheus to scrape its
// own /metrics is admitted with its prometheus.io/* annotations pointed at the
// proxy, and the proxy's :15090/stats/prometheus serves the app's metrics with
// its own, valid for the Prometheus Go client's strict parser. A pod that opts
// out keeps its annotations.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseExposition } from '../support/exposition.ts';
import { requirePrerequisites } from '../support/prerequisites.ts';
import { fetchFromPod } from './client.ts';
import {
  apply,
  createNamespace,
  deleteNamespace,
  kubectlOk,
  skipUnlessCluster,
  waitForReady,
} from './harness.ts';
import { appPod, TESTAPP_PORT } from './pods.ts';

const scrape = {
  'prometheus.io/scrape': 'true',
  'prometheus.io/port': String(TESTAPP_PORT),
  'prometheus.io/path': '/metrics',
};

async function annotations(namespace: string, pod: string): Promise<Record<string, string>> {
  const json = await kubectlOk(['get', 'pod', pod, '-n', namespace, '-o', 'json']);
  return (JSON.parse(json) as { metadata: { annotations: Record<string, string> } }).metadata
    .annotations;
}

describe('metrics merge on a real node', {
  concurrency: false,
  skip: await skipUnlessCluster(),
}, () => {
  let ns = '';

  before(async () => {
    ns = await createNamespace('merge', { 'outrigger-injection': 'enabled' });
    await apply(ns, appPod({ name: 'merged', annotations: scrape }));
    await apply(
      ns,
      appPod({
        name: 'own-scrape',
        annotations: { ...scrape, 'sidecar.outrigger.dev/mergeMetrics': 'false' },
      }),
    );
    await waitForReady(ns, 'merged');
    await waitForReady(ns, 'own-scrape');
  });
  after(async () => {
    if (ns) await deleteNamespace(ns);
  });

  it("points the pod's scrape at the proxy and keeps the app's values", async () => {
    const merged = await annotations(ns, 'merged');
    assert.equal(merged['prometheus.io/scrape'], 'true');
    assert.equal(merged['prometheus.io/port'], '15090');
    assert.equal(merged['prometheus.io/path'], '/stats/prometheus');
    assert.deepEqual(JSON.parse(merged['sidecar.outrigger.dev/originalAnnotations'] ?? '{}'), {
      'prometheus.io/port': String(TESTAPP_PORT),
      'prometheus.io/path': '/metrics',
    });
    const own = await annotations(ns, 'own-scrape');
    for (const [key, value] of Object.entries(scrape)) assert.equal(own[key], value, key);
  });

  it("serves the app's metrics and the proxy's in one valid scrape of the proxy's port", async (t) => {
    if (!requirePrerequisites(t, 'go')) return;
    // Each pod scraped from the other, at its address, as Prometheus would.
    const ip = async (pod: string) =>
      (await kubectlOk(['get', 'pod', pod, '-n', ns, '-o', 'jsonpath={.status.podIP}'])).trim();
    const answer = await fetchFromPod(
      ns,
      'own-scrape',
      `http://${await ip('merged')}:15090/stats/prometheus`,
    );
    assert.equal(answer.status, 200);
    const families = parseExposition(answer.body);
    assert.equal(families.testapp_requests_total?.type, 'COUNTER');
    assert.ok(families.outrigger_tcp_connections_active, "the proxy's own");
    assert.deepEqual(
      families.outrigger_app_metrics_scrape_failures_total?.samples.map((s) => s.value),
      [0, 0, 0, 0, 0, 0, 0],
    );
    // The pod that opted out: its proxy serves only its own.
    const own = parseExposition(
      (await fetchFromPod(ns, 'merged', `http://${await ip('own-scrape')}:15090/stats/prometheus`))
        .body,
    );
    assert.equal(own.testapp_requests_total, undefined);
    assert.ok(own.outrigger_tcp_connections_active);
  });
});
