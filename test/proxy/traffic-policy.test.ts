// The connection-level traffic policy on real network namespaces, with the
// init container's rules and the proxy as uid 1337 reading its policy from a
// ConfigMap-style volume:
//
//   client 192.0.2.20 ──veth── 192.0.2.10 [pod] 198.51.100.10 ──veth── remote 198.51.100.20
//                                                                              198.51.100.21
//
// In the pod: the probe (policy-probe.ts), whose outbound connections are
// captured, and the proxy. On the remote, at both addresses: echo, HTTP, TLS,
// a server that speaks first, and a bulk sender (policy-peers.ts). The
// walkthrough's Block All and Allow All, the TCP token bucket (2 at once,
// then 1 per second), and a hot reload through the kubelet's `..data` swap
// under a 50 MiB transfer.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { HOST_PEEK_WAIT_MS } from '../../proxy/src/policy/host-peek.ts';
import { POLICY_CONFIGMAP_KEY } from '../../src/shared/policy/parse.ts';
import { PodTopology } from '../support/netns.ts';
import { requirePrerequisites } from '../support/prerequisites.ts';
import { ConfigMapVolume } from './support/configmap-volume.ts';
import { NODE, PROXY_MAIN } from './support/harness.ts';
import { AS_PROXY_USER, call, installCapture, startIn } from './support/pod-processes.ts';

const PEERS = path.join(import.meta.dirname, 'support/policy-peers.ts');
const PROBE = path.join(import.meta.dirname, 'support/policy-probe.ts');
const POD_IP = '192.0.2.10';
const ALLOWED = '198.51.100.20';
const OTHER = '198.51.100.21';
const network = new PodTopology({
  prefix: `orpl4-${process.pid}`,
  veths: { client: 'lc0', remote: 'lr0' },
  addresses: {
    pod: { eth0: [`${POD_IP}/24`], eth1: ['198.51.100.10/24'] },
    client: { lc0: ['192.0.2.20/24'] },
    remote: { lr0: [`${ALLOWED}/24`, `${OTHER}/24`] },
  },
});

const HEAD = 'apiVersion: outrigger.dev/v1alpha1\nkind: TrafficPolicy\n';
const WALKTHROUGH = `${HEAD}outbound:
  mode: blockAll
  allow:
    - {cidr: ${ALLOWED}/32, ports: [7000, 7100, 9000]}
    - {host: api.example.com}
    - {host: "*.tls.example", ports: [8443]}
    - {host: smtp.example.com, ports: [2525]}
listeners:
  - port: 7100
    direction: outbound
    connectionRateLimit: {maxTokens: 2, tokensPerFill: 1, fillInterval: 1s}
`;
/** After the reload: only the other address's echo. */
const NARROWED = `${HEAD}outbound: {mode: blockAll, allow: [{cidr: ${OTHER}/32, ports: [7000]}]}\n`;
const BAD = `${HEAD}outbound: {mode: blockEverything}\nlisteners: [{port: 99999, direction: outbound}]\n`;
const ALLOW_ANY = `${HEAD}outbound: {mode: allowAny}\n`;

interface Outcome {
  outcome: 'data' | 'reset' | 'closed' | 'timeout' | 'error';
  data?: string;
  ms: number;
}

/** Commands to the probe in the pod, one JSON line each way. */
class Probe {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, (result: unknown) => void>();
  #next = 0;

  constructor(child: ChildProcess) {
    this.#child = child;
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.startsWith('{')) {
          const { id, result } = JSON.parse(line) as { id: number; result: unknown };
          this.#waiting.get(id)?.(result);
          this.#waiting.delete(id);
        }
        newline = buffered.indexOf('\n');
      }
    });
  }

  ask<T>(command: Record<string, string | number>): Promise<T> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`probe: no answer to ${JSON.stringify(command)}`)),
        90_000,
      );
      this.#waiting.set(id, (result) => {
        clearTimeout(timer);
        resolve(result as T);
      });
      this.#child.stdin!.write(`${JSON.stringify({ id, ...command })}\n`);
    });
  }

  tcp(host: string, port: number, send?: string): Promise<Outcome> {
    return this.ask({ op: 'tcp', host, port, ...(send === undefined ? {} : { send }) });
  }
}

