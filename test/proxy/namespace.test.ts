// The classic sidecar demo on real network namespaces, with the init
// container's own rules (src/iptables/main.ts) and the proxy as uid 1337:
//
//   client 192.0.2.20 ──veth── 192.0.2.10 [pod] 198.51.100.10 ──veth── 198.51.100.20 remote
//          2001:db8:1::20       2001:db8:1::10
//
// In the pod: the app (echo-app on port 80) and outrigger-proxy. Inbound calls
// to the pod's port 80 are redirected to 15006 and must reach the app through
// the proxy; the app's own outbound calls are redirected to 15001 and must
// reach the remote's real address with the configured request headers.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { PodTopology, type PodTopologyRole } from '../support/netns.ts';
import { requirePrerequisites } from '../support/prerequisites.ts';
import { NODE, PROXY_MAIN } from './support/harness.ts';
import {
  AS_PROXY_USER,
  call as callIn,
  ECHO_APP,
  installCapture,
  type Reply,
  startIn as startInNetwork,
} from './support/pod-processes.ts';

const KEEPALIVE_CALL = path.join(import.meta.dirname, 'support/keepalive-call.ts');
const POD_IP = '192.0.2.10';
const POD_IP6 = '2001:db8:1::10';
const REMOTE_IP = '198.51.100.20';
const POD_NAME = 'demo-7f9c4';
const network = new PodTopology({
  prefix: `orp4-${process.pid}`,
  veths: { client: 'pc0', remote: 'pr0' },
  addresses: {
    pod: { eth0: [`${POD_IP}/24`, `${POD_IP6}/64`], eth1: ['198.51.100.10/24'] },
    client: { pc0: ['192.0.2.20/24', '2001:db8:1::20/64'] },
    remote: { pr0: [`${REMOTE_IP}/24`] },
  },
});

// What the injector hands the proxy for an app with three probes; port 81 is
// captured (every port is) but nothing listens there.
const APP_PROBES = {
  '/app-health/app/readyz': {
    httpGet: { path: '/get?probe=ready', port: 80, scheme: 'HTTP' },
    timeoutSeconds: 2,
  },
  '/app-health/app/livez': {
    httpGet: { path: '/status/500', port: 80, scheme: 'HTTP' },
    timeoutSeconds: 2,
  },
  '/app-health/app/startupz': { tcpSocket: { port: 81 }, timeoutSeconds: 2 },
};
interface Echo {
  args: Record<string, string>;
  headers: Record<string, string>;
  body: string;
  local: string;
  peer: string;
}
interface StatsRecord {
  direction: string;
  method: string;
  authority: string;
  path: string;
  status: number;
  requestBodyBytes: number;
  responseBodyBytes: number;
  requestBytes: number;
  responseBytes: number;
  durationMs: number;
  timeToFirstByteMs: number;
}

function totalRequests(): number {
  const stats = JSON.parse(call('pod', 'GET', 'http://127.0.0.1:15000/stats').body!) as {
    totals: { requests: number };
  };
  return stats.totals.requests;
}

function call(from: PodTopologyRole, method: string, url: string, body?: string): Reply {
  return callIn(network, from, method, url, body);
}

function startIn(
  role: PodTopologyRole,
  command: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
): Promise<ChildProcess> {
  return startInNetwork(network, role, command, ready, env);
}

