// The proxy as a real process under abuse: many short connections leave no
// file descriptors or memory behind, a client that never reads cannot make it
// buffer without bound, dead upstreams are answered at once, garbage passes
// through and is counted, and SIGTERM lets in-flight requests finish.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { echoAppHandler } from './support/echo-app.ts';
import {
  closeServer,
  EPHEMERAL_FLAGS,
  getJson,
  listenHttp,
  listenTcp,
  openFds,
  type ProxyProcess,
  rawExchange,
  rssKiB,
  withProxyProcess,
} from './support/harness.ts';

interface Totals {
  requests: number;
  parseErrors: number;
  upstreamConnectFailures: number;
  activeConnections: number;
  connectionsClosed: number;
}

let app: Awaited<ReturnType<typeof listenHttp>>;

before(async () => {
  app = await listenHttp(echoAppHandler());
});
after(async () => {
  await closeServer(app);
});

function withProxy(
  target: number,
  extra: string[],
  run: (p: ProxyProcess) => Promise<void>,
): Promise<void> {
  return withProxyProcess(
    [...EPHEMERAL_FLAGS, `--fixed-destination=127.0.0.1:${target}`, ...extra],
    run,
  );
}

const totals = async (p: ProxyProcess) =>
  (await getJson<{ totals: Totals }>(`http://127.0.0.1:${p.ports.admin}/stats`)).totals;

/** One short HTTP exchange on its own connection. */
function shortRequest(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', reject);
    socket.on('connect', () =>
      socket.end('GET /get HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    );
    socket.resume();
    socket.on('close', () => resolve());
  });
}

async function manyConnections(port: number, total: number, concurrency = 50): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      await shortRequest(port);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function settle(p: ProxyProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await totals(p)).activeConnections > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 300));
}

describe('resources', () => {
  test('10,000 connections opened and closed leave no descriptors behind and RSS settles', async () => {
    await withProxy(app.port, [], async (p) => {
      const pid = p.child.pid!;
      await manyConnections(p.ports.inbound, 3_000); // warm up: JIT, heap, pools
      await settle(p);
      const fdsBefore = openFds(pid);
      const rssBefore = rssKiB(pid);
      await manyConnections(p.ports.inbound, 10_000);
      await settle(p);
      const fdsAfter = openFds(pid);
      const rssAfter = rssKiB(pid);
      const t = await totals(p);
      assert.equal(t.requests, 13_000);
      assert.equal(t.activeConnections, 0);
      assert.ok(fdsAfter <= fdsBefore, `open fds ${fdsBefore} → ${fdsAfter}`);
      assert.ok(rssAfter <= rssBefore * 1.1, `RSS ${rssBefore} KiB → ${rssAfter} KiB`);
    });
  });

  test('a client that never reads cannot make the proxy buffer without bound', async () => {
    await withProxy(app.port, [], async (p) => {
      const pid = p.child.pid!;
      const rssBefore = rssKiB(pid);
      const client = net.connect({ port: p.ports.inbound, host: '127.0.0.1' });
      await once(client, 'connect');
      client.pause(); // never read
      client.write('GET /download?id=never-read&size=1073741824 HTTP/1.1\r\nHost: x\r\n\r\n');
      // Let the app push until every buffer on the way is full.
      let peak = 0;
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 100));
        peak = Math.max(peak, rssKiB(pid));
      }
      client.destroy();
      assert.ok(
        peak - rssBefore < 48 * 1024,
        `RSS grew ${rssBefore} → ${peak} KiB while 1 GiB waited`,
      );
    });
  });
});

