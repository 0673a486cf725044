// The sniffer never changes, delays or drops bytes it does not own, shown on
// the cases that once went wrong: bare-LF heads on a connection kept open,
// partial heads followed by a close or half-close, bytes after responses that
// carry no content, and header insertion on a request cut short. Real
// sockets on loopback through an in-process proxy.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { RunningProxy } from '../../proxy/src/proxy.ts';
import { closeServer, listenTcp, startTestProxy } from './support/harness.ts';

/** The server side of the next connection, handed to the test. */
let nextServerSocket: ((socket: net.Socket) => void) | undefined;
let server: Awaited<ReturnType<typeof listenTcp>>;
let plain: RunningProxy;
let inserting: RunningProxy;

before(async () => {
  server = await listenTcp((socket) => {
    const take = nextServerSocket;
    nextServerSocket = undefined;
    if (take) take(socket);
    else socket.destroy();
  });
  plain = await startTestProxy({ port: server.port });
  inserting = await startTestProxy(
    { port: server.port },
    { addRequestHeaders: [{ name: 'X-Added', value: '1' }] },
  );
});

after(async () => {
  await plain.close();
  await inserting.close();
  await closeServer(server);
});

interface Peer {
  socket: net.Socket;
  /** Resolves with what has arrived once `bytes` bytes have, or after `ms` with what has. */
  received(bytes: number, ms?: number): Promise<string>;
  /** Resolves true when the peer's FIN arrives within `ms`. */
  ended(ms?: number): Promise<boolean>;
}

function peer(socket: net.Socket): Peer {
  let data = Buffer.alloc(0);
  let sawEnd = false;
  socket.on('data', (d: Buffer) => {
    data = Buffer.concat([data, d]);
  });
  socket.on('end', () => {
    sawEnd = true;
  });
  socket.on('error', () => {});
  const until = async (done: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  };
  return {
    socket,
    received: async (bytes, ms = 1000) => {
      await until(() => data.length >= bytes, ms);
      return data.toString('latin1');
    },
    ended: async (ms = 1000) => {
      await until(() => sawEnd, ms);
      return sawEnd;
    },
  };
}

/** A client connected through `proxy` and the server end of the same connection. */
async function connectPair(proxy: RunningProxy): Promise<{ client: Peer; upstream: Peer }> {
  const accepted = new Promise<net.Socket>((resolve) => {
    nextServerSocket = resolve;
  });
  const socket = net.connect({
    port: proxy.ports.outbound,
    host: '127.0.0.1',
    allowHalfOpen: true,
  });
  await once(socket, 'connect');
  const client = peer(socket);
  const upstream = peer(await accepted);
  return { client, upstream };
}

/** Runs `check` on a fresh client/upstream pair, and closes both afterwards. */
async function withPair(
  proxy: RunningProxy,
  check: (pair: { client: Peer; upstream: Peer }) => Promise<void>,
): Promise<void> {
  const pair = await connectPair(proxy);
  try {
    await check(pair);
  } finally {
    pair.client.socket.destroy();
    pair.upstream.socket.destroy();
  }
}

describe('byte-exact under every framing', () => {
  test('a response head ending in bare LF reaches the client at once, connection kept open', async () => {
    await withPair(plain, async ({ client, upstream }) => {
      client.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
      await upstream.received(1);
      const response = 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok';
      upstream.socket.write(response);
      assert.equal(await client.received(response.length, 500), response);
    });
  });

  test('a request head ending in bare LF gets its headers inserted and goes out at once', async () => {
    await withPair(inserting, async ({ client, upstream }) => {
      client.socket.write('GET / HTTP/1.1\nHost: a\n\n');
      const expected = 'GET / HTTP/1.1\nHost: a\nX-Added: 1\r\n\n';
      assert.equal(await upstream.received(expected.length, 500), expected);
    });
  });

  test('a partial response head followed by a close reaches the client, then the close', async () => {
    await withPair(plain, async ({ client, upstream }) => {
      client.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
      await upstream.received(1);
      upstream.socket.end('HTTP/1.1 200 OK\r\nContent-Le');
      assert.equal(await client.received(27), 'HTTP/1.1 200 OK\r\nContent-Le');
      assert.ok(await client.ended());
    });
  });

  test('with header insertion, a partial request head followed by a half-close reaches the upstream', async () => {
    await withPair(inserting, async ({ client, upstream }) => {
      client.socket.end('GET / HTTP/1.1\r\nHost: a\r\n');
      assert.equal(await upstream.received(25), 'GET / HTTP/1.1\r\nHost: a\r\n');
      assert.ok(await upstream.ended());
    });
  });

  for (const [what, request, status] of [
    ['204', 'GET', '204 No Content'],
    ['304', 'GET', '304 Not Modified'],
    ['a HEAD request', 'HEAD', '200 OK'],
  ] as const) {
    test(`bytes a server sends after a response to ${what} pass through as sent`, async () => {
      await withPair(plain, async ({ client, upstream }) => {
        client.socket.write(`${request} / HTTP/1.1\r\nHost: a\r\n\r\n`);
        await upstream.received(1);
        const response = `HTTP/1.1 ${status}\r\nContent-Length: 4\r\n\r\nbody`;
        upstream.socket.write(response);
        assert.equal(await client.received(response.length, 500), response);
        upstream.socket.end();
        assert.ok(await client.ended());
      });
    });
  }

  test('interim responses, a chunked body with trailers and a close-delimited body, in one go', async () => {
    await withPair(plain, async ({ client, upstream }) => {
      client.socket.write('GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n');
      await upstream.received(1);
      const response =
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n' +
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n' +
        'HTTP/1.1 200 OK\r\n\r\nuntil the close';
      upstream.socket.end(response);
      assert.equal(await client.received(response.length), response);
      assert.ok(await client.ended());
    });
  });
});