test('the sidecar demo: inbound to the app and outbound from it, through outrigger-proxy', async (t) => {
  if (!requirePrerequisites(t, 'root', 'iptables', 'ip')) return;
  const children: ChildProcess[] = [];
  try {
    network.create();
    children.push(await startIn('pod', [NODE, ECHO_APP, '80', '::'], /listening/));
    children.push(await startIn('remote', [NODE, ECHO_APP, '80', '::'], /listening/));
    installCapture(network);
    children.push(
      await startIn('pod', [...AS_PROXY_USER, NODE, PROXY_MAIN], /"msg":"ready"/, {
        OUTRIGGER_POD_NAME: POD_NAME,
        OUTRIGGER_POD_NAMESPACE: 'demo',
        OUTRIGGER_POD_IP: POD_IP,
        OUTRIGGER_FORWARD_POD_IDENTITY: 'true',
        OUTRIGGER_ADD_REQUEST_HEADERS: 'X-Mesh: outrigger',
        OUTRIGGER_ADD_RESPONSE_HEADERS: 'Server: outrigger',
        OUTRIGGER_APP_PROBES: JSON.stringify(APP_PROBES),
        OUTRIGGER_LAYOUT: 'native',
        OUTRIGGER_DRAIN_TIMEOUT_MS: '3000',
      }),
    );

    await t.test('the health port answers ready from outside the pod', () => {
      assert.equal(call('client', 'GET', `http://${POD_IP}:15021/healthz/ready`).status, 200);
    });

    const body = 'hello through the sidecar';
    await t.test(
      'GET /get?query=param reaches the app through 15006 and carries the Server header',
      () => {
        const reply = call('client', 'GET', `http://${POD_IP}/get?query=param`);
        assert.equal(reply.status, 200, JSON.stringify(reply));
        assert.equal(reply.headers!.server, 'outrigger');
        const echo = JSON.parse(reply.body!) as Echo;
        assert.deepEqual(echo.args, { query: 'param' });
        // Delivered by the proxy to the pod IP it was sent to, never to loopback.
        assert.match(echo.local, /^(::ffff:)?192\.0\.2\.10:80$/);
      },
    );

    await t.test('POST /post with a body', () => {
      const reply = call('client', 'POST', `http://${POD_IP}/post`, body);
      assert.equal(reply.status, 200);
      assert.equal(reply.headers!.server, 'outrigger');
      assert.equal((JSON.parse(reply.body!) as Echo).body, body);
    });

    await t.test('GET /status/429 keeps the app status', () => {
      const reply = call('client', 'GET', `http://${POD_IP}/status/429`);
      assert.equal(reply.status, 429);
      assert.equal(reply.headers!.server, 'outrigger');
    });

    await t.test('IPv6: inbound reaches the app on the pod IPv6 address', () => {
      const reply = call('client', 'GET', `http://[${POD_IP6}]/get?v=6`);
      assert.equal(reply.status, 200, JSON.stringify(reply));
      assert.equal((JSON.parse(reply.body!) as Echo).local, `${POD_IP6}:80`);
    });

    await t.test(
      "the app's outbound call goes through 15001 to the right address with the configured headers",
      () => {
        const reply = call(
          'client',
          'GET',
          `http://${POD_IP}/fetch?url=${encodeURIComponent(`http://${REMOTE_IP}/get?from=app`)}`,
        );
        assert.equal(reply.status, 200, JSON.stringify(reply));
        const remote = JSON.parse(reply.body!) as Echo;
        assert.match(
          remote.local,
          new RegExp(`^(::ffff:)?${REMOTE_IP.replaceAll('.', '\\.')}:80$`),
        );
        assert.deepEqual(remote.args, { from: 'app' });
        assert.equal(remote.headers['x-forwarded-for'], POD_IP);
        assert.equal(remote.headers['x-client-hostname'], POD_NAME);
        assert.equal(remote.headers['x-mesh'], 'outrigger');
      },
    );

    await t.test("the kubelet's rewritten probes get the app's own answers", () => {
      const requestsBefore = totalRequests();
      const ready = call('client', 'GET', `http://${POD_IP}:15021/app-health/app/readyz`);
      assert.equal(ready.status, 200, JSON.stringify(ready));
      // The proxy checked the app on the pod IP, around the inbound capture.
      const echo = JSON.parse(ready.body!) as Echo;
      assert.deepEqual(echo.args, { probe: 'ready' });
      assert.match(echo.local, new RegExp(`^(::ffff:)?${POD_IP.replaceAll('.', '\\.')}:80$`));
      const live = call('client', 'GET', `http://${POD_IP}:15021/app-health/app/livez`);
      assert.equal(live.status, 500);
      // Port 81 is captured, so a plain connection there is accepted by the
      // proxy; the rewritten tcpSocket probe still fails, as it would without it.
      const startup = call('client', 'GET', `http://${POD_IP}:15021/app-health/app/startupz`);
      assert.equal(startup.status, 503, JSON.stringify(startup));
      assert.equal(totalRequests(), requestsBefore, 'probes are not counted as requests');
    });

    await t.test('a connection straight to the capture port is refused, not looped', () => {
      const reply = call('pod', 'GET', 'http://127.0.0.1:15006/get');
      assert.ok(reply.error, JSON.stringify(reply));
    });

    await t.test("the proxy's stats show each request's duration, sizes and status", () => {
      const stats = JSON.parse(call('pod', 'GET', 'http://127.0.0.1:15000/stats').body!) as {
        recentRequests: StatsRecord[];
        totals: { loopsRefused: number };
      };
      const find = (direction: string, p: string) => {
        const record = stats.recentRequests.find((r) => r.direction === direction && r.path === p);
        assert.ok(record, `${direction} ${p} in ${JSON.stringify(stats.recentRequests)}`);
        assert.ok(
          record.durationMs > 0 &&
            record.timeToFirstByteMs >= 0 &&
            record.timeToFirstByteMs <= record.durationMs,
        );
        assert.ok(record.requestBytes > 0 && record.responseBytes > record.responseBodyBytes);
        return record;
      };
      const get = find('inbound', '/get?query=param');
      assert.equal(get.status, 200);
      assert.equal(get.method, 'GET');
      assert.equal(get.authority, POD_IP);
      assert.equal(get.requestBodyBytes, 0);
      assert.ok(get.responseBodyBytes > 0);
      const post = find('inbound', '/post');
      assert.equal(post.status, 200);
      assert.equal(post.requestBodyBytes, Buffer.byteLength(body));
      assert.equal(find('inbound', '/status/429').status, 429);
      assert.equal(find('inbound', '/status/429').responseBodyBytes, 'status 429\n'.length);
      const outbound = find('outbound', '/get?from=app');
      assert.equal(outbound.status, 200);
      assert.equal(outbound.authority, REMOTE_IP);
      assert.ok(stats.totals.loopsRefused >= 1);
    });

    // Last: it stops the proxy.
    await t.test(
      'SIGTERM with a request in flight on a keep-alive connection through the capture: the response arrives whole, then a FIN, then the proxy exits 0',
      async () => {
        const proxy = children.at(-1)!;
        const exited = new Promise<number | null>((resolve) => proxy.once('exit', resolve));
        const client = spawn(
          'ip',
          [
            'netns',
            'exec',
            network.namespaces.client,
            NODE,
            KEEPALIVE_CALL,
            POD_IP,
            '80',
            '/get?first=1',
            '/slow?ms=800',
          ],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        let output = '';
        client.stdout.setEncoding('utf8');
        const inFlight = new Promise<void>((resolve) =>
          client.stdout.on('data', (c: string) => {
            output += c;
            if (output.includes('in-flight\n')) resolve();
          }),
        );
        const finished = new Promise<void>((resolve) => client.once('exit', () => resolve()));
        await inFlight;
        await new Promise((r) => setTimeout(r, 100));
        const signalled = Date.now();
        proxy.kill('SIGTERM');
        await finished;
        const result = JSON.parse(output.split('\n').find((l) => l.startsWith('{'))!) as {
          received: string;
          ended: string;
        };
        assert.equal(result.ended, 'fin', result.received);
        const responses = result.received.split(/(?=HTTP\/1\.1 )/);
        assert.equal(responses.length, 2, result.received);
        assert.match(responses[1]!, /^HTTP\/1\.1 200/);
        assert.match(responses[1]!, /\r\nConnection: close\r\n/i);
        assert.ok(responses[1]!.endsWith('slow done\n'), responses[1]);
        assert.equal(await exited, 0);
        assert.ok(Date.now() - signalled < 3000 + 1000, 'inside the drain budget');
      },
    );
  } finally {
    for (const child of children) child.kill('SIGKILL');
    network.remove();
  }
});
