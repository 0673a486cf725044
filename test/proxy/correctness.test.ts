// Real clients and servers on loopback through the proxy: bodies arrive byte
// for byte in both directions, HTTP/1.1's framing corners keep working, other
// protocols pass untouched, and every statistics record matches what was sent.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { RunningProxy } from '../../proxy/src/proxy.ts';
import { downloads, echoAppHandler, type Transfer, writeRandomBytes } from './support/echo-app.ts';
import {
  closeServer,
  listenHttp,
  listenTcp,
  rawExchange,
  recordsAfter,
  startTestProxy,
} from './support/harness.ts';

const MiB = 1024 * 1024;
const SIZES = [0, 1, 65_537, 3 * MiB + 5, 100 * MiB];

let app: Awaited<ReturnType<typeof listenHttp>>;
let proxy: RunningProxy;
const accessLines: string[] = [];

before(async () => {
  app = await listenHttp(echoAppHandler());
  proxy = await startTestProxy(
    { port: app.port },
    {
      accessLog: true,
      forwardPodIdentity: true,
      pod: {
        name: 'pod-a',
        namespace: 'ns',
        ip: '192.0.2.10',
        nodeName: '',
        serviceAccount: '',
        workload: 'web',
        app: 'web',
        version: 'v1',
      },
      addRequestHeaders: [{ name: 'X-Team', value: 'blue' }],
      addResponseHeaders: [{ name: 'Server', value: 'outrigger' }],
    },
    (line) => accessLines.push(line),
  );
});

after(async () => {
  await proxy.close();
  await closeServer(app);
});

function request(
  port: number,
  options: http.RequestOptions,
  body?: (req: http.ClientRequest) => void,
): Promise<{ res: http.IncomingMessage; sha256: string; bytes: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, agent: false, ...options }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      const head: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        hash.update(c);
        bytes += c.length;
        if (bytes <= 64 * 1024) head.push(c);
      });
      res.on('end', () =>
        resolve({ res, sha256: hash.digest('hex'), bytes, text: Buffer.concat(head).toString() }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) body(req);
    else req.end();
  });
}

function recordFor(path: string) {
  const record = proxy.stats.recentRequests.toArray().find((r) => r.path === path);
  assert.ok(record, `a record for ${path}`);
  return record;
}

describe('byte-exact round trips', () => {
  for (const listener of ['inbound', 'outbound'] as const) {
    for (const mode of ['content-length', 'chunked'] as const) {
      for (const size of SIZES) {
        // The 100 MiB bodies run through one listener; the other gets the rest.
        if (size === 100 * MiB && listener === 'outbound') continue;
        test(`${listener} upload of ${size} bytes with ${mode}`, async () => {
          const path = `/upload?listener=${listener}&mode=${mode}&size=${size}`;
          let sent = '';
          const { res, text } = await request(
            proxy.ports[listener],
            {
              method: 'POST',
              path,
              headers:
                mode === 'content-length'
                  ? { 'content-length': size }
                  : { 'transfer-encoding': 'chunked' },
            },
            (req) => {
              writeRandomBytes(req, size).then((h) => {
                sent = h;
              });
            },
          );
          assert.equal(res.statusCode, 200);
          const got = JSON.parse(text) as Transfer;
          assert.deepEqual(got, { bytes: size, sha256: sent });
          const record = (await recordsAfter(proxy, 1)) && recordFor(path);
          assert.equal(record.direction, listener);
          assert.equal(record.method, 'POST');
          assert.equal(record.status, 200);
          assert.equal(record.requestBodyBytes, size);
          assert.equal(record.responseBodyBytes, Buffer.byteLength(text));
          assert.equal(record.authority, `127.0.0.1:${proxy.ports[listener]}`);
          assert.ok(record.requestBytes >= size);
          assert.ok(record.durationMs > 0 && record.timeToFirstByteMs <= record.durationMs);
        });

        test(`${listener} download of ${size} bytes with ${mode}`, async () => {
          const id = `${listener}-${mode}-${size}`;
          const path = `/download?id=${id}&size=${size}&mode=${mode === 'chunked' ? 'chunked' : 'cl'}`;
          const { res, sha256, bytes } = await request(proxy.ports[listener], { path });
          assert.equal(res.statusCode, 200);
          assert.deepEqual({ bytes, sha256 }, downloads.get(id));
          const record = recordFor(path);
          assert.equal(record.responseBodyBytes, size);
          assert.equal(record.requestBodyBytes, 0);
          assert.ok(record.responseBytes >= size);
        });
      }
    }
  }
});

