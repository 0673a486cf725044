// node bench/sniffer.ts [checkout] — the HTTP sniffer and statistics alone, in
// process: ns per request/response pair (a benchmark, not a test).
//
// One inbound connection's sniffer is fed the bench:proxy small-body exchange
// (wrk's request, nginx's 200 with a 19-byte body), one chunk each, as the
// proxy sees it under `wrk -c32` keep-alive; every record goes to a real
// ProxyStats. Five rounds of BENCH_PAIRS pairs; the best round is the figure.
// `checkout` (default: this one) is a tree with dist/ built, so two commits can
// be compared interleaved, e.g. against a `git worktree` of the other one.
// Pin it to a core: `taskset -c 0 node bench/sniffer.ts`.
import { join } from 'node:path';
import type * as SnifferModule from '../proxy/src/http/sniffer.ts';
import type * as StatsModule from '../proxy/src/stats/proxy-stats.ts';

const checkout = process.argv[2] ?? new URL('..', import.meta.url).pathname;
const PAIRS = Number(process.env.BENCH_PAIRS ?? 1_000_000);

const { HttpSniffer } = (await import(
  join(checkout, 'dist/proxy/src/http/sniffer.js')
)) as typeof SnifferModule;
const { ProxyStats } = (await import(
  join(checkout, 'dist/proxy/src/stats/proxy-stats.js')
)) as typeof StatsModule;

const request = Buffer.from('GET / HTTP/1.1\r\nHost: 192.0.2.2:18080\r\n\r\n', 'latin1');
const response = Buffer.from(
  'HTTP/1.1 200 OK\r\nServer: nginx/1.26.3\r\nDate: Tue, 01 Dec 2026 11:40:00 GMT\r\n' +
    'Content-Type: application/octet-stream\r\nContent-Length: 19\r\nConnection: keep-alive\r\n\r\n' +
    'hello from backend\n',
  'latin1',
);

const stats = new ProxyStats();
let forwarded = 0;
const sniffer = new HttpSniffer(
  'inbound',
  {
    request: undefined,
    response: undefined,
    responseWhileDraining: Buffer.from('Connection: close\r\n', 'latin1'),
  },
  {
    onRecord: (record) => stats.recordRequest(record),
    onParseError: () => {},
    onClosingResponseSent: () => {},
  },
  '192.0.2.1:40000',
  '192.0.2.2:18080',
  (bytes) => {
    forwarded += bytes.length;
  },
  (bytes) => {
    forwarded += bytes.length;
  },
);

let best = Infinity;
for (let round = 0; round < 5; round++) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < PAIRS; i++) {
    sniffer.clientData(request);
    sniffer.upstreamData(response);
  }
  best = Math.min(best, Number(process.hrtime.bigint() - started) / PAIRS);
}
if (forwarded !== 5 * PAIRS * (request.length + response.length))
  throw new Error(`forwarded ${forwarded} bytes, expected every byte once`);
console.log(`${checkout}: ${best.toFixed(1)} ns per request/response pair (best of 5)`);
