// Traffic policy on a real node (issue 14, acceptance 3): real pods whose
// proxies get a policy ConfigMap through sidecar.outrigger.dev/policy. Block
// All resets an outbound connection to a destination it does not allow and
// passes an allowed one; Allow All passes both; a listener's TCP token bucket
// (max 2, +1 per second) admits 2 connections at once and then about one a
// second; a route's HTTP bucket answers 429 with x-local-rate-limit: true.
// Also what delivery promises: a pod whose ConfigMap is missing waits
// in ContainerCreating and starts once it exists, and an edit of the
// ConfigMap reaches a running proxy through the kubelet's volume update.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchFromPod, runNode } from './client.ts';
import {
  apply,
  createNamespace,
  deleteNamespace,
  getPod,
  kubectl,
  skipUnlessCluster,
  waitForReady,
  waitUntil,
} from './harness.ts';
import { sampleSum } from './metrics.ts';
import { appPod, TESTAPP_PORT } from './pods.ts';

const POLICY = 'sidecar.outrigger.dev/policy';
/**
 * The proxy's L7 path (branch policy-l7), which answers the HTTP bucket's 429.
 * The images are built from this checkout, so the source tells whether the
 * proxy in them has it; until it is merged that one case is skipped, saying so.
 */
const L7_PATH = new URL('../../proxy/src/routing/http-connection.ts', import.meta.url);
const HEAD = 'apiVersion: outrigger.dev/v1alpha1\nkind: TrafficPolicy\n';

function policyConfigMap(name: string, policy: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name },
    data: { 'policy.yaml': `${HEAD}${policy}` },
  });
}

/** What became of one connection attempt, and when it started (ms from the first). */
interface Attempt {
  at: number;
  /** `served`: an HTTP answer came; else the socket error code, `closed` or `timeout`. */
  outcome: string;
}

/**
 * Connection attempts made from inside a pod: `burst` opens them all at once,
 * otherwise one every `intervalMs`. Each sends a GET and waits at most 3 s for
 * the answer, so the whole run is bounded by count × (interval + 3 s).
 */
