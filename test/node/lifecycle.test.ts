// The pod lifecycle with a sidecar, on a real kubelet: Jobs and CronJobs
// complete in both layouts, the classic layout holds the app until the proxy
// is ready, probes report the app's own health, and deleting a pod loses no
// request in flight.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { fetchFromPod, runNode } from './client.ts';
import {
  apply,
  createNamespace,
  deleteNamespace,
  getPod,
  isReady,
  kubectl,
  kubectlOk,
  logs,
  skipUnlessCluster,
  waitForReady,
  waitUntil,
} from './harness.ts';
import { requestCount } from './metrics.ts';
import { appPod, appPodSpec } from './pods.ts';

const CLASSIC = { 'sidecar.outrigger.dev/nativeSidecar': 'false' };

/** A node script for a job's app container: one request, no retry, then exit. */
function oneRequest(url: string, quitProxy: boolean): string[] {
  const script = `
    const r = await fetch(${JSON.stringify(url)});
    console.log('status', r.status);
    ${quitProxy ? "await fetch('http://127.0.0.1:15000/quitquitquit', { method: 'POST' });" : ''}
    process.exit(r.status === 200 ? 0 : 1);
  `;
  return ['node', '--input-type=module', '-e', script];
}

function jobManifest(name: string, url: string, classic: boolean): Record<string, unknown> {
  const spec = appPodSpec({ restartPolicy: 'Never' }) as {
    containers: Array<Record<string, unknown>>;
  };
  spec.containers[0]!.command = oneRequest(url, classic);
  delete spec.containers[0]!.args;
  return {
    metadata: { labels: { job: name }, annotations: classic ? CLASSIC : {} },
    spec,
  };
}

/** Waits for the Job to finish; fails at once when it failed rather than at the timeout. */
function jobYaml(name: string, template: Record<string, unknown>): string {
  return stringify({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: { backoffLimit: 0, template },
  });
}

async function jobSucceeded(ns: string, name: string): Promise<void> {
  let status: { succeeded?: number; failed?: number } = {};
  try {
    await waitUntil(`job ${name} to finish`, 150_000, async () => {
      status = JSON.parse(await kubectlOk(['-n', ns, 'get', 'job', name, '-o', 'json'])).status;
      return (status.succeeded ?? 0) > 0 || (status.failed ?? 0) > 0;
    });
  } finally {
    if (!((status.succeeded ?? 0) > 0)) {
      const pods = await kubectl(['-n', ns, 'describe', 'pods', '-l', `job-name=${name}`]);
      // biome-ignore lint/correctness/noUnsafeFinally: the failure carries the pods' state
      throw new Error(`job ${name} did not complete (${JSON.stringify(status)}):\n${pods.stdout}`);
    }
  }
}

