// The L7 path (issue 14) on real namespaces: the init container's rules
// capture inbound traffic, the proxy runs as uid 1337 with a policy file laid
// out as a ConfigMap volume, and the policy declares the app's port 8080
// `protocol: http`. Backends v1 and v2 run in the remote namespace; clients
// are real node:http clients and raw sockets in the client namespace.
//
//   client 192.0.2.20 ──veth── 192.0.2.10 [pod] 198.51.100.10 ──veth── 198.51.100.20 remote
//                               app :8080 (original destination)           v1 :9001, v2 :9002
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { test } from 'node:test';
import { PodTopology } from '../support/netns.ts';
import { holdNetnsLock } from '../support/netns-lock.ts';
import { requirePrerequisites } from '../support/prerequisites.ts';
import { ConfigMapVolume } from './support/configmap-volume.ts';
import { NODE, PROXY_MAIN } from './support/harness.ts';
import type { Answer } from './support/l7-client.ts';
import { AS_PROXY_USER, call, ECHO_APP, installCapture, startIn } from './support/pod-processes.ts';

const POD_IP = '192.0.2.10';
const REMOTE_IP = '198.51.100.20';
const APP_PORT = 8080;
const V1 = `${REMOTE_IP}:9001`;
const V2 = `${REMOTE_IP}:9002`;
/** Nothing listens there: the upstream refuses. */
const REFUSING = `${REMOTE_IP}:9009`;
const L7_CLIENT = new URL('./support/l7-client.ts', import.meta.url).pathname;
const APP_URL = `http://${POD_IP}:${APP_PORT}`;

const network = new PodTopology({
  prefix: `orl7-${process.pid}`,
  veths: { client: 'lc0', remote: 'lr0' },
  addresses: {
    pod: { eth0: [`${POD_IP}/24`], eth1: ['198.51.100.10/24'] },
    client: { lc0: ['192.0.2.20/24'] },
    remote: { lr0: [`${REMOTE_IP}/24`] },
  },
});

/** The walkthrough's scenarios as routes of the inbound listener on the app port. */
function policy(defaultBackend: string): string {
  return `apiVersion: outrigger.dev/v1alpha1
kind: TrafficPolicy
listeners:
  - port: ${APP_PORT}
    direction: inbound
    protocol: http
    routes:
      - name: v2
        match: {headers: [{name: version, exact: v2}]}
        to: [{address: "${V2}"}]
      - name: split
        match: {path: {prefix: /split}}
        to: [{address: "${V1}", weight: 5}, {address: "${V2}", weight: 5}]
      - name: limited
        match: {path: {prefix: /limited}}
        rateLimit: {maxTokens: 2, tokensPerFill: 1, fillInterval: 1m}
      - name: abort
        match: {path: {prefix: /abort}}
        to: [{address: "${V1}"}]
        fault: {abort: {httpStatus: 418, percentage: 50}}
      - name: delay
        match: {path: {prefix: /delay}}
        fault: {delay: {fixedDelay: 300ms, percentage: 100}}
      - name: myage
        match: {path: {prefix: /myage}}
        responseHeaders: {add: [{name: myage, value: "18"}]}
      - name: refused
        match: {path: {prefix: /refused}}
        to: [{address: "${REFUSING}"}]
      - name: app
        match: {path: {prefix: /app}}
      - name: default
        to: [{address: "${defaultBackend}"}]
`;
}

interface RawResult {
  received: string;
  ended: 'fin' | 'reset' | 'open';
  timedOutWaitingFor?: string;
}

function client<T>(scenario: Record<string, unknown>): T {
  const out = network.exec('client', NODE, [L7_CLIENT, JSON.stringify(scenario)]);
  const result = JSON.parse(out) as T & { error?: string };
  assert.equal(result.error, undefined, `client failed: ${result.error}`);
  return result;
}

function requests(list: { path: string; headers?: Record<string, string> }[], repeat = 1) {
  return client<Answer[]>({ kind: 'requests', url: APP_URL, requests: list, repeat });
}

function raw(steps: ({ send: string } | { waitFor: string })[], endWithinMs?: number): RawResult {
  return client<RawResult>({ kind: 'raw', host: POD_IP, port: APP_PORT, steps, endWithinMs });
}

interface StatsRecord {
  path: string;
  status: number;
  route?: string;
  responseFlags: string;
  upstream: string;
}

function recentRequests(): StatsRecord[] {
  const stats = call(network, 'pod', 'GET', 'http://127.0.0.1:15000/stats');
  return (JSON.parse(stats.body!) as { recentRequests: StatsRecord[] }).recentRequests;
}

/** Bodies of the responses in a raw exchange, in order (each a JSON document from the echo app). */
function echoedBackends(text: string): string[] {
  return [...text.matchAll(/"local":"([^"]+)"/g)].map((m) => m[1]!);
}

