// The L7 path's HTTP/1.1 edges on loopback, against raw upstreams that say
// exactly what a test needs: trailers, a body delimited by close, HEAD, 204
// and 304, Connection: close either way, hop-by-hop fields, header rewrites,
// the pod's identity, pooled upstream connections (and the request sent again
// when a reused one was closed under it), upstream failures and the access log.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { RunningProxy } from '../../proxy/src/proxy.ts';
import { parsePolicy } from '../../src/shared/policy/parse.ts';
import {
  closeServer,
  listenTcp,
  rawExchange,
  recordsAfter,
  startTestProxy,
} from './support/harness.ts';

/** A raw upstream: `answer` sees each request head (and the connection count) and writes bytes. */
interface RawUpstream {
  server: net.Server & { port: number };
  heads: string[];
  connections: number;
}

async function rawUpstream(
  answer: (head: string, socket: net.Socket, connection: number) => void,
): Promise<RawUpstream> {
  const state = { heads: [] as string[], connections: 0 };
  const server = await listenTcp((socket) => {
    const connection = ++state.connections;
    let buffered = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end + 4);
        buffered = buffered.slice(end + 4);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        buffered = buffered.slice(length); // bodies are not needed here
        state.heads.push(head);
        answer(head, socket, connection);
      }
    });
    socket.on('end', () => socket.end());
    socket.on('error', () => {});
  });
  return Object.assign(state, { server });
}

const ok = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

let upstream: RawUpstream;
let proxy: RunningProxy;
let accessLog: string[];

function usePolicy(routes: string, direction = 'inbound'): void {
  const parsed = parsePolicy(`apiVersion: outrigger.dev/v1alpha1
kind: TrafficPolicy
listeners:
  - port: ${upstream.server.port}
    direction: ${direction}
    protocol: http
${routes}`);
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  proxy.policy.replace(parsed.policy);
}

before(async () => {
  upstream = await rawUpstream((head, socket, connection) => {
    const path = /^\S+ (\S+)/.exec(head)![1]!;
    if (path === '/trailers') {
      socket.write(
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-sum\r\n\r\n5\r\nhello\r\n0\r\nx-sum: 42\r\n\r\n',
      );
    } else if (path === '/until-close') {
      socket.end('HTTP/1.1 200 OK\r\n\r\nall of it');
    } else if (path === '/no-content') {
      socket.write('HTTP/1.1 204 No Content\r\n\r\n');
    } else if (path === '/not-modified') {
      socket.write('HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n');
    } else if (path === '/upstream-close') {
      socket.end(ok('bye', 'connection: close\r\n'));
    } else if (path === '/reset-mid-body') {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial');
      setTimeout(() => socket.resetAndDestroy(), 20);
    } else if (path === '/close-before-answer') {
      socket.destroy();
    } else if (path === '/edit') {
      socket.write(ok('edited', 'x-powered-by: raw\r\n'));
    } else if (path === '/nominated') {
      socket.write(ok('n', 'connection: x-internal\r\nx-internal: 1\r\nx-public: 2\r\n'));
    } else if (path === '/hop') {
      socket.write(ok('hop', 'keep-alive: timeout=5\r\nconnection: keep-alive\r\n'));
    } else if (head.startsWith('HEAD')) {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n');
    } else {
      socket.write(ok(`${path} on ${connection}`));
    }
  });
  accessLog = [];
  proxy = await startTestProxy(
    { port: upstream.server.port },
    { accessLog: true, forwardPodIdentity: true, pod: podIdentity() },
    (line) => accessLog.push(line),
  );
});

after(async () => {
  await proxy.close();
  await closeServer(upstream.server);
});

