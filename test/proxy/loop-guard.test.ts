// The loop guard does not depend on the uid: a proxy the capture rules do not
// exempt (run as root by mistake) sees each of its upstream connections come
// back through 15001, recognises them as its own and refuses them. One
// outbound request then costs two connects, not thousands, is counted and is
// logged; and a proxy told the exempted uid refuses to start under another.
//
//   client 192.0.2.20 ──veth── 192.0.2.10 [pod] 198.51.100.10 ──veth── 198.51.100.20 remote
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { OwnUpstreams } from '../../proxy/src/listeners/own-upstreams.ts';
import { PodTopology } from '../support/netns.ts';
import { requirePrerequisites } from '../support/prerequisites.ts';
import {
  closeServer,
  EPHEMERAL_FLAGS,
  listenTcp,
  NODE,
  openFds,
  PROXY_MAIN,
} from './support/harness.ts';
import { call, ECHO_APP, installCapture, startIn } from './support/pod-processes.ts';

const REMOTE_IP = '198.51.100.20';
const network = new PodTopology({
  prefix: `orp6-${process.pid}`,
  veths: { client: 'lc0', remote: 'lr0' },
  addresses: {
    pod: { eth0: ['192.0.2.10/24'], eth1: ['198.51.100.10/24'] },
    client: { lc0: ['192.0.2.20/24'] },
    remote: { lr0: [`${REMOTE_IP}/24`] },
  },
});

interface Stats {
  totals: { connectionsOpened: number; loopsRefused: number };
}

test('a proxy the rules do not exempt refuses its own captured connections', async (t) => {
  if (!requirePrerequisites(t, 'root', 'iptables', 'ip')) return;
  const children: Awaited<ReturnType<typeof startIn>>[] = [];
  try {
    network.create();
    children.push(await startIn(network, 'remote', [NODE, ECHO_APP, '80', '::'], /listening/));
    installCapture(network);
    // As root, and not told which uid is exempted: nothing stops it starting.
    const proxy = await startIn(network, 'pod', [NODE, PROXY_MAIN], /"msg":"ready"/);
    children.push(proxy);
    const REQUESTS = 3;

    for (let i = 0; i < REQUESTS; i++) {
      // The pod's own outbound call (as root, so captured to 15001).
      const reply = call(network, 'pod', 'GET', `http://${REMOTE_IP}/get`);
      assert.ok(reply.error !== undefined || reply.status === 503, JSON.stringify(reply));
    }

    const stats = JSON.parse(
      call(network, 'pod', 'GET', 'http://127.0.0.1:15000/stats').body!,
    ) as Stats;
    t.diagnostic(`${REQUESTS} requests: ${JSON.stringify(stats.totals)}`);
    // Each request: the app's connection, and its upstream once more, refused
    // (a refused connection is counted as opened and closed, with its flag).
    assert.equal(stats.totals.connectionsOpened, 2 * REQUESTS);
    assert.equal(stats.totals.loopsRefused, REQUESTS);
    const metrics = call(network, 'pod', 'GET', 'http://127.0.0.1:15090/stats/prometheus').body!;
    assert.match(
      metrics,
      new RegExp(
        `outrigger_upstream_connect_failures_total\\{direction="outbound",reason="loop_refused"\\} ${REQUESTS}`,
      ),
    );
    assert.ok(openFds(proxy.pid!) < 64, `${openFds(proxy.pid!)} open fds`);
    // Logged once, not once per loop (rate-limited). The calls above block this
    // process, so give its event loop a moment to read the proxy's stderr.
    for (let i = 0; i < 50 && !proxy.output().includes("proxy's own upstream"); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const warnings = proxy
      .output()
      .split('\n')
      .filter((l) => l.includes("proxy's own upstream"));
    assert.equal(warnings.length, 1, proxy.output());
    assert.match(warnings[0]!, /"uid":0/);
  } finally {
    for (const child of children) child.kill('SIGKILL');
    network.remove();
  }
});

test('told the exempted uid, the proxy refuses to start under another, saying why', (t) => {
  if (process.getuid?.() === 1337) {
    t.skip('runs as uid 1337 itself');
    return;
  }
  const run = spawnSync(NODE, [PROXY_MAIN, ...EPHEMERAL_FLAGS], {
    env: { PATH: process.env.PATH, OUTRIGGER_PROXY_UID: '1337' },
    encoding: 'utf8',
    timeout: 15_000,
  });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /runs as uid \d+, but the capture rules exempt uid 1337/);
  assert.match(run.stderr, /OUTRIGGER_PROXY_UID/);
});

test("an upstream is recognised by its whole 4-tuple, not by a local port an app's connection may share", async () => {
  const server = await listenTcp((socket) => socket.destroy());
  const upstream = net.connect({ port: server.port, host: '127.0.0.1' });
  upstream.on('error', () => {});
  try {
    const own = new OwnUpstreams();
    const record = { upstream, target: `127.0.0.1 ${server.port}`, ownEndpoint: undefined };
    own.opened(record);
    await once(upstream, 'connect');
    const { localAddress, localPort } = upstream;
    assert.ok(own.isOwn(localAddress, localPort, `127.0.0.1 ${server.port}`));
    assert.ok(own.isOwn(`::ffff:${localAddress}`, localPort, `127.0.0.1 ${server.port}`));
    // The kernel lets another connection use the same local port towards elsewhere.
    assert.ok(!own.isOwn(localAddress, localPort, '198.51.100.20 80'));
    own.closed(record);
    assert.ok(!own.isOwn(localAddress, localPort, `127.0.0.1 ${server.port}`));
  } finally {
    upstream.destroy();
    await closeServer(server);
  }
});
