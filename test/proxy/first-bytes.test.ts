// The Host/SNI of a connection's first bytes: real ClientHellos from
// tls.connect, HTTP heads, and every truncation, oversize and garbage input
// giving an answer, never an exception and never a host the bytes do not name.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import fc from 'fast-check';
import { hostOfFirstBytes, NEED_MORE, NO_HOST } from '../../proxy/src/policy/first-bytes.ts';

/** The first bytes Node's TLS client sends for this connect: its ClientHello. */
async function clientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  try {
    const received = new Promise<Buffer>((resolve) => {
      server.once('connection', (socket) => {
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => {
          chunks.push(c);
          const all = Buffer.concat(chunks);
          // The record header says how long the hello is.
          if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) {
            resolve(all);
            socket.destroy();
          }
        });
      });
    });
    const client = tls.connect({ port, host: '127.0.0.1', ...options });
    client.on('error', () => {});
    const hello = await received;
    client.destroy();
    return hello;
  } finally {
    server.close();
  }
}

/** The same handshake message re-framed into records of at most `size` bytes. */
function reframe(hello: Buffer, size: number): Buffer {
  const message = hello.subarray(5);
  const records: Buffer[] = [];
  for (let i = 0; i < message.length; i += size) {
    const fragment = message.subarray(i, i + size);
    const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    header.writeUInt16BE(fragment.length, 3);
    records.push(header, fragment);
  }
  return Buffer.concat(records);
}

test('the SNI of a real TLS 1.3 ClientHello, lower-cased', async () => {
  const hello = await clientHello({ servername: 'API.Tls.Example' });
  assert.deepEqual(hostOfFirstBytes(hello), { host: 'api.tls.example' });
});

test('a TLS 1.2-only ClientHello names its host too', async () => {
  const hello = await clientHello({ servername: 'legacy.example', maxVersion: 'TLSv1.2' });
  assert.deepEqual(hostOfFirstBytes(hello), { host: 'legacy.example' });
});

test('a ClientHello without SNI names no host', async () => {
  const hello = await clientHello({ servername: '' });
  assert.equal(hostOfFirstBytes(hello), NO_HOST);
});

test('a ClientHello spread over several records is joined', async () => {
  const hello = await clientHello({ servername: 'split.example' });
  for (const size of [1, 7, 64, 300]) {
    assert.deepEqual(hostOfFirstBytes(reframe(hello, size)), { host: 'split.example' }, `${size}`);
  }
});

test('every truncation of a ClientHello asks for more, never names a wrong host', async () => {
  const hello = await clientHello({ servername: 'cut.example' });
  for (const framed of [hello, reframe(hello, 50)]) {
    for (let n = 0; n < framed.length; n++) {
      const answer = hostOfFirstBytes(framed.subarray(0, n));
      assert.ok(
        answer === NEED_MORE || (typeof answer === 'object' && answer.host === 'cut.example'),
        `${n}: ${JSON.stringify(answer)}`,
      );
    }
  }
});

test('HTTP: the Host without port or trailing dot, or the absolute-form authority', () => {
  const cases: Array<[string, ReturnType<typeof hostOfFirstBytes>]> = [
    ['GET / HTTP/1.1\r\nHost: API.Example.com:8080\r\n\r\n', { host: 'api.example.com' }],
    ['GET / HTTP/1.1\nhost: api.example.com.\n\n', { host: 'api.example.com' }],
    [
      'POST /x HTTP/1.1\r\nContent-Length: 3\r\nHost: [2001:db8::1]:80\r\n\r\nabc',
      { host: '2001:db8::1' },
    ],
    ['GET http://abs.example/p HTTP/1.1\r\nUser-Agent: t\r\n\r\n', { host: 'abs.example' }],
    ['GET / HTTP/1.0\r\n\r\n', NO_HOST],
    ['GET / HTTP/1.1\r\nHost : bad\r\n\r\n', NO_HOST],
    ['get / HTTP/1.1\r\nHost: lower.example\r\n\r\n', NO_HOST],
    ['SSH-2.0-OpenSSH_9.2\r\n', NO_HOST],
    ['GET / HTTP/1.1\r\nHost: a.example\r\n', NEED_MORE],
    ['GET', NEED_MORE],
    ['', NEED_MORE],
  ];
  for (const [text, expected] of cases) {
    assert.deepEqual(hostOfFirstBytes(Buffer.from(text, 'latin1')), expected, JSON.stringify(text));
  }
});

test('an oversized head is still waited on: the caller bounds the bytes', () => {
  const head = `GET / HTTP/1.1\r\nX-Pad: ${'a'.repeat(100_000)}\r\n`;
  assert.equal(hostOfFirstBytes(Buffer.from(head)), NEED_MORE);
  assert.deepEqual(hostOfFirstBytes(Buffer.from(`${head}Host: late.example\r\n\r\n`)), {
    host: 'late.example',
  });
});

test('records claiming more than they hold, or a non-hello handshake, name no host', () => {
  const serverHello = Buffer.from([0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]);
  assert.equal(hostOfFirstBytes(serverHello), NO_HOST);
  const alert = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
  assert.equal(hostOfFirstBytes(alert), NO_HOST);
  const emptyRecord = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]);
  assert.equal(hostOfFirstBytes(emptyRecord), NO_HOST);
  // A hello whose inner lengths overrun it.
  const lying = Buffer.from([
    0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x04, 0x03, 0x03, 0xff, 0xff,
  ]);
  assert.equal(hostOfFirstBytes(lying), NO_HOST);
});

test('any bytes at all give an answer and never throw', async () => {
  const hello = await clientHello({ servername: 'fuzz.example' });
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }),
      fc.nat(hello.length),
      fc.array(fc.tuple(fc.nat(hello.length - 1), fc.integer({ min: 0, max: 255 })), {
        maxLength: 8,
      }),
      (noise, cut, flips) => {
        for (const input of [
          Buffer.from(noise),
          Buffer.concat([Buffer.from([0x16, 0x03]), noise]),
        ]) {
          const answer = hostOfFirstBytes(input);
          assert.ok(answer === NEED_MORE || answer === NO_HOST || typeof answer.host === 'string');
        }
        // A real hello, cut and with a few bytes changed.
        const mutated = Buffer.from(hello.subarray(0, cut));
        for (const [at, value] of flips) if (at < mutated.length) mutated[at] = value;
        const answer = hostOfFirstBytes(mutated);
        assert.ok(answer === NEED_MORE || answer === NO_HOST || typeof answer.host === 'string');
      },
    ),
    { numRuns: 3000 },
  );
});