describe('failures', () => {
  test('a refused upstream resets a silent client and answers an HTTP client with 503', async () => {
    const closed = await listenTcp(() => {});
    const port = closed.port;
    await closeServer(closed); // nothing listens there now
    await withProxy(port, ['--connect-timeout-ms=60000'], async (p) => {
      const silent = net.connect({ port: p.ports.outbound, host: '127.0.0.1' });
      const [err] = (await once(silent, 'error')) as [NodeJS.ErrnoException];
      assert.equal(err.code, 'ECONNRESET'); // a reset, long before the 60 s connect timeout
      const t = await totals(p);
      assert.equal(t.upstreamConnectFailures, 1);
    });
  });

  test('an upstream that drops the request unanswered gives the client a 503', async () => {
    const dropper = await listenTcp((socket) => {
      socket.once('data', () => socket.resetAndDestroy());
    });
    try {
      await withProxy(dropper.port, [], async (p) => {
        const reply = await rawExchange(
          p.ports.inbound,
          'GET /lost HTTP/1.1\r\nHost: x\r\n\r\n',
          false,
        );
        assert.match(reply.toString(), /^HTTP\/1\.1 503 /);
        const stats = await getJson<{ recentRequests: { path: string; status: number }[] }>(
          `http://127.0.0.1:${p.ports.admin}/stats`,
        );
        assert.deepEqual(
          stats.recentRequests.map((r) => [r.path, r.status]),
          [['/lost', 503]],
        );
      });
    } finally {
      await closeServer(dropper);
    }
  });

  test('garbage bytes pass through untouched and are counted as a parse error', async () => {
    const echo = await listenTcp((socket) => socket.pipe(socket));
    try {
      await withProxy(echo.port, ['--add-request-headers=X-Extra: 1'], async (p) => {
        const garbage = Buffer.concat([
          Buffer.from('GARBAGE \x00\xff\r\n\r\n', 'latin1'),
          Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) & 0xff)),
        ]);
        const echoed = await rawExchange(p.ports.outbound, garbage);
        assert.ok(echoed.equals(garbage));
        assert.equal((await totals(p)).parseErrors, 1);
        const metrics = await (
          await fetch(`http://127.0.0.1:${p.ports.prometheus}/stats/prometheus`)
        ).text();
        assert.match(metrics, /outrigger_http_parse_errors_total\{direction="outbound"\} 1/);
      });
    } finally {
      await closeServer(echo);
    }
  });
});

describe('timeouts', () => {
  test('an idle connection is closed after the idle timeout and recorded as such', async () => {
    const echo = await listenTcp((socket) => {
      socket.on('error', () => {});
      socket.pipe(socket);
    });
    try {
      await withProxy(echo.port, ['--idle-timeout-ms=300'], async (p) => {
        const client = net.connect({ port: p.ports.outbound, host: '127.0.0.1' });
        client.on('error', () => {});
        await once(client, 'connect');
        client.write('ping');
        await once(client, 'data');
        // Nothing more is sent: the proxy must cut the connection (a reset).
        await new Promise((resolve) => client.on('close', resolve));
        const stats = await getJson<{ recentConnections: { closeReason: string }[] }>(
          `http://127.0.0.1:${p.ports.admin}/stats`,
        );
        assert.deepEqual(
          stats.recentConnections.map((c) => c.closeReason),
          ['idle_timeout'],
        );
      });
    } finally {
      await closeServer(echo);
    }
  });
});

describe('lifecycle', () => {
  test('SIGTERM during load: requests in flight finish, new ones are refused, exit 0', async () => {
    await withProxy(app.port, ['--drain-timeout-ms=10000'], async (p) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
      const get = (path: string) =>
        new Promise<{ status: number; body: string; connection: string | undefined }>(
          (resolve, reject) => {
            http
              .get({ host: '127.0.0.1', port: p.ports.inbound, path, agent }, (res) => {
                let body = '';
                res.setEncoding('utf8');
                res.on('data', (c: string) => {
                  body += c;
                });
                res.on('end', () =>
                  resolve({ status: res.statusCode!, body, connection: res.headers.connection }),
                );
                res.on('error', reject);
              })
              .on('error', reject);
          },
        );
      // Warm keep-alive connections, then 20 slow requests in flight.
      await Promise.all(Array.from({ length: 20 }, () => get('/get')));
      const inFlight = Array.from({ length: 20 }, (_, i) => get(`/slow?ms=700&i=${i}`));
      await new Promise((r) => setTimeout(r, 200));
      p.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      const health = await fetch(`http://127.0.0.1:${p.ports.health}/healthz/ready`).catch(
        () => undefined,
      );
      assert.ok(health === undefined || health.status === 503, 'not ready while draining');
      const refused = net.connect({ port: p.ports.inbound, host: '127.0.0.1' });
      const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
      assert.equal(err.code, 'ECONNREFUSED');
      const results = await Promise.all(inFlight);
      for (const r of results) {
        assert.equal(r.status, 200);
        assert.equal(r.body, 'slow done\n');
        assert.match(r.connection ?? '', /close/, 'draining asks keep-alive clients to go');
      }
      assert.equal(await p.exited, 0);
      agent.destroy();
    });
  });
});