function metrics(): string {
  return call(network, 'pod', 'GET', 'http://127.0.0.1:15090/stats/prometheus').body ?? '';
}

function counter(text: string, pattern: RegExp): number {
  const line = text.split('\n').find((l) => !l.startsWith('#') && pattern.test(l));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

async function until(
  what: string,
  predicate: () => boolean,
  context: () => string = () => '',
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}\n${context()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const BLOCKED =
  /outrigger_upstream_connect_failures_total\{direction="outbound",reason="policy_blocked"\}/;
const RATE_LIMITED =
  /outrigger_upstream_connect_failures_total\{direction="outbound",reason="rate_limited"\}/;

test('Block All, Allow All, the TCP bucket and a hot reload, through the real capture', async (t) => {
  if (!requirePrerequisites(t, 'root', 'iptables', 'ip')) return;
  const children: ChildProcess[] = [];
  const volume = new ConfigMapVolume({ [POLICY_CONFIGMAP_KEY]: WALKTHROUGH });
  // The proxy runs as uid 1337: it must be able to read and watch the volume.
  chmodSync(volume.dir, 0o755);
  try {
    network.create();
    const peers = await startIn(
      network,
      'remote',
      [NODE, PEERS, ALLOWED, OTHER],
      /peers listening/,
    );
    children.push(peers);
    installCapture(network);
    const proxy = await startIn(
      network,
      'pod',
      [...AS_PROXY_USER, NODE, PROXY_MAIN],
      /"msg":"ready"/,
      {
        OUTRIGGER_POD_IP: POD_IP,
        OUTRIGGER_POLICY_FILE: volume.path(POLICY_CONFIGMAP_KEY),
        OUTRIGGER_ACCESS_LOG: 'true',
        OUTRIGGER_ACCESS_LOG_FORMAT: 'text',
      },
    );
    children.push(proxy);
    const probeProcess = await startIn(network, 'pod', [NODE, PROBE], /probe ready/);
    children.push(probeProcess);
    const probe = new Probe(probeProcess);
    assert.match(proxy.output(), /"msg":"traffic policy loaded".*"generation":0/);

    await t.test('Block All resets a connection to a destination no entry allows', async () => {
      // The host-only entry could allow any destination, so the proxy reads
      // the first bytes ("hello": neither HTTP nor TLS) before refusing.
      const outcome = await probe.tcp(OTHER, 7000, 'hello');
      assert.equal(outcome.outcome, 'reset', JSON.stringify(outcome));
      assert.equal(counter(metrics(), BLOCKED), 1);
      assert.match(
        metrics(),
        /outrigger_tcp_connections_closed_total\{[^}]*reporter="source"[^}]*response_flags="NR"\} 1/,
      );
      await until(
        'the access-log line and the warning',
        () =>
          /"- - -" 0 NR 5 0 0 - "-" "-" "-" "-" "198\.51\.100\.21:7000" outbound/.test(
            proxy.output(),
          ) &&
          /does not allow \(Block All\)".*"destination":"198\.51\.100\.21:7000"/.test(
            proxy.output(),
          ),
        proxy.output,
      );
    });

    await t.test(
      'a destination whose cidr and port are allowed passes, bytes unchanged',
      async () => {
        const outcome = await probe.tcp(ALLOWED, 7000, 'hello through');
        assert.deepEqual([outcome.outcome, outcome.data], ['data', 'hello through']);
      },
    );

    await t.test(
      'an HTTP request is allowed by its Host, anywhere; other hosts are reset',
      async () => {
        const allowed = await probe.ask<Outcome>({
          op: 'http',
          host: OTHER,
          port: 8080,
          hostHeader: 'API.example.com:8080',
        });
        assert.equal(allowed.outcome, 'data', JSON.stringify(allowed));
        assert.match(allowed.data!, /^HTTP\/1\.1 200 OK\r\n[\s\S]*hello API\.example\.com:8080\n$/);
        // A request whose FIN comes with it: the bytes and the FIN both go on.
        const halfClosed = await probe.ask<Outcome>({
          op: 'http',
          host: OTHER,
          port: 8080,
          hostHeader: 'api.example.com',
          halfClose: 1,
        });
        assert.match(
          halfClosed.data ?? '',
          /hello api\.example\.com\n$/,
          JSON.stringify(halfClosed),
        );
        const refused = await probe.ask<Outcome>({
          op: 'http',
          host: OTHER,
          port: 8080,
          hostHeader: 'other.example.com',
        });
        assert.equal(refused.outcome, 'reset', JSON.stringify(refused));
      },
    );

    await t.test(
      'TLS is allowed by the SNI of its ClientHello; the handshake passes intact',
      async () => {
        const allowed = await probe.ask<Outcome>({
          op: 'tls',
          host: OTHER,
          port: 8443,
          servername: 'shop.tls.example',
        });
        assert.deepEqual(
          [allowed.outcome, allowed.data],
          ['data', 'ping'],
          JSON.stringify(allowed),
        );
        const refused = await probe.ask<Outcome>({
          op: 'tls',
          host: OTHER,
          port: 8443,
          servername: 'shop.evil.example',
        });
        assert.equal(refused.outcome, 'reset', JSON.stringify(refused));
      },
    );

    await t.test(
      'a server that speaks first to a host-only entry is reset after the bounded wait',
      async () => {
        const outcome = await probe.tcp(ALLOWED, 2525);
        assert.equal(outcome.outcome, 'reset', JSON.stringify(outcome));
        assert.equal(outcome.data, undefined, 'the greeting never reached the app');
        // The wait itself is the behaviour; the upper bound only catches a hang.
        assert.ok(outcome.ms >= HOST_PEEK_WAIT_MS - 50 && outcome.ms < 10_000, `${outcome.ms} ms`);
      },
    );

    await t.test(
      'the TCP bucket admits 2 connections at once, then about 1 per second',
      async () => {
        const refusedBefore = counter(metrics(), RATE_LIMITED);
        const burst = await probe.ask<Outcome[]>({
          op: 'burst',
          host: ALLOWED,
          port: 7100,
          count: 5,
        });
        const burstAdmitted = burst.filter((o) => o.outcome === 'data').length;
        assert.ok(
          burst.every((o) => o.outcome === 'data' || o.outcome === 'reset'),
          JSON.stringify(burst),
        );
        // 3 only if the burst straddles a refill tick.
        assert.ok(burstAdmitted === 2 || burstAdmitted === 3, JSON.stringify(burst));
        const attempts = await probe.ask<Array<{ atMs: number; outcome: string }>>({
          op: 'series',
          host: ALLOWED,
          port: 7100,
          everyMs: 100,
          durationMs: 3000,
        });
        const admitted = attempts.filter((a) => a.outcome === 'data');
        // Over 3 s a 1 s grid has 3 or 4 ticks; a token that comes in the last
        // 100 ms may find no attempt left. The series is bounded in count and time.
        assert.ok(admitted.length >= 2 && admitted.length <= 4, JSON.stringify(attempts));
        assert.ok(attempts.length >= 10, `${attempts.length} attempts`);
        const refused = burst.length + attempts.length - burstAdmitted - admitted.length;
        assert.equal(counter(metrics(), RATE_LIMITED) - refusedBefore, refused);
        assert.match(metrics(), /response_flags="RL"\}/);
        assert.match(proxy.output(), /over its listener's connection rate limit".*"port":7100/);
      },
    );

    await t.test(
      'a reload applies to new connections while a 50 MiB transfer completes intact',
      async () => {
        const bytes = 50 * 1024 * 1024;
        const started = await probe.ask<{ started?: number; error?: string }>({
          op: 'bulkStart',
          host: ALLOWED,
          port: 9000,
          bytes,
        });
        assert.ok(started.started, JSON.stringify(started));
        volume.update({ [POLICY_CONFIGMAP_KEY]: NARROWED });
        await until('generation 1', () =>
          /"msg":"traffic policy applied".*"generation":1/.test(proxy.output()),
        );
        assert.equal((await probe.tcp(ALLOWED, 7000, 'x')).outcome, 'reset', 'no longer allowed');
        assert.equal((await probe.tcp(OTHER, 7000, 'y')).data, 'y', 'now allowed');
        const finished = await probe.ask<{ bytes: number; sha256?: string; error?: string }>({
          op: 'bulkFinish',
        });
        assert.equal(finished.bytes, bytes, JSON.stringify(finished));
        await until('the sender reported', () => /"bulk":/.test(peers.output()));
        const sent = JSON.parse(
          peers
            .output()
            .split('\n')
            .find((l) => l.includes('"bulk"'))!,
        ).bulk;
        assert.deepEqual(finished, { bytes, sha256: sent.sha256 });
      },
    );

    await t.test(
      'a bad document is rejected, counted and logged; the previous policy stays',
      async () => {
        volume.update({ [POLICY_CONFIGMAP_KEY]: BAD });
        await until('the rejection', () =>
          /"msg":"traffic policy rejected: keeping the last good one"/.test(proxy.output()),
        );
        const warning = proxy
          .output()
          .split('\n')
          .find((l) => l.includes('traffic policy rejected'))!;
        assert.match(warning, /"generation":1/);
        assert.match(warning, /\/outbound\/mode/);
        assert.match(warning, /\/listeners\/0\/port/);
        const text = metrics();
        assert.equal(counter(text, /outrigger_policy_reloads_total\{result="rejected"\}/), 1);
        assert.equal(counter(text, /outrigger_policy_reloads_total\{result="applied"\}/), 1);
        assert.equal(counter(text, /outrigger_policy_last_reload_successful/), 0);
        assert.equal(counter(text, /outrigger_policy_generation/), 1);
        assert.equal((await probe.tcp(ALLOWED, 7000, 'x')).outcome, 'reset');
        assert.equal((await probe.tcp(OTHER, 7000, 'y')).data, 'y');
      },
    );

    await t.test(
      'Allow All passes what Block All refused, to its original destination',
      async () => {
        volume.update({ [POLICY_CONFIGMAP_KEY]: ALLOW_ANY });
        await until('generation 2', () =>
          /"msg":"traffic policy applied".*"generation":2/.test(proxy.output()),
        );
        assert.equal((await probe.tcp(ALLOWED, 7000, 'a')).data, 'a');
        assert.equal((await probe.tcp(OTHER, 7000, 'b')).data, 'b');
        const greeting = await probe.tcp(ALLOWED, 2525);
        assert.equal(greeting.data, '220 smtp.example.com ready\r\n', JSON.stringify(greeting));
        const http = await probe.ask<Outcome>({
          op: 'http',
          host: OTHER,
          port: 8080,
          hostHeader: 'anything.example',
        });
        assert.match(http.data ?? '', /hello anything\.example/);
        // Without buckets either, nothing is enforced at all: 5 at once all pass.
        const burst = await probe.ask<Outcome[]>({
          op: 'burst',
          host: ALLOWED,
          port: 7100,
          count: 5,
        });
        assert.ok(
          burst.every((o) => o.outcome === 'data'),
          JSON.stringify(burst),
        );
      },
    );
  } finally {
    for (const child of children) child.kill('SIGKILL');
    network.remove();
    volume.remove();
  }
});