test('the L7 path routes, splits, limits, rewrites and injects faults per request', async (t) => {
  if (!requirePrerequisites(t, 'root', 'iptables', 'ip')) return;
  const release = await holdNetnsLock();
  const children: ChildProcess[] = [];
  const volume = new ConfigMapVolume({ 'policy.yaml': policy(V1) });
  chmodSync(volume.dir, 0o755); // the proxy reads it as uid 1337
  try {
    network.create();
    for (const port of [9001, 9002]) {
      children.push(
        await startIn(network, 'remote', [NODE, ECHO_APP, String(port), REMOTE_IP], /listening/),
      );
    }
    children.push(
      await startIn(network, 'pod', [NODE, ECHO_APP, String(APP_PORT), POD_IP], /listening/),
    );
    installCapture(network);
    children.push(
      await startIn(
        network,
        'pod',
        [...AS_PROXY_USER, NODE, PROXY_MAIN, '--policy-file', volume.path('policy.yaml')],
        /"msg":"ready"/,
        { OUTRIGGER_POD_IP: POD_IP },
      ),
    );

    await t.test('version: v2 reaches v2, everything else v1', () => {
      const answers = requests([
        { path: '/get', headers: { version: 'v2' } },
        { path: '/get' },
        { path: '/get', headers: { version: 'v3' } },
      ]);
      assert.deepEqual(
        answers.map((a) => [a.status, a.backend]),
        [
          [200, V2],
          [200, V1],
          [200, V1],
        ],
      );
    });

    await t.test('requests on one keep-alive connection each go to their own upstream', () => {
      const answers = requests([
        { path: '/get', headers: { version: 'v2' } },
        { path: '/get' },
        { path: '/app/get' },
        { path: '/get', headers: { version: 'v2' } },
      ]);
      assert.deepEqual(
        answers.map((a) => a.backend),
        [V2, V1, `${POD_IP}:${APP_PORT}`, V2],
      );
      assert.equal(new Set(answers.map((a) => a.port)).size, 1, 'one client connection');
    });

    await t.test('a 5/5 split over 2,000 requests lands within ±5 % of half', () => {
      const result = client<{ counts: Record<string, number>; connections: number }>({
        kind: 'requests',
        url: APP_URL,
        requests: [{ path: '/split' }],
        repeat: 2000,
        summary: true,
      });
      const v1 = result.counts[`200 ${V1}`] ?? 0;
      const v2 = result.counts[`200 ${V2}`] ?? 0;
      assert.equal(v1 + v2, 2000, JSON.stringify(result.counts));
      assert.ok(Math.abs(v1 - 1000) <= 50, `v1 got ${v1} of 2000`);
    });

    await t.test('the HTTP bucket answers 429 with x-local-rate-limit and retry-after', () => {
      const answers = requests([{ path: '/limited' }], 5);
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200, 429, 429, 429],
      );
      const limited = answers[2]!;
      assert.equal(limited.headers['x-local-rate-limit'], 'true');
      const retryAfter = Number(limited.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `retry-after ${retryAfter}`);
      assert.equal(new Set(answers.map((a) => a.port)).size, 1, 'the connection stays open');
      assert.ok(recentRequests().some((r) => r.route === 'limited' && r.responseFlags === 'RL'));
    });

    await t.test('a response header myage: 18 is added', () => {
      const [answer] = requests([{ path: '/myage/get' }]);
      assert.equal(answer?.status, 200);
      assert.equal(answer?.headers.myage, '18');
      const [other] = requests([{ path: '/get' }]);
      assert.equal(other?.headers.myage, undefined, 'only on its route');
    });

    await t.test('a 50 % abort answers the configured status for about half the requests', () => {
      const result = client<{ counts: Record<string, number> }>({
        kind: 'requests',
        url: APP_URL,
        requests: [{ path: '/abort' }],
        repeat: 400,
        summary: true,
      });
      const aborted = result.counts['418 -'] ?? 0;
      const passed = result.counts[`200 ${V1}`] ?? 0;
      assert.equal(aborted + passed, 400, JSON.stringify(result.counts));
      // Binomial(400, 0.5): sd 10, so 140..260 is six standard deviations either way.
      assert.ok(aborted >= 140 && aborted <= 260, `${aborted} of 400 aborted`);
      assert.ok(recentRequests().some((r) => r.route === 'abort' && r.responseFlags === 'FI'));
    });

    await t.test('a delay adds at least the configured time', () => {
      const [quick] = requests([{ path: '/app/get' }]);
      const [delayed] = requests([{ path: '/delay/get' }]);
      assert.equal(delayed?.status, 200);
      assert.ok(delayed!.ms >= 300, `delayed request took ${delayed!.ms} ms`);
      assert.ok(quick!.ms < delayed!.ms);
      assert.ok(recentRequests().some((r) => r.route === 'delay' && r.responseFlags === 'DI'));
    });

    await t.test('a refusing backend gives 503 UF, and the connection goes on', () => {
      const answers = requests([{ path: '/refused' }, { path: '/get' }]);
      assert.deepEqual(
        answers.map((a) => [a.status, a.backend]),
        [
          [503, undefined],
          [200, V1],
        ],
      );
      assert.equal(answers[0]!.port, answers[1]!.port);
      const record = recentRequests().find((r) => r.route === 'refused');
      assert.deepEqual(
        [record?.status, record?.responseFlags, record?.upstream],
        [503, 'UF', REFUSING],
      );
    });

    await t.test('a streaming upload arrives whole', () => {
      const result = client<{ status: number; body: string; sentSha256: string }>({
        kind: 'upload',
        url: `${APP_URL}/upload`,
        bytes: 16 * 1024 * 1024,
      });
      assert.equal(result.status, 200);
      const body = JSON.parse(result.body) as { bytes: number; sha256: string };
      assert.deepEqual([body.bytes, body.sha256], [16 * 1024 * 1024, result.sentSha256]);
    });

    for (const mode of ['length', 'chunked']) {
      await t.test(`a streaming download arrives whole (${mode})`, () => {
        const size = 16 * 1024 * 1024;
        const result = client<{ status: number; bytes: number; wrongBytes: number }>({
          kind: 'download',
          url: `${APP_URL}/download?size=${size}&pattern=1&mode=${mode}`,
          pattern: true,
        });
        assert.deepEqual([result.status, result.bytes, result.wrongBytes], [200, size, 0]);
      });
    }

    await t.test('Expect: 100-continue: the 100 comes first, then the body goes', () => {
      const result = raw([
        {
          send: 'POST /post HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n',
        },
        { waitFor: '^HTTP/1.1 100 Continue\r\n\r\n' },
        { send: 'hello' },
        { waitFor: '"body":"hello"' },
      ]);
      assert.equal(result.timedOutWaitingFor, undefined, JSON.stringify(result));
    });

    await t.test('an upgrade: after the 101 the bytes are spliced both ways', () => {
      const result = raw([
        {
          send: 'GET /echo HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n',
        },
        { waitFor: '^HTTP/1.1 101 ' },
        { send: 'not http at all\r\n' },
        { waitFor: '\r\n\r\nnot http at all\r\n$' },
      ]);
      assert.equal(result.timedOutWaitingFor, undefined, JSON.stringify(result));
    });

    await t.test('pipelined requests are answered in order, each by its own route', () => {
      const get = (headers: string) => `GET /get HTTP/1.1\r\nHost: app\r\n${headers}\r\n`;
      const result = raw(
        [{ send: get('version: v2\r\n') + get('') + get('version: v2\r\nConnection: close\r\n') }],
        5000,
      );
      assert.equal(result.ended, 'fin');
      assert.equal(result.received.match(/HTTP\/1\.1 200 /g)?.length, 3, result.received);
      assert.deepEqual(echoedBackends(result.received), [V2, V1, V2]);
    });

    await t.test(
      'a request head over the cap is refused with 431 and the connection closed',
      () => {
        const result = raw(
          [{ send: `GET /get HTTP/1.1\r\nHost: app\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n` }],
          5000,
        );
        assert.match(result.received, /^HTTP\/1\.1 431 /);
        assert.notEqual(result.ended, 'open');
      },
    );

    await t.test('requests carry the route in the metrics, bounded by the policy', () => {
      const metrics = call(network, 'pod', 'GET', 'http://127.0.0.1:15090/stats/prometheus');
      assert.match(
        metrics.body!,
        /outrigger_requests_total\{[^}]*response_code="429"[^}]*route="limited"\} 3/,
      );
      const routes = new Set([...metrics.body!.matchAll(/route="([^"]+)"/g)].map((m) => m[1]));
      for (const route of routes) {
        assert.ok(
          [
            'v2',
            'split',
            'limited',
            'abort',
            'delay',
            'myage',
            'refused',
            'app',
            'default',
            '-',
          ].includes(route!),
          `route label ${route}`,
        );
      }
    });

    await t.test(
      'a policy change routes new requests while a long download on an open connection completes',
      async () => {
        const size = 64 * 1024 * 1024;
        const download = await startIn(
          network,
          'client',
          [
            NODE,
            L7_CLIENT,
            JSON.stringify({
              kind: 'download',
              url: `${APP_URL}/download?size=${size}&pattern=1`,
              pattern: true,
              pauseMs: 5000,
            }),
          ],
          /started/,
        );
        const finished = new Promise<string>((resolve) =>
          download.once('exit', () => resolve(download.output())),
        );
        volume.update({ 'policy.yaml': policy(V2) });
        // The loader notices within its poll interval (2 s); new requests then go to v2.
        let backend: string | undefined;
        for (let i = 0; i < 40 && backend !== V2; i++) {
          backend = requests([{ path: '/get' }])[0]?.backend;
          if (backend !== V2) await new Promise((r) => setTimeout(r, 250));
        }
        assert.equal(backend, V2, 'new requests follow the new policy');
        const output = await finished;
        const result = JSON.parse(output.trim().split('\n').pop()!) as {
          status: number;
          bytes: number;
          wrongBytes: number;
        };
        assert.deepEqual([result.status, result.bytes, result.wrongBytes], [200, size, 0]);
        const record = recentRequests().find((r) => r.path.startsWith('/download?size=67108864'));
        assert.equal(record?.upstream, V1, 'the download stayed on the upstream it started on');
      },
    );
  } finally {
    for (const child of children) child.kill('SIGKILL');
    network.remove();
    volume.remove();
    release();
  }
});
