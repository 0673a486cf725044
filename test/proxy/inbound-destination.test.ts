// Inbound connections are delivered to the address they were sent to (the pod
// IP), never to loopback: on real namespaces with the init container's rules
// and the proxy as uid 1337, an app bound to 127.0.0.1 stays unreachable from
// outside the pod, exactly as without a sidecar, while apps bound to the pod
// IP or to every address are reached at the address the client used.
//
//   client 192.0.2.20 ──veth── 192.0.2.10 [pod] 198.51.100.10 ──veth── 198.51.100.20 remote
//          2001:db8:5::20       2001:db8:5::10
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import { PodTopology } from '../support/netns.ts';
import { requirePrerequisites } from '../support/prerequisites.ts';
import { NODE, PROXY_MAIN } from './support/harness.ts';
import { AS_PROXY_USER, call, ECHO_APP, installCapture, startIn } from './support/pod-processes.ts';

const POD_IP = '192.0.2.10';
const POD_IP6 = '2001:db8:5::10';
/** Not the pod's: a neighbour routes it through the pod to try the proxy as a relay. */
const FOREIGN_IP = '203.0.113.99';
const network = new PodTopology({
  prefix: `orp5-${process.pid}`,
  veths: { client: 'ic0', remote: 'ir0' },
  addresses: {
    pod: { eth0: [`${POD_IP}/24`, `${POD_IP6}/64`], eth1: ['198.51.100.10/24'] },
    client: { ic0: ['192.0.2.20/24', '2001:db8:5::20/64'] },
    remote: { ir0: ['198.51.100.20/24'] },
  },
  routes: [{ in: 'client', to: `${FOREIGN_IP}/32`, via: POD_IP }],
});

const LOOPBACK_ONLY = 9001;
const POD_IP_ONLY = 9002;
const ALL_ADDRESSES = 9003;

test('inbound goes to the original destination, so loopback-only listeners stay private', async (t) => {
  if (!requirePrerequisites(t, 'root', 'iptables', 'ip')) return;
  const children: ChildProcess[] = [];
  try {
    network.create();
    for (const [port, host] of [
      [LOOPBACK_ONLY, '127.0.0.1'],
      [POD_IP_ONLY, POD_IP],
      [ALL_ADDRESSES, '::'],
    ] as const) {
      children.push(
        await startIn(network, 'pod', [NODE, ECHO_APP, String(port), host], /listening/),
      );
    }
    installCapture(network);
    children.push(
      await startIn(network, 'pod', [...AS_PROXY_USER, NODE, PROXY_MAIN], /"msg":"ready"/, {
        OUTRIGGER_POD_IP: POD_IP,
      }),
    );

    await t.test('an app bound to 127.0.0.1 is not reachable from the client', () => {
      const reply = call(network, 'client', 'GET', `http://${POD_IP}:${LOOPBACK_ONLY}/get`);
      assert.ok(reply.error !== undefined || reply.status === 503, JSON.stringify(reply));
      assert.doesNotMatch(reply.body ?? '', /"local"/);
    });

    await t.test('an app bound to the pod IP is reached at the pod IP', () => {
      const reply = call(network, 'client', 'GET', `http://${POD_IP}:${POD_IP_ONLY}/get`);
      assert.equal(reply.status, 200, JSON.stringify(reply));
      assert.equal(JSON.parse(reply.body!).local, `${POD_IP}:${POD_IP_ONLY}`);
    });

    await t.test('an app bound to every address is reached at the address the client used', () => {
      const v4 = call(network, 'client', 'GET', `http://${POD_IP}:${ALL_ADDRESSES}/get`);
      assert.equal(v4.status, 200, JSON.stringify(v4));
      assert.match(JSON.parse(v4.body!).local, /^(::ffff:)?192\.0\.2\.10:9003$/);
      const v6 = call(network, 'client', 'GET', `http://[${POD_IP6}]:${ALL_ADDRESSES}/get`);
      assert.equal(v6.status, 200, JSON.stringify(v6));
      assert.equal(JSON.parse(v6.body!).local, `${POD_IP6}:${ALL_ADDRESSES}`);
    });

    await t.test('inside the pod the loopback-only app still answers on loopback', () => {
      const reply = call(network, 'pod', 'GET', `http://127.0.0.1:${LOOPBACK_ONLY}/get`);
      assert.equal(reply.status, 200, JSON.stringify(reply));
    });

    await t.test('a foreign address routed through the pod is refused, not relayed', () => {
      const reply = call(network, 'client', 'GET', `http://${FOREIGN_IP}:${ALL_ADDRESSES}/get`);
      assert.ok(reply.error, JSON.stringify(reply));
      const metrics = call(network, 'pod', 'GET', 'http://127.0.0.1:15090/stats/prometheus');
      assert.match(
        metrics.body!,
        /outrigger_upstream_connect_failures_total\{direction="inbound",reason="not_pod_address"\} 1/,
      );
    });
  } finally {
    for (const child of children) child.kill('SIGKILL');
    network.remove();
  }
});