describe('the pod lifecycle with a sidecar on a real node', {
  concurrency: false,
  skip: await skipUnlessCluster(),
}, () => {
  let ns = '';
  let serverIp = '';

  before(async () => {
    ns = await createNamespace('lifecycle', { 'outrigger-injection': 'enabled' });
    await apply(ns, appPod({ name: 'server' }));
    await apply(ns, appPod({ name: 'client' }));
    serverIp = (await waitForReady(ns, 'server')).status.podIP!;
    await waitForReady(ns, 'client');
  });

  after(async () => {
    if (ns) await deleteNamespace(ns);
  });

  it("completes a Job's injected pod (native layout), and a CronJob's", async () => {
    await apply(ns, jobYaml('native', jobManifest('native', `http://${serverIp}/get`, false)));
    await apply(
      ns,
      stringify({
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'nightly' },
        // Never due by itself during the test: a Job is made from it at once.
        spec: {
          schedule: '0 3 1 1 *',
          jobTemplate: {
            spec: {
              backoffLimit: 0,
              template: jobManifest('nightly', `http://${serverIp}/get`, false),
            },
          },
        },
      }),
    );
    await kubectlOk(['-n', ns, 'create', 'job', 'nightly-now', '--from=cronjob/nightly']);
    await jobSucceeded(ns, 'native');
    await jobSucceeded(ns, 'nightly-now');
    const [pod] = JSON.parse(
      await kubectlOk(['-n', ns, 'get', 'pods', '-l', 'job-name=native', '-o', 'json']),
    ).items;
    assert.ok(
      pod.spec.initContainers.some((c: { name: string }) => c.name === 'outrigger-proxy'),
      'the job pod was injected',
    );
  });

  it('holds the app until the proxy is ready in the classic layout, and a classic Job completes', async () => {
    // The app's very first connection, with no retry, must already go through
    // a listening proxy; then it asks the proxy to quit so the Job completes.
    await apply(ns, jobYaml('classic', jobManifest('classic', `http://${serverIp}/get`, true)));
    await jobSucceeded(ns, 'classic');
    const [pod] = JSON.parse(
      await kubectlOk(['-n', ns, 'get', 'pods', '-l', 'job-name=classic', '-o', 'json']),
    ).items;
    const names = pod.spec.containers.map((c: { name: string }) => c.name);
    assert.equal(names[0], 'outrigger-proxy', 'the proxy starts first');
    assert.ok(
      pod.spec.containers[0].lifecycle?.postStart,
      'and holds the app with a postStart hook',
    );
    const appLog = await logs(ns, pod.metadata.name, 'app');
    assert.match(appLog, /status 200/);
    const proxy = pod.status.containerStatuses.find(
      (s: { name: string }) => s.name === 'outrigger-proxy',
    );
    assert.equal(proxy.state.terminated?.exitCode, 0, 'the proxy exited 0 on /quitquitquit');
  });

  it('serves a long-running classic pod, with the app started after the proxy', async () => {
    await apply(ns, appPod({ name: 'classic-server', annotations: CLASSIC }));
    const pod = await waitForReady(ns, 'classic-server');
    assert.equal(pod.spec.containers[0]!.name, 'outrigger-proxy');
    assert.equal(pod.metadata.annotations!['kubectl.kubernetes.io/default-container'], 'app');
    const answer = await fetchFromPod(ns, 'client', `http://${pod.status.podIP}/get`);
    assert.equal(answer.status, 200);
  });

  it("rewrites the app's probes so they report the app's own health", async () => {
    await apply(
      ns,
      appPod({
        name: 'probed',
        annotations: { 'sidecar.outrigger.dev/accessLog': 'true' },
        readinessProbe: { httpGet: { path: '/status/200', port: 'http' }, periodSeconds: 1 },
        livenessProbe: { tcpSocket: { port: 80 }, periodSeconds: 2 },
      }),
    );
    // Nothing listens on 9999: the kubelet must see that, not the proxy's accept.
    await apply(
      ns,
      appPod({
        name: 'deaf',
        readinessProbe: { tcpSocket: { port: 9999 }, periodSeconds: 1 },
      }),
    );
    // The app answers 503 on this path: the kubelet must see the 503.
    await apply(
      ns,
      appPod({
        name: 'unhealthy',
        readinessProbe: { httpGet: { path: '/status/503', port: 80 }, periodSeconds: 1 },
      }),
    );
    const probed = await waitForReady(ns, 'probed');
    const app = probed.spec.containers.find((c) => c.name === 'app') as unknown as {
      readinessProbe: { httpGet: { port: number } };
      livenessProbe: { httpGet?: { port: number }; tcpSocket?: unknown };
    };
    assert.equal(app.readinessProbe.httpGet.port, 15021, 'readiness goes to the proxy health port');
    assert.equal(app.livenessProbe.httpGet?.port, 15021, 'tcpSocket liveness goes there too');
    assert.ok(JSON.stringify(probed).includes('/status/200'), 'the original probe stays visible');

    // Give the kubelet time to probe both failing pods many times.
    await sleep(15_000);
    for (const name of ['deaf', 'unhealthy']) {
      const pod = await getPod(ns, name);
      assert.equal(pod.status.phase, 'Running');
      assert.equal(isReady(pod), false, `${name} must not be Ready`);
    }
    // Probes never passed through the inbound capture: no request recorded.
    const scrape = await fetchFromPod(
      ns,
      'client',
      `http://${probed.status.podIP}:15090/stats/prometheus`,
    );
    assert.equal(requestCount(scrape.body, { reporter: 'destination' }), 0);
    const accessLog = await logs(ns, 'probed', 'outrigger-proxy');
    assert.doesNotMatch(accessLog, /"direction":"inbound"/);
  });

  for (const layout of ['native', 'classic'] as const) {
    it(`loses no request in flight when a pod is deleted (${layout} layout)`, async () => {
      const name = `draining-${layout}`;
      await apply(
        ns,
        appPod({
          name,
          annotations: layout === 'classic' ? CLASSIC : {},
          terminationGracePeriodSeconds: 20,
        }),
      );
      const ip = (await waitForReady(ns, name)).status.podIP!;
      // One keep-alive connection: a first request, then a slow one on the same
      // connection, during which the pod is deleted.
      const script = `
        import http from 'node:http';
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        const get = (path) => new Promise((resolve, reject) => {
          http.get({ host: ${JSON.stringify(ip)}, port: 80, path, agent }, (res) => {
            const socket = res.socket.localPort;
            let body = '';
            res.on('data', (c) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode, body, socket }));
            res.on('error', reject);
          }).on('error', reject);
        });
        const first = await get('/get');
        console.log('first', first.status);
        const second = await get('/delay/4');
        console.log('second', second.status, second.socket === first.socket ? 'same-connection' : 'new-connection', second.body.length);
      `;
      const client = runNode(ns, 'client', script);
      await sleep(2_000);
      const started = Date.now();
      await kubectlOk(['-n', ns, 'delete', 'pod', name, '--wait=false']);
      const result = await client;
      assert.match(result.stdout, /first 200/, result.stderr);
      assert.match(result.stdout, /second 200 same-connection [1-9]/, result.stderr);
      // And the pod goes away well inside its grace period.
      await waitUntil(`pod ${name} gone`, 30_000, async () => {
        return (await kubectl(['-n', ns, 'get', 'pod', name])).code !== 0;
      });
      assert.ok(Date.now() - started < 20_000, 'gone within the grace period');
    });
  }
});