function podIdentity() {
  return {
    name: 'web-7d9',
    namespace: 'shop',
    ip: '192.0.2.7',
    nodeName: '',
    serviceAccount: '',
    workload: 'web',
    app: 'web',
    version: 'v1',
  };
}

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: app\r\n${extra}\r\n`;

test('chunked bodies keep their trailers', async () => {
  usePolicy('    routes: [{name: all}]');
  const out = (await rawExchange(proxy.ports.inbound, get('/trailers'))).toString('latin1');
  assert.match(out, /\r\n\r\n5\r\nhello\r\n0\r\nx-sum: 42\r\n\r\n$/);
});

test('a body delimited by the upstream closing is delimited the same way for the client', async () => {
  usePolicy('    routes: [{name: all}]');
  const out = (await rawExchange(proxy.ports.inbound, get('/until-close'), false)).toString(
    'latin1',
  );
  assert.match(out, /^HTTP\/1\.1 200 OK\r\nconnection: close\r\n\r\nall of it$/);
});

test('HEAD, 204 and 304 carry no body, and the connection goes on', async () => {
  usePolicy('    routes: [{name: all}]');
  const out = (
    await rawExchange(
      proxy.ports.inbound,
      `HEAD /x HTTP/1.1\r\nHost: app\r\n\r\n${get('/no-content')}${get('/not-modified')}${get('/last', 'Connection: close\r\n')}`,
      false,
    )
  ).toString('latin1');
  const statuses = [...out.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
  assert.deepEqual(statuses, ['200', '204', '304', '200']);
  assert.match(out, /\/last on \d+$/);
});

test('Connection: close from the client is answered with connection: close and a FIN', async () => {
  usePolicy('    routes: [{name: all}]');
  const out = (
    await rawExchange(proxy.ports.inbound, get('/a', 'Connection: close\r\n'), false)
  ).toString('latin1');
  assert.match(out, /connection: close\r\n/);
  assert.doesNotMatch(upstream.heads.at(-1)!, /connection/i, 'not passed upstream');
});

test('Connection: close from the upstream retires that upstream connection only', async () => {
  usePolicy('    routes: [{name: all}]');
  const out = (
    await rawExchange(
      proxy.ports.inbound,
      get('/upstream-close') + get('/after', 'Connection: close\r\n'),
      false,
    )
  ).toString('latin1');
  assert.match(out, /^HTTP\/1\.1 200 OK\r\ncontent-length: 3\r\n\r\nbye/);
  const second = /\/after on (\d+)$/.exec(out);
  assert.ok(second, out);
});

test('hop-by-hop fields stop at the proxy in both directions', async () => {
  usePolicy('    routes: [{name: all}]');
  const out = (
    await rawExchange(
      proxy.ports.inbound,
      get(
        '/hop',
        'Connection: close, x-private\r\nKeep-Alive: timeout=9\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n',
      ),
      false,
    )
  ).toString('latin1');
  const sent = upstream.heads.at(-1)!;
  assert.doesNotMatch(sent, /keep-alive|^te:|proxy-connection|^connection:/im);
  assert.doesNotMatch(out, /keep-alive/i);
});

test('fields a Connection value names are removed in both directions, framing and Host kept', async () => {
  usePolicy('    routes: [{name: all}]');
  const body = 'abc';
  const out = (
    await rawExchange(
      proxy.ports.inbound,
      `POST /nominated HTTP/1.1\r\nHost: app\r\nConnection: x-private, content-length\r\nconnection: host, X-Second\r\nX-Private: p\r\nx-second: s\r\nX-Kept: k\r\nContent-Length: ${body.length}\r\n\r\n${body}${get('/after', 'Connection: close\r\n')}`,
      false,
    )
  ).toString('latin1');
  const sent = upstream.heads.at(-2)!;
  assert.doesNotMatch(sent, /x-private|x-second|^connection:/im);
  assert.match(sent, /^Host: app\r\n/m);
  assert.match(sent, /^Content-Length: 3\r\n/m, 'framing is never removed');
  assert.match(sent, /^X-Kept: k\r\n/m);
  assert.match(upstream.heads.at(-1)!, /^GET \/after /, 'the body stayed in its request');
  assert.doesNotMatch(out, /x-internal/i);
  assert.match(out, /x-public: 2\r\n/);
});

test("an outbound X-Forwarded-For that Connection names is replaced by the pod's own line", async () => {
  usePolicy('    routes: [{name: all}]', 'outbound');
  await rawExchange(
    proxy.ports.outbound,
    get('/id', 'X-Forwarded-For: 203.0.113.9\r\nConnection: close, x-forwarded-for\r\n'),
    false,
  );
  const sent = upstream.heads.at(-1)!;
  assert.doesNotMatch(sent, /203\.0\.113\.9/);
  assert.match(sent, /X-Forwarded-For: 192\.0\.2\.7\r\n/i);
});

test('a route sets, adds and removes request and response headers', async () => {
  usePolicy(`    routes:
      - name: edit
        requestHeaders: {set: [{name: x-env, value: prod}], add: [{name: x-added, value: "1"}], remove: [x-secret]}
        responseHeaders: {remove: [x-powered-by], add: [{name: myage, value: "18"}]}`);
  const out = (
    await rawExchange(
      proxy.ports.inbound,
      get('/edit', 'X-Env: dev\r\nX-Secret: s\r\nx-env: other\r\nConnection: close\r\n'),
      false,
    )
  ).toString('latin1');
  const sent = upstream.heads.at(-1)!;
  assert.match(sent, /x-env: prod\r\nx-added: 1\r\n\r\n$/);
  assert.doesNotMatch(sent, /X-Env: dev|x-env: other|x-secret/i);
  assert.match(out, /myage: 18\r\n/);
  assert.doesNotMatch(out, /x-powered-by/);
});

test('outbound requests carry the pod identity: X-Forwarded-For extended, X-Client-Hostname replaced', async () => {
  usePolicy('    routes: [{name: all}]', 'outbound');
  await rawExchange(
    proxy.ports.outbound,
    get(
      '/id',
      'X-Forwarded-For: 203.0.113.9\r\nX-Client-Hostname: forged\r\nConnection: close\r\n',
    ),
    false,
  );
  const sent = upstream.heads.at(-1)!;
  assert.match(sent, /X-Forwarded-For: 203\.0\.113\.9, 192\.0\.2\.7\r\n/);
  assert.doesNotMatch(sent, /forged/);
  assert.match(sent, /X-Client-Hostname: web-7d9\r\n/);
});

test('requests on one client connection reuse one pooled upstream connection', async () => {
  usePolicy('    routes: [{name: all}]');
  const out = (
    await rawExchange(
      proxy.ports.inbound,
      get('/p1') + get('/p2') + get('/p3', 'Connection: close\r\n'),
      false,
    )
  ).toString('latin1');
  const connections = [...out.matchAll(/\/p\d on (\d+)/g)].map((m) => m[1]);
  assert.equal(connections.length, 3, out);
  assert.equal(new Set(connections).size, 1);
});

test('a request without a body is sent again when its reused upstream connection was closed', async () => {
  usePolicy('    routes: [{name: all}]');
  const client = net.connect(proxy.ports.inbound, '127.0.0.1');
  client.setEncoding('latin1');
  let text = '';
  client.on('data', (c: string) => {
    text += c;
  });
  // The first request leaves a pooled upstream connection behind.
  client.write(get('/warm'));
  while (!/\/warm on \d+$/.test(text)) await once(client, 'data');
  const connectionsBefore = upstream.connections;
  const headsBefore = upstream.heads.length;
  // The upstream closes without answering, as a keep-alive timeout racing a reuse does.
  client.write(get('/close-before-answer'));
  while (!/HTTP\/1\.1 503 /.test(text)) await once(client, 'data');
  client.destroy();
  // Sent on the pooled connection, then once more on a fresh one (which closes too).
  assert.equal(upstream.heads.length - headsBefore, 2);
  assert.equal(upstream.connections, connectionsBefore + 1);
  const records = await recordsAfter(proxy, 1);
  const record = records.findLast((r) => r.path === '/close-before-answer');
  assert.deepEqual([record?.status, record?.responseFlags], [503, 'UC']);
});

test('an upstream reset in the middle of a response resets the client (UR)', async () => {
  usePolicy('    routes: [{name: all}]');
  const client = net.connect(proxy.ports.inbound, '127.0.0.1');
  client.on('data', () => {});
  client.write(get('/reset-mid-body'));
  const [error] = (await Promise.race([once(client, 'error'), once(client, 'close')])) as [
    Error | boolean,
  ];
  assert.ok(error instanceof Error || error === true || error === false);
  const records = await recordsAfter(proxy, 1);
  const record = records.findLast((r) => r.path === '/reset-mid-body');
  assert.deepEqual([record?.status, record?.responseFlags], [200, 'UR']);
});

test('no route gives 404 NR; the access log names the route', async () => {
  usePolicy(`    routes:
      - name: only-a
        match: {path: {prefix: /a}}`);
  const out = (
    await rawExchange(proxy.ports.inbound, get('/a/x') + get('/b', 'Connection: close\r\n'), false)
  ).toString('latin1');
  assert.match(out, /^HTTP\/1\.1 200 [\s\S]*HTTP\/1\.1 404 Not Found\r\n/);
  const lines = accessLog.map(
    (l) => JSON.parse(l) as { path?: string; route?: string; responseFlags?: string },
  );
  assert.equal(lines.findLast((l) => l.path === '/a/x')?.route, 'only-a');
  const miss = lines.findLast((l) => l.path === '/b');
  assert.deepEqual([miss?.route, miss?.responseFlags], [undefined, 'NR']);
});

test('a port the policy does not declare http stays on the L4 splice', async () => {
  usePolicy('    routes: [{name: all}]');
  proxy.policy.replace({ ...proxy.policy.current, listeners: [] });
  const out = (
    await rawExchange(proxy.ports.inbound, get('/plain', 'Keep-Alive: timeout=1\r\n'))
  ).toString('latin1');
  assert.match(out, /\/plain on \d+$/);
  // The splice forwards the head as sent: hop-by-hop fields included.
  assert.match(upstream.heads.at(-1)!, /Keep-Alive: timeout=1/);
  const records = await recordsAfter(proxy, 1);
  assert.equal(records.findLast((r) => r.path === '/plain')?.route, '-');
});
