// Telemetry through a real proxy on loopback: Istio-shaped request and TCP
// metrics with the pod's workload labels, response flags for what went wrong
// upstream or downstream (the 503 an HTTP client gets when the upstream
// cannot be reached), the destination_service bound, and access-log lines in
// both formats.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ProxyConfig } from '../../proxy/src/config.ts';
import type { RunningProxy } from '../../proxy/src/proxy.ts';
import { ProxyStats } from '../../proxy/src/stats/proxy-stats.ts';
import { RequestRecord } from '../../proxy/src/stats/request-record.ts';
import {
  closeServer,
  listenHttp,
  listenTcp,
  rawExchange,
  startTestProxy,
} from './support/harness.ts';

const POD: ProxyConfig['pod'] = {
  name: 'web-7d9f-abcde',
  namespace: 'shop',
  ip: '192.0.2.10',
  nodeName: '',
  serviceAccount: '',
  workload: 'web',
  app: 'web-app',
  version: 'v2',
};

/** The samples of one metric, as label maps with their value. */
async function samples(
  proxy: RunningProxy,
  name: string,
): Promise<Array<{ labels: Record<string, string>; value: number }>> {
  const text = await proxy.stats.registry.metrics();
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labels: Record<string, string> = {};
    for (const m of line.slice(name.length + 1, line.lastIndexOf('}')).matchAll(/(\w+)="([^"]*)"/g))
      labels[m[1]!] = m[2]!;
    out.push({ labels, value: Number(line.slice(line.lastIndexOf(' ') + 1)) });
  }
  return out;
}

function sum(
  rows: Array<{ labels: Record<string, string>; value: number }>,
  match: Record<string, string>,
): number {
  return rows
    .filter((r) => Object.entries(match).every(([k, v]) => r.labels[k] === v))
    .reduce((a, r) => a + r.value, 0);
}

async function until<T>(probe: () => T | Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = await listenTcp(() => {});
  const { port } = server;
  await closeServer(server);
  return port;
}

/** Connects, writes `bytes` after `delayMs`, and reports how the connection ended. */
async function exchange(
  port: number,
  bytes: string | undefined,
  delayMs = 0,
): Promise<{ reply: string; error: string | undefined }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  const chunks: Buffer[] = [];
  let error: string | undefined;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', (e: NodeJS.ErrnoException) => {
    error = e.code;
  });
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await new Promise((resolve) => socket.once('connect', resolve));
  if (bytes !== undefined) {
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    if (!socket.destroyed) socket.write(bytes);
  }
  await closed;
  return { reply: Buffer.concat(chunks).toString('latin1'), error };
}

describe('request and TCP metrics', () => {
  let app: Awaited<ReturnType<typeof listenHttp>>;
  let proxy: RunningProxy;
  before(async () => {
    app = await listenHttp((req, res) => {
      req.resume();
      req.on('end', () => res.end('hello'));
    });
    proxy = await startTestProxy({ port: app.port }, { pod: POD });
  });
  after(async () => {
    await proxy.close();
    await closeServer(app);
  });

  test("carry Istio's labels: reporter, the pod's workload, the peer unknown, service from Host", async () => {
    await rawExchange(
      proxy.ports.outbound,
      'GET /a/b?secret=1 HTTP/1.1\r\nHost: Orders.Shop.svc.cluster.local.:8080\r\nConnection: close\r\n\r\n',
    );
    await rawExchange(
      proxy.ports.inbound,
      'POST /x HTTP/1.1\r\nHost: web\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc',
    );
    const requests = await until(
      () => samples(proxy, 'outrigger_requests_total'),
      (rows) => rows.length >= 2,
    );
    assert.deepEqual(
      requests.map((r) => r.labels),
      [
        {
          reporter: 'source',
          source_workload: 'web',
          source_workload_namespace: 'shop',
          source_app: 'web-app',
          source_version: 'v2',
          destination_workload: 'unknown',
          destination_workload_namespace: 'unknown',
          destination_app: 'unknown',
          destination_version: 'unknown',
          destination_service: 'orders.shop.svc.cluster.local',
          request_protocol: 'http',
          response_code: '200',
          response_flags: '-',
          route: '-',
        },
        {
          reporter: 'destination',
          source_workload: 'unknown',
          source_workload_namespace: 'unknown',
          source_app: 'unknown',
          source_version: 'unknown',
          destination_workload: 'web',
          destination_workload_namespace: 'shop',
          destination_app: 'web-app',
          destination_version: 'v2',
          destination_service: 'web',
          request_protocol: 'http',
          response_code: '200',
          response_flags: '-',
          route: '-',
        },
      ],
    );
    const text = await proxy.stats.registry.metrics();
    assert.doesNotMatch(text, /secret|\/a\/b/, 'no path in any label');
    const count = await samples(proxy, 'outrigger_request_duration_seconds_count');
    assert.equal(sum(count, { reporter: 'destination' }), 1);
    const durationSum = await samples(proxy, 'outrigger_request_duration_seconds_sum');
    assert.ok(sum(durationSum, {}) < 5, 'durations are in seconds');
    const requestBytes = await samples(proxy, 'outrigger_request_bytes_sum');
    assert.ok(sum(requestBytes, { reporter: 'destination' }) > 3);
  });

  test('TCP connections and bytes are counted per reporter with the same workload labels', async () => {
    const opened = await until(
      () => samples(proxy, 'outrigger_tcp_connections_closed_total'),
      (rows) => sum(rows, {}) >= 2,
    );
    assert.equal(
      sum(opened, { reporter: 'source', source_workload: 'web', response_flags: '-' }),
      1,
    );
    const received = await samples(proxy, 'outrigger_tcp_received_bytes_total');
    const sent = await samples(proxy, 'outrigger_tcp_sent_bytes_total');
    assert.ok(sum(received, { reporter: 'destination', destination_workload: 'web' }) > 60);
    assert.ok(sum(sent, { reporter: 'destination', destination_app: 'web-app' }) > 60);
    const openedTotal = await samples(proxy, 'outrigger_tcp_connections_opened_total');
    assert.equal(sum(openedTotal, { destination_version: 'v2' }), 1);
  });
});

