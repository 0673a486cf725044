// forwardPodIdentity: outbound requests carry the pod's own identity, which
// the app cannot forge. X-Client-Hostname is set, replacing whatever the app
// sent; the pod IP is appended to an existing X-Forwarded-For list on the same
// line (`a, b`); field names match case-insensitively; heads split across
// chunks are rewritten the same way.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  encodeHeaderLines,
  identityRewrite,
  outboundRequestHeaders,
} from '../../proxy/src/http/added-headers.ts';
import { HttpSniffer } from '../../proxy/src/http/sniffer.ts';

const IDENTITY = {
  forwardPodIdentity: true,
  podIp: '192.0.2.10',
  podName: 'pod-a',
  extra: [{ name: 'X-Team', value: 'blue' }],
};

/** What the upstream receives for `request`, cut at `cuts` (byte offsets). */
function rewritten(request: string, cuts: number[] = [], identity = IDENTITY): string {
  const out: Buffer[] = [];
  const sniffer = new HttpSniffer(
    'outbound',
    {
      request: encodeHeaderLines(outboundRequestHeaders(identity)),
      response: undefined,
      responseWhileDraining: Buffer.from('Connection: close\r\n'),
      identity: identityRewrite(identity),
    },
    { onRecord: () => {}, onParseError: () => {}, onClosingResponseSent: () => {} },
    'c',
    'u',
    (b) => out.push(Buffer.from(b)),
    () => {},
  );
  const bytes = Buffer.from(request, 'latin1');
  let last = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut > last && cut < bytes.length) {
      sniffer.clientData(bytes.subarray(last, cut));
      last = cut;
    }
  }
  sniffer.clientData(bytes.subarray(last));
  return Buffer.concat(out).toString('latin1');
}

describe('pod identity headers', () => {
  test('without the app sending any, both are added', () => {
    assert.equal(
      rewritten('GET / HTTP/1.1\r\nHost: a\r\n\r\n'),
      'GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 192.0.2.10\r\nX-Client-Hostname: pod-a\r\nX-Team: blue\r\n\r\n',
    );
  });

  test("the app's X-Client-Hostname is replaced, whatever its case and however many lines", () => {
    assert.equal(
      rewritten(
        'GET / HTTP/1.1\r\nx-client-HOSTNAME: admin-pod\r\nHost: a\r\nX-Client-Hostname: b\r\n\r\n',
      ),
      'GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 192.0.2.10\r\nX-Client-Hostname: pod-a\r\nX-Team: blue\r\n\r\n',
    );
  });

  test('the pod IP is appended to an existing X-Forwarded-For list on the same line', () => {
    assert.equal(
      rewritten(
        'GET / HTTP/1.1\r\nHost: a\r\nx-forwarded-for: 198.51.100.7, 203.0.113.1  \r\nAccept: */*\r\n\r\n',
      ),
      'GET / HTTP/1.1\r\nHost: a\r\nx-forwarded-for: 198.51.100.7, 203.0.113.1, 192.0.2.10  \r\nAccept: */*\r\nX-Client-Hostname: pod-a\r\nX-Team: blue\r\n\r\n',
    );
    // Several lines form one list: the pod IP goes at its end, the last line.
    assert.equal(
      rewritten('GET / HTTP/1.1\r\nX-Forwarded-For: a\r\nX-Forwarded-For: b\r\n\r\n'),
      'GET / HTTP/1.1\r\nX-Forwarded-For: a\r\nX-Forwarded-For: b, 192.0.2.10\r\nX-Client-Hostname: pod-a\r\nX-Team: blue\r\n\r\n',
    );
    assert.equal(
      rewritten('GET / HTTP/1.1\r\nX-Forwarded-For:\r\n\r\n'),
      'GET / HTTP/1.1\r\nX-Forwarded-For:192.0.2.10\r\nX-Client-Hostname: pod-a\r\nX-Team: blue\r\n\r\n',
    );
  });

  test('both at once, in either order, on a bare-LF head', () => {
    assert.equal(
      rewritten('GET / HTTP/1.1\nX-Client-Hostname: admin-pod\nX-Forwarded-For: 1.2.3.4\n\n'),
      'GET / HTTP/1.1\nX-Forwarded-For: 1.2.3.4, 192.0.2.10\nX-Client-Hostname: pod-a\r\nX-Team: blue\r\n\n',
    );
    assert.equal(
      rewritten(
        'GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\nX-Client-Hostname: admin-pod\r\n\r\n',
      ),
      'GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4, 192.0.2.10\r\nX-Client-Hostname: pod-a\r\nX-Team: blue\r\n\r\n',
    );
  });

  test('a head split anywhere is rewritten exactly as a whole one', () => {
    const request =
      'POST /p HTTP/1.1\r\nX-Client-Hostname: admin-pod\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\nContent-Length: 3\r\n\r\nabc' +
      'GET /q HTTP/1.1\r\nx-forwarded-for: 5.6.7.8\r\n\r\n';
    const whole = rewritten(request);
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: request.length - 1 }), { maxLength: 8 }),
        (cuts) => {
          assert.equal(rewritten(request, cuts), whole);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('without a pod IP or name only the known half is touched', () => {
    assert.equal(
      rewritten('GET / HTTP/1.1\r\nX-Forwarded-For: a\r\nX-Client-Hostname: b\r\n\r\n', [], {
        ...IDENTITY,
        podIp: '',
      }),
      'GET / HTTP/1.1\r\nX-Forwarded-For: a\r\nX-Client-Hostname: pod-a\r\nX-Team: blue\r\n\r\n',
    );
  });
});
