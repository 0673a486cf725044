// The passive HTTP/1.1 parser, driven byte-exactly: whatever way a stream is cut
// into chunks, what comes out equals what went in (plus only the configured
// header lines), and one record per exchange comes out with the right sizes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type HeaderInserts, HttpSniffer } from '../../proxy/src/http/sniffer.ts';
import type { RequestRecord } from '../../proxy/src/stats/request-record.ts';

const NO_INSERTS: HeaderInserts = {
  request: undefined,
  response: undefined,
  responseWhileDraining: Buffer.from('Connection: close\r\n'),
};

function sniffer(inserts: HeaderInserts = NO_INSERTS) {
  const up: Buffer[] = [];
  const down: Buffer[] = [];
  const records: RequestRecord[] = [];
  let parseErrors = 0;
  const s = new HttpSniffer(
    'inbound',
    inserts,
    {
      onRecord: (r) => records.push(r),
      onParseError: () => parseErrors++,
      onClosingResponseSent: () => {},
    },
    'client:1',
    'app:2',
    (b) => up.push(Buffer.from(b)),
    (b) => down.push(Buffer.from(b)),
  );
  return {
    s,
    records,
    upstreamBytes: () => Buffer.concat(up).toString('latin1'),
    clientBytes: () => Buffer.concat(down).toString('latin1'),
    parseErrors: () => parseErrors,
  };
}

/** Splits `text` at the given cut points (fractions) into chunks. */
function cut(text: string, cuts: number[]): Buffer[] {
  const bytes = Buffer.from(text, 'latin1');
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    if (p > last && p < bytes.length) {
      out.push(bytes.subarray(last, p));
      last = p;
    }
  }
  out.push(bytes.subarray(last));
  return out;
}

const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });

// Two pipelined requests (Content-Length then chunked with a trailer) and a HEAD.
const REQUESTS =
  'POST /upload?x=1 HTTP/1.1\r\nHost: app.example\r\nContent-Length: 11\r\n\r\nhello world' +
  'PUT /chunks HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n' +
  '5;ext=1\r\nabcde\r\n3\r\nfgh\r\n0\r\nX-Trailer: yes\r\n\r\n' +
  'HEAD /head HTTP/1.1\r\nHost: app.example\r\n\r\n';
const RESPONSES =
  'HTTP/1.1 100 Continue\r\n\r\n' +
  'HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok' +
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n' +
  'HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n';

