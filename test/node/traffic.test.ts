// Injected pods on a real node carry real traffic: the sidecar walkthrough's
// demo (inbound through the server's proxy, outbound through the client's),
// the proxy's access log and Prometheus counters, the pod identity headers,
// and what must bypass the proxy (excluded ports and CIDRs, uid 1337, DNS).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fetchFromPod, runNode } from './client.ts';
import {
  apply,
  createNamespace,
  deleteNamespace,
  getPod,
  logs,
  skipUnlessCluster,
  waitForReady,
} from './harness.ts';
import { requestCount } from './metrics.ts';
import { appPod } from './pods.ts';

const ADDED_HEADER = 'x-outrigger-demo';

interface AccessLine {
  direction: string;
  method: string;
  path: string;
  status: number;
  requestBytes: number;
  responseBytes: number;
  durationMs: number;
}

/** The proxy's access-log lines (JSON) in the pod's outrigger-proxy log. */
async function accessLines(namespace: string, pod: string): Promise<AccessLine[]> {
  return (await logs(namespace, pod, 'outrigger-proxy'))
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"direction"'))
    .map((line) => JSON.parse(line) as AccessLine)
    .filter((line) => line.method !== undefined);
}

describe('traffic through injected pods on a real node', {
  concurrency: false,
  skip: await skipUnlessCluster(),
}, () => {
  let ns = '';
  let serverIp = '';
  let clientIp = '';
  let bypassIp = '';

  before(async () => {
    ns = await createNamespace('traffic', { 'outrigger-injection': 'enabled' });
    await apply(
      ns,
      appPod({
        name: 'httpbin',
        annotations: {
          'sidecar.outrigger.dev/accessLog': 'true',
          'sidecar.outrigger.dev/addResponseHeaders': `${ADDED_HEADER}: from-the-sidecar`,
        },
        sidecars: [
          { name: 'direct', args: ['serve', '--port', '8081'] },
          // A debug listener on loopback only: unreachable from outside the pod,
          // with the sidecar exactly as without it.
          { name: 'loopback', args: ['serve', '--host', '127.0.0.1', '--port', '9999'] },
        ],
      }),
    );
    // A second server, outside everything the client captures by CIDR.
    await apply(ns, appPod({ name: 'bypass' }));
    serverIp = (await waitForReady(ns, 'httpbin')).status.podIP!;
    bypassIp = (await waitForReady(ns, 'bypass')).status.podIP!;
    await apply(
      ns,
      appPod({
        name: 'client',
        annotations: {
          'sidecar.outrigger.dev/accessLog': 'true',
          'sidecar.outrigger.dev/forwardPodIdentity': 'true',
          'traffic.sidecar.outrigger.dev/excludeOutboundPorts': '8081',
          'traffic.sidecar.outrigger.dev/excludeOutboundIPRanges': `${bypassIp}/32`,
        },
      }),
    );
    clientIp = (await waitForReady(ns, 'client')).status.podIP!;
    await apply(
      ns,
      [
        'apiVersion: v1',
        'kind: Service',
        'metadata: {name: httpbin}',
        'spec:',
        '  selector: {app: httpbin}',
        '  ports: [{name: http, port: 80, targetPort: 80}]',
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    if (ns) await deleteNamespace(ns);
  });

  it('runs the pods with outrigger-init and the native outrigger-proxy', async () => {
    for (const name of ['httpbin', 'client']) {
      const pod = await getPod(ns, name);
      const init = pod.spec.initContainers ?? [];
      assert.deepEqual(
        init.map((c) => c.name),
        ['outrigger-init', 'outrigger-proxy'],
      );
      assert.equal(init[1]!.restartPolicy, 'Always');
      const status = JSON.parse(pod.metadata.annotations!['sidecar.outrigger.dev/status']!);
      assert.equal(status.layout, 'native');
      const proxy = pod.status.initContainerStatuses?.find((s) => s.name === 'outrigger-proxy');
      assert.equal(proxy?.ready, true, `${name}: outrigger-proxy ready`);
      assert.equal(proxy?.restartCount, 0, `${name}: outrigger-proxy never restarted`);
    }
  });

  it("serves the walkthrough's demo through both proxies, with the added header", async () => {
    const base = `http://${serverIp}:80`;
    const get = await fetchFromPod(ns, 'client', `${base}/get?query=param`);
    assert.equal(get.status, 200);
    assert.equal(get.headers[ADDED_HEADER], 'from-the-sidecar');
    const got = JSON.parse(get.body);
    assert.deepEqual(got.args, { query: 'param' });

    const body = '{"hello":"you"}';
    assert.equal(Buffer.byteLength(body), 15);
    const post = await fetchFromPod(ns, 'client', `${base}/post`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(post.status, 200);
    assert.equal(post.headers[ADDED_HEADER], 'from-the-sidecar');
    assert.equal(JSON.parse(post.body).data, body);

    const status = await fetchFromPod(ns, 'client', `${base}/status/429`);
    assert.equal(status.status, 429);
    assert.equal(status.headers[ADDED_HEADER], 'from-the-sidecar');

    // One access-log line per request on each side.
    const inbound = (await accessLines(ns, 'httpbin')).filter((l) => l.direction === 'inbound');
    const outbound = (await accessLines(ns, 'client')).filter((l) => l.direction === 'outbound');
    for (const [side, lines] of [
      ['server', inbound],
      ['client', outbound],
    ] as const) {
      const seen = lines.map((l) => `${l.method} ${l.path} ${l.status}`);
      assert.deepEqual(
        seen.filter((s) => !s.includes('/stats/')),
        ['GET /get?query=param 200', 'POST /post 200', 'GET /status/429 429'],
        `${side} proxy access log`,
      );
      const postLine = lines.find((l) => l.method === 'POST')!;
      assert.ok(
        postLine.requestBytes > 15,
        `${side}: request bytes counted (${postLine.requestBytes})`,
      );
      assert.ok(postLine.responseBytes > 0, `${side}: response bytes counted`);
      assert.ok(postLine.durationMs >= 0, `${side}: duration recorded`);
    }

    // The server's Prometheus port, scraped from the pod IP, counts them.
    const scrape = await fetchFromPod(ns, 'client', `http://${serverIp}:15090/stats/prometheus`);
    assert.equal(scrape.status, 200);
    const inboundCount = (labels: Record<string, string>) =>
      requestCount(scrape.body, { reporter: 'destination', request_protocol: 'http', ...labels });
    assert.equal(inboundCount({ response_code: '200', response_flags: '-' }), 2);
    assert.equal(inboundCount({ response_code: '429', response_flags: '-' }), 1);
    assert.equal(inboundCount({ destination_workload: 'httpbin', source_workload: 'unknown' }), 3);
  });

  it("forwards the client pod's identity on outbound requests", async () => {
    const answer = await fetchFromPod(ns, 'client', `http://${serverIp}:80/headers`);
    const headers = Object.fromEntries(
      Object.entries(JSON.parse(answer.body).headers as Record<string, string>).map(([k, v]) => [
        k.toLowerCase(),
        v,
      ]),
    );
    assert.equal(headers['x-forwarded-for'], clientIp);
    assert.equal(headers['x-client-hostname'], 'client');
  });

  it('lets excluded ports and CIDRs, uid 1337 and DNS bypass the proxy', async () => {
    const before = (await accessLines(ns, 'client')).length;
    // An excluded outbound port, and an excluded destination CIDR.
    assert.equal((await fetchFromPod(ns, 'client', `http://${serverIp}:8081/get`)).status, 200);
    assert.equal((await fetchFromPod(ns, 'client', `http://${bypassIp}:80/get`)).status, 200);
    // The proxy's own uid: run from the outrigger-proxy container (uid 1337).
    const own = await runNode(
      ns,
      'client',
      `const r = await fetch('http://${serverIp}:80/get'); console.log(r.status);`,
      'outrigger-proxy',
    );
    assert.equal(own.stdout.trim(), '200', own.stderr);
    assert.equal(
      (await accessLines(ns, 'client')).length,
      before,
      'none of these went through the client proxy',
    );

    // Cluster DNS still answers, and the Service name reaches the server
    // through the client's proxy.
    const lookup = await runNode(
      ns,
      'client',
      `import { lookup } from 'node:dns/promises'; console.log((await lookup('httpbin.${ns}.svc.cluster.local')).address);`,
    );
    assert.match(lookup.stdout.trim(), /^\d+\.\d+\.\d+\.\d+$/, lookup.stderr);
    const viaService = await fetchFromPod(
      ns,
      'client',
      `http://httpbin.${ns}.svc.cluster.local/get`,
    );
    assert.equal(viaService.status, 200);
    assert.equal((await accessLines(ns, 'client')).length, before + 1);
  });

  it("keeps the app's loopback-only listeners unreachable from outside the pod", async () => {
    // Inside the pod it answers.
    const inside = await fetchFromPod(ns, 'httpbin', 'http://127.0.0.1:9999/get');
    assert.equal(inside.status, 200);
    // From the client pod, through both proxies, the pod IP's port 9999 has no
    // listener: the server's proxy delivers to the pod IP, never to loopback.
    const url = JSON.stringify(`http://${serverIp}:9999/get`);
    const outside = await runNode(
      ns,
      'client',
      `try { const r = await fetch(${url}); console.log('status', r.status); }
       catch (e) { console.log('failed', e.cause?.code ?? e.message); }`,
    );
    assert.doesNotMatch(outside.stdout, /status 200/, outside.stdout);
    assert.match(outside.stdout, /failed|status 5\d\d/, outside.stdout);
  });
});