describe('HTTP/1.1 semantics through the proxy', () => {
  test('pipelined keep-alive requests are answered in order and recorded in order', async () => {
    const before = proxy.stats.totals.requests;
    const reply = await rawExchange(
      proxy.ports.inbound,
      'GET /get?n=1 HTTP/1.1\r\nHost: pipe\r\n\r\n' +
        'POST /post?n=2 HTTP/1.1\r\nHost: pipe\r\nContent-Length: 5\r\n\r\nhello' +
        'GET /status/418 HTTP/1.1\r\nHost: pipe\r\nConnection: close\r\n\r\n',
    );
    const text = reply.toString();
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '200', '418']);
    assert.ok(text.indexOf('"n":"1"') < text.indexOf('"n":"2"'));
    assert.match(text, /"body":"hello"/);
    const records = (await recordsAfter(proxy, 0)).filter((r) => r.authority === 'pipe');
    assert.equal(proxy.stats.totals.requests - before, 3);
    assert.deepEqual(
      records.map((r) => [r.method, r.path, r.status, r.requestBodyBytes]),
      [
        ['GET', '/get?n=1', 200, 0],
        ['POST', '/post?n=2', 200, 5],
        ['GET', '/status/418', 418, 0],
      ],
    );
  });

  test('Expect: 100-continue sends the body after the interim response', async () => {
    const body = randomBytes(10_000);
    let continued = false;
    const { res, text } = await request(
      proxy.ports.inbound,
      {
        method: 'POST',
        path: '/upload?expect=1',
        headers: { expect: '100-continue', 'content-length': body.length },
      },
      (req) => {
        req.on('continue', () => {
          continued = true;
          req.end(body);
        });
      },
    );
    assert.ok(continued);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(JSON.parse(text), {
      bytes: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
    });
    const record = recordFor('/upload?expect=1');
    assert.equal(record.status, 200);
    assert.equal(record.requestBodyBytes, body.length);
  });

  test('HEAD, 204 and 304 carry no body and keep the connection usable', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<net.Socket>();
    const get = (method: string, path: string) =>
      new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>(
        (resolve, reject) => {
          const req = http.request(
            { host: '127.0.0.1', port: proxy.ports.inbound, method, path, agent },
            (res) => {
              let body = '';
              res.setEncoding('latin1');
              res.on('data', (c: string) => {
                body += c;
              });
              res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
            },
          );
          req.on('socket', (s) => sockets.add(s));
          req.on('error', reject);
          req.end();
        },
      );
    const head = await get('HEAD', '/download?id=head&size=5000');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '5000');
    assert.equal(head.body, '');
    assert.equal((await get('GET', '/status/204')).status, 204);
    assert.equal((await get('GET', '/status/304')).status, 304);
    const last = await get('GET', '/get?after=304');
    assert.equal(last.status, 200);
    assert.match(last.body, /"after":"304"/);
    agent.destroy();
    assert.equal(sockets.size, 1, 'all four requests shared one connection');
    assert.equal(recordFor('/download?id=head&size=5000').responseBodyBytes, 0);
    assert.equal(recordFor('/status/204').status, 204);
    assert.equal(recordFor('/status/304').status, 304);
  });

  test('a WebSocket echo works after 101 Switching Protocols', async () => {
    const server = await listenHttp((_req, res) => res.end());
    server.on('upgrade', (req, socket: net.Socket) => {
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')}\r\n\r\n`,
      );
      socket.on('error', () => {}); // the client hangs up abruptly at the end
      socket.pipe(socket); // echo frames verbatim
    });
    const ws = await startTestProxy({ port: server.port });
    try {
      const req = http.request({
        host: '127.0.0.1',
        port: ws.ports.inbound,
        path: '/chat',
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'sec-websocket-version': '13',
        },
      });
      req.end();
      const [res, socket] = (await once(req, 'upgrade')) as [http.IncomingMessage, net.Socket];
      assert.equal(res.statusCode, 101);
      // A masked binary frame, then bytes that would be garbage as HTTP.
      const frame = Buffer.concat([
        Buffer.from([0x82, 0x84, 1, 2, 3, 4]),
        Buffer.from([0xde ^ 1, 0xad ^ 2, 0xbe ^ 3, 0xef ^ 4]),
      ]);
      const echoed: Buffer[] = [];
      socket.on('data', (c: Buffer) => echoed.push(c));
      socket.write(frame);
      socket.write('GET nonsense\r\n\r\n');
      const expected = Buffer.concat([frame, Buffer.from('GET nonsense\r\n\r\n')]);
      while (Buffer.concat(echoed).length < expected.length) await once(socket, 'data');
      assert.deepEqual(Buffer.concat(echoed), expected);
      socket.destroy();
      const [record] = await recordsAfter(ws, 1);
      assert.equal(record!.status, 101);
      assert.equal(record!.path, '/chat');
      assert.equal(ws.stats.totals.parseErrors, 0);
    } finally {
      await ws.close();
      await closeServer(server);
    }
  });
});