describe('HttpSniffer', () => {
  test('forwards pipelined exchanges byte for byte however they are chunked', () => {
    fc.assert(
      fc.property(cuts, cuts, (requestCuts, responseCuts) => {
        const h = sniffer();
        for (const c of cut(REQUESTS, requestCuts)) h.s.clientData(c);
        for (const c of cut(RESPONSES, responseCuts)) h.s.upstreamData(c);
        assert.equal(h.upstreamBytes(), REQUESTS);
        assert.equal(h.clientBytes(), RESPONSES);
        assert.equal(h.parseErrors(), 0);
        assert.deepEqual(
          h.records.map((r) => [
            r.method,
            r.path,
            r.authority,
            r.status,
            r.requestBodyBytes,
            r.responseBodyBytes,
          ]),
          [
            ['POST', '/upload?x=1', 'app.example', 201, 11, 2],
            ['PUT', '/chunks', 'app.example', 200, 8, 4],
            ['HEAD', '/head', 'app.example', 200, 0, 0],
          ],
        );
        assert.equal(
          h.records[0]!.requestBytes,
          'POST /upload?x=1 HTTP/1.1\r\nHost: app.example\r\nContent-Length: 11\r\n\r\nhello world'
            .length,
        );
      }),
      { numRuns: 300 },
    );
  });

  test('inserts configured headers before the final CRLF only', () => {
    const inserts: HeaderInserts = {
      request: Buffer.from('X-Added: 1\r\n'),
      response: Buffer.from('Server: outrigger\r\n'),
      responseWhileDraining: Buffer.from('Server: outrigger\r\nConnection: close\r\n'),
    };
    fc.assert(
      fc.property(cuts, cuts, (requestCuts, responseCuts) => {
        const h = sniffer(inserts);
        for (const c of cut(REQUESTS, requestCuts)) h.s.clientData(c);
        for (const c of cut(RESPONSES, responseCuts)) h.s.upstreamData(c);
        assert.equal(
          h.upstreamBytes(),
          'POST /upload?x=1 HTTP/1.1\r\nHost: app.example\r\nContent-Length: 11\r\nX-Added: 1\r\n\r\nhello world' +
            'PUT /chunks HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\nX-Added: 1\r\n\r\n' +
            '5;ext=1\r\nabcde\r\n3\r\nfgh\r\n0\r\nX-Trailer: yes\r\n\r\n' +
            'HEAD /head HTTP/1.1\r\nHost: app.example\r\nX-Added: 1\r\n\r\n',
        );
        // The interim 100 stays as sent; final responses gain the Server line.
        assert.equal(
          h.clientBytes(),
          'HTTP/1.1 100 Continue\r\n\r\n' +
            'HTTP/1.1 201 Created\r\nContent-Length: 2\r\nServer: outrigger\r\n\r\nok' +
            'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nServer: outrigger\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n' +
            'HTTP/1.1 200 OK\r\nContent-Length: 12345\r\nServer: outrigger\r\n\r\n',
        );
      }),
      { numRuns: 300 },
    );
  });

  test('no body for 204 and 304; read-until-close ends when the upstream does', () => {
    const h = sniffer();
    h.s.clientData(
      Buffer.from('GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.0\r\n\r\n'),
    );
    h.s.upstreamData(
      Buffer.from(
        'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n',
      ),
    );
    h.s.upstreamData(Buffer.from('HTTP/1.0 200 OK\r\n\r\nuntil close'));
    assert.equal(h.records.length, 2);
    h.s.upstreamEnded();
    assert.deepEqual(
      h.records.map((r) => [r.path, r.status, r.responseBodyBytes]),
      [
        ['/a', 204, 0],
        ['/b', 304, 0],
        ['/c', 200, 11],
      ],
    );
  });

  test('101 Switching Protocols turns the connection opaque', () => {
    const h = sniffer();
    h.s.clientData(
      Buffer.from(
        'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
      ),
    );
    h.s.upstreamData(
      Buffer.from(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi',
      ),
    );
    h.s.clientData(Buffer.from('GET not http at all'));
    assert.equal(h.records.length, 1);
    assert.equal(h.records[0]!.status, 101);
    assert.equal(h.parseErrors(), 0);
    assert.ok(h.s.opaque);
    assert.ok(h.upstreamBytes().endsWith('GET not http at all'));
  });

  test('a refused Upgrade keeps parsing HTTP', () => {
    const h = sniffer();
    h.s.clientData(
      Buffer.from('GET /ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n'),
    );
    h.s.upstreamData(Buffer.from('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n'));
    h.s.clientData(Buffer.from('GET /next HTTP/1.1\r\n\r\n'));
    h.s.upstreamData(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    assert.deepEqual(
      h.records.map((r) => r.status),
      [426, 200],
    );
    assert.ok(!h.s.opaque);
  });

  test('CONNECT 2xx switches to opaque bytes', () => {
    const h = sniffer();
    h.s.clientData(
      Buffer.from('CONNECT db.example:5432 HTTP/1.1\r\nHost: db.example:5432\r\n\r\n'),
    );
    h.s.upstreamData(Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n'));
    h.s.clientData(Buffer.from('\x16\x03\x01 tls'));
    assert.equal(h.records[0]!.authority, 'db.example:5432');
    assert.ok(h.s.opaque);
    assert.equal(h.parseErrors(), 0);
  });

  test('TLS, binary and server-speaks-first connections are opaque without a parse error', () => {
    const tls = sniffer();
    tls.s.clientData(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
    assert.ok(tls.s.opaque);
    const greeting = sniffer();
    greeting.s.upstreamData(Buffer.from('220 smtp.example ESMTP\r\n'));
    greeting.s.clientData(Buffer.from('EHLO client\r\n'));
    assert.ok(greeting.s.opaque);
    assert.equal(greeting.clientBytes(), '220 smtp.example ESMTP\r\n');
    assert.equal(greeting.upstreamBytes(), 'EHLO client\r\n');
    assert.equal(tls.parseErrors() + greeting.parseErrors(), 0);
  });

  test('malformed HTTP continues as opaque bytes and counts a parse error', () => {
    for (const garbage of [
      'GET / HTTP/1.1\r\nbad header line\r\n\r\nrest',
      'POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef',
      'GARBAGE \x00\xff\x01 not http\r\n\r\n',
    ]) {
      const h = sniffer({ ...NO_INSERTS, request: Buffer.from('X-Added: 1\r\n') });
      for (const c of cut(garbage, [0.3, 0.6])) h.s.clientData(c);
      assert.equal(h.upstreamBytes(), garbage, JSON.stringify(garbage));
      assert.equal(h.parseErrors(), 1, JSON.stringify(garbage));
      assert.ok(h.s.opaque);
    }
  });

  test('a malformed chunked body after a good head keeps the bytes and counts an error', () => {
    const h = sniffer();
    const bytes = 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nmore';
    for (const c of cut(bytes, [0.5, 0.9])) h.s.clientData(c);
    assert.equal(h.upstreamBytes(), bytes);
    assert.equal(h.parseErrors(), 1);
  });

  test('a response nobody asked for is a parse error', () => {
    const h = sniffer();
    h.s.clientData(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    h.s.upstreamData(
      Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n'),
    );
    assert.equal(h.parseErrors(), 1);
  });

  test('each request on a keep-alive connection gets its own target and authority', () => {
    // Heads are parsed one chunk at a time, and strings equal to the previous ones are reused.
    fc.assert(
      fc.property(cuts, (requestCuts) => {
        const h = sniffer();
        const requests =
          'GET /a HTTP/1.1\r\nHost: one.example\r\n\r\n' +
          'GET /a HTTP/1.1\r\nHost: one.example\r\n\r\n' +
          'GET /b HTTP/1.1\r\nHost: two.example\r\n\r\n' +
          'GET /b HTTP/1.1\r\n\r\n' +
          'GET http://three.example/c HTTP/1.1\r\nHost: three.example\r\n\r\n';
        for (const c of cut(requests, requestCuts)) h.s.clientData(c);
        h.s.upstreamData(Buffer.from('HTTP/1.1 204 No Content\r\n\r\n'.repeat(5)));
        assert.deepEqual(
          h.records.map((r) => [r.authority, r.path]),
          [
            ['one.example', '/a'],
            ['one.example', '/a'],
            ['two.example', '/b'],
            ['', '/b'],
            ['three.example', '/c'],
          ],
        );
        assert.equal(h.parseErrors(), 0);
      }),
    );
  });

  test('a head whose lines end in a bare LF still passes through unchanged', () => {
    const h = sniffer();
    const request = 'GET /lf HTTP/1.1\nHost: app.example\n\r\n\r\n';
    h.s.clientData(Buffer.from(request, 'latin1'));
    assert.equal(h.upstreamBytes(), request);
    assert.equal(h.parseErrors(), 0);
  });
});