test("the proxy's runtime is measured with prom-client's default collectors", async () => {
  const proxy = await startTestProxy({ port: 1 });
  try {
    const text = await proxy.stats.registry.metrics();
    for (const name of [
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_gc_duration_seconds',
    ])
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
  } finally {
    await proxy.close();
  }
});

describe('destination_service cardinality', () => {
  test('is bounded: the first N hosts, then "other"; ports, case and paths never add values', () => {
    const stats = new ProxyStats({ maxServices: 3 });
    const record = (authority: string, path = '/') => {
      const r = new RequestRecord('outbound', 'GET', authority, path, 0, 'c', 'u');
      r.status = 200;
      stats.recordRequest(r);
    };
    for (let i = 0; i < 50; i++) record(`host-${i}.example:${8000 + i}`, `/user/${i}`);
    record('HOST-0.example');
    record('');
    record('bad host!');
    record('x'.repeat(300));
    record('[2001:db8::1]:80');
    return stats.registry.metrics().then((text) => {
      const services = new Set(
        [...text.matchAll(/outrigger_requests_total\{[^}]*destination_service="([^"]*)"/g)].map(
          (m) => m[1],
        ),
      );
      assert.deepEqual(
        [...services].sort(),
        ['host-0.example', 'host-1.example', 'host-2.example', 'other', 'unknown'].sort(),
      );
      assert.match(text, /destination_service="host-0.example"[^}]*\} 2/);
      assert.doesNotMatch(text, /\/user\//);
    });
  });
});