describe('other protocols pass as plain TCP', () => {
  test('a binary protocol round-trips byte for byte, with half-close', async () => {
    const server = await listenTcp((socket) => socket.pipe(socket));
    const tcp = await startTestProxy({ port: server.port });
    try {
      const payload = Buffer.concat([Buffer.from([0, 1, 2, 0xff]), randomBytes(2 * MiB)]);
      const echoed = await rawExchange(tcp.ports.outbound, payload);
      assert.ok(echoed.equals(payload));
      assert.equal(tcp.stats.totals.requests, 0);
      assert.equal(tcp.stats.totals.parseErrors, 0);
      await waitFor(() => tcp.stats.totals.connectionsClosed === 1);
      const [connection] = tcp.stats.recentConnections.toArray();
      assert.equal(connection!.bytesFromClient, payload.length);
      assert.equal(connection!.bytesToClient, payload.length);
      assert.equal(connection!.closeReason, 'closed');
    } finally {
      await tcp.close();
      await closeServer(server);
    }
  });

  test('a server-speaks-first protocol gets its greeting out before the client says anything', async () => {
    const server = await listenTcp((socket) => {
      socket.write('220 mail.example ESMTP ready\r\n');
      socket.on('data', (line: Buffer) => socket.write(`250 ${line.toString().trim()}\r\n`));
      socket.on('end', () => socket.end());
    });
    const tcp = await startTestProxy({ port: server.port });
    try {
      const client = net.connect({ port: tcp.ports.outbound, host: '127.0.0.1' });
      const [greeting] = (await once(client, 'data')) as [Buffer];
      assert.equal(greeting.toString(), '220 mail.example ESMTP ready\r\n');
      client.write('EHLO client.example\r\n');
      const [answer] = (await once(client, 'data')) as [Buffer];
      assert.equal(answer.toString(), '250 EHLO client.example\r\n');
      client.end();
      await once(client, 'close');
      assert.equal(tcp.stats.totals.parseErrors, 0);
      assert.equal(tcp.stats.totals.requests, 0);
    } finally {
      await tcp.close();
      await closeServer(server);
    }
  });
});

describe('header manipulation and access log', () => {
  test('outbound requests carry pod identity and fixed pairs; inbound responses the Server header', async () => {
    const out = await request(proxy.ports.outbound, { path: '/get?who=1' });
    const seen = (JSON.parse(out.text) as { headers: Record<string, string> }).headers;
    assert.equal(seen['x-forwarded-for'], '192.0.2.10');
    assert.equal(seen['x-client-hostname'], 'pod-a');
    assert.equal(seen['x-team'], 'blue');
    assert.equal(out.res.headers.server, undefined, 'outbound responses are not touched');

    const inbound = await request(proxy.ports.inbound, { path: '/get?who=2' });
    const inboundSeen = (JSON.parse(inbound.text) as { headers: Record<string, string> }).headers;
    assert.equal(inboundSeen['x-forwarded-for'], undefined, 'inbound requests are not touched');
    assert.equal(inbound.res.headers.server, 'outrigger');
  });

  test('the access log has one JSON line per request', async () => {
    await request(proxy.ports.inbound, { path: '/get?logged=yes' });
    await waitFor(() => accessLines.some((l) => l.includes('logged=yes')));
    const line = JSON.parse(accessLines.find((l) => l.includes('logged=yes'))!) as Record<
      string,
      unknown
    >;
    assert.equal(line.method, 'GET');
    assert.equal(line.status, 200);
    assert.equal(line.direction, 'inbound');
    assert.equal(accessLines.length, proxy.stats.totals.requests);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