async function connectFromPod(
  namespace: string,
  pod: string,
  host: string,
  port: number,
  plan: { count: number; intervalMs?: number },
): Promise<Attempt[]> {
  if (plan.count > 40) throw new Error('at most 40 attempts per run');
  const script = `
    import { connect } from 'node:net';
    const start = performance.now();
    const attempt = () => new Promise((resolve) => {
      const at = Math.round(performance.now() - start);
      const socket = connect({ host: ${JSON.stringify(host)}, port: ${port} });
      let data = '';
      const done = (outcome) => { socket.destroy(); resolve({ at, outcome }); };
      socket.setTimeout(3000, () => done('timeout'));
      socket.on('connect', () => socket.write('GET /get HTTP/1.1\\r\\nHost: policy\\r\\nConnection: close\\r\\n\\r\\n'));
      socket.on('data', (chunk) => { data += chunk; if (data.startsWith('HTTP/1.1 ')) done('served'); });
      socket.on('error', (error) => done(error.code ?? 'error'));
      socket.on('close', () => done(data === '' ? 'closed' : 'served'));
    });
    const results = [];
    for (let i = 0; i < ${plan.count}; i++) {
      results.push(attempt());
      if (${plan.intervalMs ?? 0} > 0) await new Promise((r) => setTimeout(r, ${plan.intervalMs ?? 0}));
    }
    console.log(JSON.stringify(await Promise.all(results)));
  `;
  const result = await runNode(namespace, pod, script);
  if (result.code !== 0) throw new Error(`attempts from ${pod} failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '[]') as Attempt[];
}

const outcomes = (attempts: Attempt[]) => attempts.map((a) => a.outcome);
const served = (attempts: Attempt[]) => attempts.filter((a) => a.outcome === 'served').length;

describe('traffic policy on a real node', {
  concurrency: false,
  skip: await skipUnlessCluster(),
}, () => {
  let ns = '';
  const ip: Record<string, string> = {};

  /** The proxy's metrics of `pod`, read from the uninjected client. */
  const scrape = async (pod: string) =>
    (await fetchFromPod(ns, 'plain', `http://${ip[pod]}:15090/stats/prometheus`)).body;

  before(async () => {
    ns = await createNamespace('policy', { 'outrigger-injection': 'enabled' });
    // Two servers without a policy; a client outside the mesh to call and scrape from.
    await apply(ns, appPod({ name: 'allowed' }));
    await apply(ns, appPod({ name: 'other' }));
    await apply(ns, appPod({ name: 'plain', labels: { 'sidecar.outrigger.dev/inject': 'false' } }));
    for (const name of ['allowed', 'other', 'plain'])
      ip[name] = (await waitForReady(ns, name)).status.podIP ?? '';

    await apply(
      ns,
      policyConfigMap(
        'block-all',
        `outbound:\n  mode: blockAll\n  allow:\n    - {cidr: "${ip.allowed}/32", ports: [${TESTAPP_PORT}]}\n`,
      ),
    );
    await apply(ns, policyConfigMap('allow-all', 'outbound: {mode: allowAny}\n'));
    await apply(
      ns,
      policyConfigMap(
        'tcp-limit',
        `listeners:\n  - port: ${TESTAPP_PORT}\n    direction: inbound\n    connectionRateLimit: {maxTokens: 2, tokensPerFill: 1, fillInterval: 1s}\n`,
      ),
    );
    await apply(
      ns,
      policyConfigMap(
        'http-limit',
        `listeners:\n  - port: ${TESTAPP_PORT}\n    direction: inbound\n    protocol: http\n    routes:\n      - name: limited\n        rateLimit: {maxTokens: 2, tokensPerFill: 1, fillInterval: 1s}\n`,
      ),
    );
    await apply(ns, appPod({ name: 'blocked', annotations: { [POLICY]: 'block-all' } }));
    await apply(ns, appPod({ name: 'open', annotations: { [POLICY]: 'allow-all' } }));
    await apply(ns, appPod({ name: 'limited', annotations: { [POLICY]: 'tcp-limit' } }));
    await apply(ns, appPod({ name: 'http-limited', annotations: { [POLICY]: 'http-limit' } }));
    for (const name of ['blocked', 'open', 'limited', 'http-limited'])
      ip[name] = (await waitForReady(ns, name)).status.podIP ?? '';
  });

  after(async () => {
    if (ns) await deleteNamespace(ns);
  });

  it('mounts the named ConfigMap into the proxy, which runs with it', async () => {
    for (const [name, configMap] of [
      ['blocked', 'block-all'],
      ['open', 'allow-all'],
      ['limited', 'tcp-limit'],
      ['http-limited', 'http-limit'],
    ] as const) {
      const pod = await getPod(ns, name);
      const status = JSON.parse(pod.metadata.annotations?.['sidecar.outrigger.dev/status'] ?? '{}');
      assert.ok(status.volumes.includes('outrigger-policy'), name);
      const proxy = pod.status.initContainerStatuses?.find((s) => s.name === 'outrigger-proxy');
      assert.equal(proxy?.restartCount, 0, `${name}: the proxy took its policy at start`);
      const metrics = await scrape(name);
      // Registered only when the proxy was given a policy file.
      assert.match(metrics, /^outrigger_policy_generation 0$/m, `${name} (${configMap})`);
      assert.match(metrics, /^outrigger_policy_last_reload_successful 1$/m, name);
    }
  });

  it('Block All resets an outbound connection to a destination it does not allow, and passes an allowed one', async () => {
    const before = sampleSum(await scrape('blocked'), 'outrigger_tcp_connections_closed_total', {
      response_flags: 'NR',
    });
    const allowed = await connectFromPod(ns, 'blocked', ip.allowed ?? '', TESTAPP_PORT, {
      count: 3,
    });
    assert.deepEqual(outcomes(allowed), ['served', 'served', 'served']);
    const refused = await connectFromPod(ns, 'blocked', ip.other ?? '', TESTAPP_PORT, {
      count: 3,
    });
    assert.deepEqual(outcomes(refused), ['ECONNRESET', 'ECONNRESET', 'ECONNRESET']);
    // The allowed address on a port the entry does not list is refused too.
    const otherPort = await connectFromPod(ns, 'blocked', ip.allowed ?? '', 8081, { count: 1 });
    assert.deepEqual(outcomes(otherPort), ['ECONNRESET']);
    const after = sampleSum(await scrape('blocked'), 'outrigger_tcp_connections_closed_total', {
      response_flags: 'NR',
    });
    assert.equal(after - before, 4, 'each refusal is a closed connection with flag NR');
  });

  it('Allow All passes both destinations', async () => {
    for (const target of ['allowed', 'other'] as const) {
      const attempts = await connectFromPod(ns, 'open', ip[target] ?? '', TESTAPP_PORT, {
        count: 3,
      });
      assert.deepEqual(outcomes(attempts), ['served', 'served', 'served'], target);
    }
  });

  it('the TCP bucket admits 2 connections at once, then about one a second, and resets the rest', async (t) => {
    // Nothing else connects to the limited port: the bucket is full (2) by now.
    await sleep(2500);
    const burst = await connectFromPod(ns, 'plain', ip.limited ?? '', TESTAPP_PORT, { count: 6 });
    const burstServed = served(burst);
    t.diagnostic(`burst of 6: ${outcomes(burst).join(' ')}`);
    // A refill tick may fall inside the burst: 2, or exceptionally 3.
    assert.ok(burstServed >= 2 && burstServed <= 3, `burst: ${outcomes(burst)}`);
    assert.ok(
      burst.every((a) => a.outcome === 'served' || a.outcome === 'ECONNRESET'),
      `refused by reset: ${outcomes(burst)}`,
    );

    // Then one attempt every 250 ms for 5 s: about one a second gets through.
    const paced = await connectFromPod(ns, 'plain', ip.limited ?? '', TESTAPP_PORT, {
      count: 20,
      intervalMs: 250,
    });
    const pacedServed = paced.filter((a) => a.outcome === 'served');
    t.diagnostic(
      `paced, admitted at ms: ${pacedServed.map((a) => a.at).join(' ')} (of 20 over 5 s)`,
    );
    assert.ok(
      pacedServed.length >= 3 && pacedServed.length <= 7,
      `about 5 of 20 over 5 s: ${JSON.stringify(paced)}`,
    );
    assert.ok(paced.every((a) => a.outcome === 'served' || a.outcome === 'ECONNRESET'));
    // Two admitted in a row are a refill apart (a tick every second, on a grid).
    for (let i = 1; i < pacedServed.length; i++) {
      const gap = (pacedServed[i]?.at ?? 0) - (pacedServed[i - 1]?.at ?? 0);
      assert.ok(gap >= 500, `admitted ${gap} ms apart: ${JSON.stringify(pacedServed)}`);
    }

    const refusedCount = [...burst, ...paced].filter((a) => a.outcome === 'ECONNRESET').length;
    const rl = sampleSum(await scrape('limited'), 'outrigger_tcp_connections_closed_total', {
      response_flags: 'RL',
    });
    assert.equal(rl, refusedCount, 'each reset is counted with flag RL');
  });

  it('the HTTP bucket answers 429 with x-local-rate-limit: true and retry-after once its 2 tokens are used', async (t) => {
    if (!existsSync(L7_PATH)) {
      return t.skip('this checkout has no L7 path for protocol: http (merge branch policy-l7)');
    }
    await sleep(2500); // nothing else calls the route: its bucket is full
    const script = `
      const url = ${JSON.stringify(`http://${ip['http-limited']}:${TESTAPP_PORT}/get`)};
      const answers = await Promise.all(Array.from({ length: 6 }, async () => {
        const r = await fetch(url);
        return { status: r.status, limited: r.headers.get('x-local-rate-limit'), retryAfter: r.headers.get('retry-after'), body: await r.text() };
      }));
      console.log(JSON.stringify(answers));
    `;
    const result = await runNode(ns, 'plain', script);
    assert.equal(result.code, 0, result.stderr);
    const answers = JSON.parse(result.stdout.trim().split('\n').pop() ?? '[]') as Array<{
      status: number;
      limited: string | null;
      retryAfter: string | null;
      body: string;
    }>;
    t.diagnostic(`statuses: ${answers.map((a) => a.status).join(' ')}`);
    const ok = answers.filter((a) => a.status === 200);
    const limited = answers.filter((a) => a.status === 429);
    assert.ok(ok.length >= 2 && ok.length <= 3, JSON.stringify(answers));
    assert.equal(ok.length + limited.length, 6, JSON.stringify(answers));
    for (const answer of limited) {
      assert.equal(answer.limited, 'true');
      assert.match(answer.retryAfter ?? '', /^\d+$/);
    }
    for (const answer of ok) assert.equal(answer.limited, null, 'the app answered these');
    const metrics = await scrape('http-limited');
    assert.equal(
      sampleSum(metrics, 'outrigger_requests_total', { response_flags: 'RL' }),
      limited.length,
      'each 429 is a request with flag RL',
    );
  });

  it('a pod whose policy ConfigMap is missing waits in ContainerCreating, and starts once it exists', async () => {
    await apply(ns, appPod({ name: 'late', annotations: { [POLICY]: 'late-policy' } }));
    await waitUntil('a FailedMount event for the policy volume', 90_000, async () => {
      const events = await kubectl([
        '-n',
        ns,
        'get',
        'events',
        '--field-selector',
        'involvedObject.name=late,reason=FailedMount',
        '-o',
        'json',
      ]);
      const items = (
        JSON.parse(events.stdout || '{"items":[]}') as { items: Array<{ message: string }> }
      ).items;
      return items.some((e) =>
        /outrigger-policy.*configmap "late-policy" not found/.test(e.message),
      );
    });
    const waiting = await getPod(ns, 'late');
    assert.equal(waiting.status.phase, 'Pending');
    assert.equal(
      waiting.status.initContainerStatuses?.some((s) => 'running' in s.state),
      false,
      'no container started without the policy',
    );
    await apply(ns, policyConfigMap('late-policy', 'outbound: {mode: allowAny}\n'));
    await waitForReady(ns, 'late', 180_000);
  });

  it('an edit of the ConfigMap reaches the running proxy: the newly allowed destination passes', async () => {
    await apply(
      ns,
      policyConfigMap(
        'block-all',
        `outbound:\n  mode: blockAll\n  allow:\n    - {cidr: "${ip.allowed}/32", ports: [${TESTAPP_PORT}]}\n    - {cidr: "${ip.other}/32"}\n`,
      ),
    );
    // The kubelet projects the change on its sync (up to about a minute), the
    // proxy within its 2 s poll after that. Bounded: 40 tries, 3 s apart.
    let outcome = '';
    for (let i = 0; i < 40 && outcome !== 'served'; i++) {
      if (i > 0) await sleep(3000);
      [outcome = ''] = outcomes(
        await connectFromPod(ns, 'blocked', ip.other ?? '', TESTAPP_PORT, { count: 1 }),
      );
    }
    assert.equal(outcome, 'served', 'the edited policy allows the other server');
    const metrics = await scrape('blocked');
    assert.match(metrics, /^outrigger_policy_generation [1-9]\d*$/m);
    assert.ok(sampleSum(metrics, 'outrigger_policy_reloads_total', { result: 'applied' }) >= 1);
    const pod = await getPod(ns, 'blocked');
    const proxy = pod.status.initContainerStatuses?.find((s) => s.name === 'outrigger-proxy');
    assert.equal(proxy?.restartCount, 0, 'reloaded in place, not restarted');
  });
});