describe('response flags', { timeout: 20_000 }, () => {
  test('refused upstream: an HTTP client gets a 503 flagged UF, even when it writes after the refusal', async () => {
    const proxy = await startTestProxy({ port: await closedPort() }, { pod: POD });
    try {
      const early = await exchange(proxy.ports.outbound, 'GET /now HTTP/1.1\r\nHost: a\r\n\r\n');
      assert.match(early.reply, /^HTTP\/1\.1 503 /);
      const late = await exchange(
        proxy.ports.outbound,
        'GET /late HTTP/1.1\r\nHost: a\r\n\r\n',
        30,
      );
      assert.match(late.reply, /^HTTP\/1\.1 503 /, 'the request came after the refusal');
      const records = await until(
        () => proxy.stats.recentRequests.toArray(),
        (r) => r.length >= 2,
      );
      assert.deepEqual(
        records.map((r) => [r.path, r.status, r.responseFlags]),
        [
          ['/now', 503, 'UF'],
          ['/late', 503, 'UF'],
        ],
      );
      const requests = await samples(proxy, 'outrigger_requests_total');
      assert.equal(sum(requests, { response_code: '503', response_flags: 'UF' }), 2);
    } finally {
      await proxy.close();
    }
  });

  test('refused upstream: opaque and silent clients are reset and counted as TCP connections with UF', async () => {
    const proxy = await startTestProxy({ port: await closedPort() }, { pod: POD });
    try {
      const opaque = await exchange(proxy.ports.outbound, '\x16\x03\x01binary');
      assert.equal(opaque.reply, '');
      assert.equal(opaque.error, 'ECONNRESET');
      const started = Date.now();
      const silent = await exchange(proxy.ports.outbound, undefined);
      assert.equal(silent.error, 'ECONNRESET');
      assert.ok(Date.now() - started < 2000, 'reset soon, not at a timeout');
      const closed = await until(
        () => samples(proxy, 'outrigger_tcp_connections_closed_total'),
        (rows) => sum(rows, { response_flags: 'UF' }) >= 2,
      );
      assert.equal(sum(closed, { reporter: 'source', response_flags: 'UF' }), 2);
      assert.equal(proxy.stats.recentRequests.toArray().length, 0, 'no request recorded');
    } finally {
      await proxy.close();
    }
  });

  test('timed-out upstream connect: a 503 flagged UF', async (t) => {
    // A listener whose accept queue is full never completes a new handshake.
    const full = await fullBacklog().catch(() => undefined);
    if (full === undefined) {
      t.skip('python3 is needed for a listener that never accepts');
      return;
    }
    const proxy = await startTestProxy({ port: full.port }, { pod: POD, connectTimeoutMs: 300 });
    try {
      const reply = await exchange(proxy.ports.outbound, 'GET /slow HTTP/1.1\r\nHost: a\r\n\r\n');
      assert.match(reply.reply, /^HTTP\/1\.1 503 /);
      const [record] = await until(
        () => proxy.stats.recentRequests.toArray(),
        (r) => r.length >= 1,
      );
      assert.deepEqual([record?.status, record?.responseFlags], [503, 'UF']);
      const failures = await samples(proxy, 'outrigger_upstream_connect_failures_total');
      assert.equal(sum(failures, { reason: 'connect_timeout' }), 1);
    } finally {
      await proxy.close();
      full.stop();
    }
  });

  test('an upstream that resets before answering gives a 503 flagged UR; mid-response, the record says UR', async () => {
    const upstream = await listenTcp((socket) => {
      socket.once('data', (chunk: Buffer) => {
        if (chunk.includes('/partial'))
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst', () =>
            setTimeout(() => socket.resetAndDestroy(), 20),
          );
        else socket.resetAndDestroy();
      });
    });
    const proxy = await startTestProxy({ port: upstream.port }, { pod: POD });
    try {
      const before = await exchange(proxy.ports.inbound, 'GET /reset HTTP/1.1\r\nHost: a\r\n\r\n');
      assert.match(before.reply, /^HTTP\/1\.1 503 /);
      await exchange(proxy.ports.inbound, 'GET /partial HTTP/1.1\r\nHost: a\r\n\r\n');
      const records = await until(
        () => proxy.stats.recentRequests.toArray(),
        (r) => r.length >= 2,
      );
      assert.deepEqual(
        records.map((r) => [r.path, r.status, r.responseFlags]),
        [
          ['/reset', 503, 'UR'],
          ['/partial', 200, 'UR'],
        ],
      );
    } finally {
      await proxy.close();
      await closeServer(upstream);
    }
  });

  test('an upstream that closes unanswered is UC, a client that leaves first is DC, a silent upstream UT', async () => {
    const upstream = await listenTcp((socket) => {
      socket.once('data', (chunk: Buffer) => {
        if (chunk.includes('/close')) socket.end();
        // /wait and /hang: never answered
      });
      socket.on('end', () => socket.end());
      socket.on('error', () => {});
    });
    const proxy = await startTestProxy({ port: upstream.port }, { pod: POD, idleTimeoutMs: 400 });
    try {
      const closed = await exchange(proxy.ports.outbound, 'GET /close HTTP/1.1\r\nHost: a\r\n\r\n');
      assert.match(closed.reply, /^HTTP\/1\.1 503 /);
      const leaving = net.connect({ port: proxy.ports.outbound, host: '127.0.0.1' });
      leaving.on('error', () => {});
      await once(leaving, 'connect');
      leaving.write('GET /wait HTTP/1.1\r\nHost: a\r\n\r\n');
      await new Promise((r) => setTimeout(r, 50));
      leaving.destroy();
      await exchange(proxy.ports.outbound, 'GET /hang HTTP/1.1\r\nHost: a\r\n\r\n');
      const records = await until(
        () => proxy.stats.recentRequests.toArray(),
        (r) => r.length >= 3,
      );
      assert.deepEqual(records.map((r) => [r.path, r.status, r.responseFlags]).sort(), [
        ['/close', 503, 'UC'],
        ['/hang', 0, 'UT'],
        // The upstream closed after the client's FIN: the client left first
        // (one that only half-closed still reads the 503).
        ['/wait', 503, 'DC'],
      ]);
    } finally {
      await proxy.close();
      await closeServer(upstream);
    }
  });
});

describe('access log', { timeout: 20_000 }, () => {
  for (const format of ['json', 'text'] as const) {
    test(`${format}: HTTP exchanges and opaque connections, with flags, user agent and request id`, async () => {
      const app = await listenHttp((req, res) => {
        req.resume();
        res.end('hello');
      });
      const echo = await listenTcp((socket) => socket.pipe(socket));
      const lines: string[] = [];
      const proxy = await startTestProxy(
        { port: app.port },
        { pod: POD, accessLog: true, accessLogFormat: format },
        (line) => lines.push(line),
      );
      const refusing = await startTestProxy(
        { port: await closedPort() },
        { pod: POD, accessLog: true, accessLogFormat: format },
        (line) => lines.push(line),
      );
      const tcp = await startTestProxy(
        { port: echo.port },
        { pod: POD, accessLog: true, accessLogFormat: format },
        (line) => lines.push(line),
      );
      try {
        await rawExchange(
          proxy.ports.inbound,
          'GET /items?id=7 HTTP/1.1\r\nHost: web:80\r\nUser-Agent: curl/8.5.0\r\nX-Request-Id: 4bf92f35\r\nConnection: close\r\n\r\n',
        );
        await exchange(refusing.ports.outbound, 'GET /down HTTP/1.0\r\nHost: db\r\n\r\n');
        await rawExchange(tcp.ports.outbound, 'ping\x00');
        await until(
          () => lines.length,
          (n) => n >= 3,
        );
        assert.equal(lines.length, 3, lines.join('\n'));
        if (format === 'json') {
          const [ok, down, opaque] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
          assert.deepEqual(
            [ok!.direction, ok!.method, ok!.path, ok!.protocol, ok!.status, ok!.responseFlags],
            ['inbound', 'GET', '/items?id=7', 'HTTP/1.1', 200, '-'],
          );
          assert.equal(ok!.userAgent, 'curl/8.5.0');
          assert.equal(ok!.requestId, '4bf92f35');
          assert.equal(ok!.upstream, `127.0.0.1:${app.port}`);
          for (const key of ['requestBytes', 'responseBytes', 'durationMs'])
            assert.equal(typeof ok![key], 'number', key);
          assert.deepEqual(
            [down!.path, down!.protocol, down!.status, down!.responseFlags, down!.userAgent],
            ['/down', 'HTTP/1.0', 503, 'UF', undefined],
          );
          assert.deepEqual(
            [opaque!.protocol, opaque!.requestBytes, opaque!.responseBytes, opaque!.responseFlags],
            ['tcp', 5, 5, '-'],
          );
          assert.equal(opaque!.method, undefined);
        } else {
          assert.match(
            lines[0]!,
            new RegExp(
              `^\\[\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\] "GET /items\\?id=7 HTTP/1\\.1" 200 - \\d+ \\d+ \\d+ - "-" "curl/8\\.5\\.0" "4bf92f35" "web:80" "127\\.0\\.0\\.1:${app.port}" inbound$`,
            ),
          );
          assert.match(lines[1]!, /"GET \/down HTTP\/1\.0" 503 UF \d+ \d+ \d+ - "-" "-" "-" "db" /);
          assert.match(
            lines[2]!,
            /^\[[^\]]+\] "- - -" 0 - 5 5 \d+ - "-" "-" "-" "-" "127\.0\.0\.1:\d+" outbound$/,
          );
        }
      } finally {
        await Promise.all([proxy.close(), refusing.close(), tcp.close()]);
        await closeServer(app);
        await closeServer(echo);
      }
    });
  }
});

/** A listener (python3) with a backlog of one, filled, that never accepts: connects time out. */
async function fullBacklog(): Promise<{ port: number; stop: () => void }> {
  const child: ChildProcess = spawn(
    'python3',
    [
      '-c',
      'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nc=[socket.create_connection(s.getsockname()) for _ in range(2)]\ntime.sleep(60)',
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const [line] = (await Promise.race([
    once(child.stdout!, 'data'),
    once(child, 'error').then(([e]) => Promise.reject(e)),
  ])) as [Buffer];
  await new Promise((r) => setTimeout(r, 200));
  return { port: Number(line.toString().trim()), stop: () => child.kill() };
}
