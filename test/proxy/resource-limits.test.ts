// The proxy's resources are bounded: connections above a limit (derived from
// the heap, the file descriptors and the memory, or configured) are reset at
// once and counted while the health port keeps answering; partial heads are
// capped per head and in total, and released once parsed; accept errors are
// counted and logged instead of ending the process.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connectionLimit } from '../../proxy/src/connection-limit.ts';
import { HeldHeadBudget } from '../../proxy/src/http/held-heads.ts';
import { MAX_HEAD_BYTES } from '../../proxy/src/http/message-stream.ts';
import { type HeaderInserts, HttpSniffer } from '../../proxy/src/http/sniffer.ts';
import { createCaptureListener } from '../../proxy/src/listeners/capture-listener.ts';
import { OwnUpstreams } from '../../proxy/src/listeners/own-upstreams.ts';
import { createLogger } from '../../proxy/src/log.ts';
import { ProxyStats } from '../../proxy/src/stats/proxy-stats.ts';
import {
  closeServer,
  EPHEMERAL_FLAGS,
  getJson,
  listenTcp,
  openFds,
  type ProxyProcess,
  rssKiB,
  withProxyProcess,
} from './support/harness.ts';

const MiB = 1024 * 1024;

interface Totals {
  activeConnections: number;
  limitRefusals: number;
  acceptErrors: number;
}

let sink: Awaited<ReturnType<typeof listenTcp>>;
const sinkSockets = new Set<net.Socket>();

before(async () => {
  // An upstream that accepts and reads everything, answering nothing.
  sink = await listenTcp((socket) => {
    sinkSockets.add(socket);
    socket.on('close', () => sinkSockets.delete(socket));
    socket.on('error', () => {});
    socket.on('end', () => socket.end());
    socket.resume();
  });
});
after(async () => {
  for (const socket of sinkSockets) socket.destroy();
  await closeServer(sink);
});

function withProxy(
  extra: string[],
  run: (p: ProxyProcess) => Promise<void>,
  wrapper: string[] = [],
): Promise<void> {
  return withProxyProcess(
    [...EPHEMERAL_FLAGS, `--fixed-destination=127.0.0.1:${sink.port}`, ...extra],
    run,
    wrapper,
  );
}

const totals = async (p: ProxyProcess) =>
  (await getJson<{ totals: Totals }>(`http://127.0.0.1:${p.ports.admin}/stats`)).totals;

/** Opens `count` connections and reports which stayed open and which the proxy cut. */
async function openIdle(
  port: number,
  count: number,
  firstBytes?: Buffer,
): Promise<{ open: net.Socket[]; cut: number }> {
  const sockets: net.Socket[] = [];
  let cut = 0;
  for (let i = 0; i < count; i++) {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', () => {});
    socket.on('close', () => cut++);
    try {
      await once(socket, 'connect');
    } catch {
      // The proxy's reset of a connection over the limit can reach the client
      // before libuv reports the connect: that one was cut too ('close' counts it).
      continue;
    }
    if (firstBytes) socket.write(firstBytes);
    sockets.push(socket);
  }
  await new Promise((r) => setTimeout(r, 300));
  return { open: sockets.filter((s) => !s.destroyed), cut };
}

async function healthStatus(p: ProxyProcess): Promise<number> {
  return (await fetch(`http://127.0.0.1:${p.ports.health}/healthz/ready`)).status;
}

describe('connection limit', () => {
  test('above --max-connections new connections are reset and counted; health still answers', async () => {
    await withProxy(['--max-connections=40'], async (p) => {
      const { open, cut } = await openIdle(p.ports.outbound, 50);
      try {
        assert.equal(open.length, 40);
        assert.equal(cut, 10);
        const t = await totals(p);
        assert.equal(t.activeConnections, 40);
        assert.equal(t.limitRefusals, 10);
        assert.equal(await healthStatus(p), 200);
        assert.match(p.stderr(), /connection limit reached/);
        // Room again once connections close.
        for (const socket of open.slice(0, 5)) socket.destroy();
        // Until the proxy has seen the five closes (no fixed sleep: a loaded
        // machine takes longer), bounded at 10 s.
        for (let i = 0; i < 100 && (await totals(p)).activeConnections > 35; i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        const again = await openIdle(p.ports.inbound, 5);
        assert.equal(again.open.length, 5);
        for (const socket of again.open) socket.destroy();
      } finally {
        for (const socket of open) socket.destroy();
      }
    });
  });

  test('by default the limit stays below the descriptor limit, so the health port keeps answering', async () => {
    // 300 descriptors: (300 - 256 reserved) / 2 per connection = 22 connections.
    await withProxy(
      [],
      async (p) => {
        assert.match(p.stderr(), /"maxConnections":22,"maxConnectionsBoundBy":"fds"/);
        const { open } = await openIdle(p.ports.outbound, 60);
        try {
          assert.equal(open.length, 22);
          assert.equal((await totals(p)).limitRefusals, 38);
          assert.equal((await totals(p)).acceptErrors, 0);
          assert.equal(await healthStatus(p), 200);
          assert.ok(openFds(p.child.pid!) < 300);
        } finally {
          for (const socket of open) socket.destroy();
        }
      },
      ['prlimit', '--nofile=300:300'],
    );
  });

  test('the default is the smallest of the heap, descriptor and memory budgets', () => {
    const image = { heapLimitBytes: 70 * MiB, fdLimit: 1_048_576, memoryLimitBytes: 256 * MiB };
    // (256 - 96 base - 70 heap - 8 heads) MiB / 64 KiB read buffer = 1,312.
    assert.deepEqual(connectionLimit(undefined, image, 64 * 1024, 8 * MiB), {
      limit: 1312,
      boundBy: 'memory',
    });
    // Without a memory limit: half the heap at 8 KiB a connection.
    assert.deepEqual(
      connectionLimit(undefined, { ...image, memoryLimitBytes: undefined }, 64 * 1024, 8 * MiB),
      { limit: 4480, boundBy: 'heap' },
    );
    assert.deepEqual(connectionLimit(undefined, { ...image, fdLimit: 1024 }, 64 * 1024, 8 * MiB), {
      limit: 384,
      boundBy: 'fds',
    });
    // Configured: as given, but never above what the descriptors allow.
    assert.deepEqual(connectionLimit(5000, image, 64 * 1024, 8 * MiB), {
      limit: 5000,
      boundBy: 'configured',
    });
    assert.deepEqual(connectionLimit(5000, { ...image, fdLimit: 1024 }, 64 * 1024, 8 * MiB), {
      limit: 384,
      boundBy: 'fds',
    });
  });
});

describe('partial heads', () => {
  const NO_INSERTS: HeaderInserts = {
    request: Buffer.from('X-Added: 1\r\n'),
    response: undefined,
    responseWhileDraining: Buffer.from('Connection: close\r\n'),
  };

  function snifferWith(budget: HeldHeadBudget) {
    const up: Buffer[] = [];
    const s = new HttpSniffer(
      'outbound',
      NO_INSERTS,
      { onRecord: () => {}, onParseError: () => {}, onClosingResponseSent: () => {} },
      'c',
      'u',
      (b) => up.push(Buffer.from(b)),
      () => {},
      budget,
    );
    return { s, upstream: () => Buffer.concat(up).toString('latin1') };
  }

  test('a held head is released as soon as it is parsed, and on close', () => {
    const budget = new HeldHeadBudget(Infinity);
    const { s, upstream } = snifferWith(budget);
    s.clientData(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n'));
    assert.ok(budget.held > 0);
    s.clientData(Buffer.from('\r\n'));
    assert.equal(budget.held, 0);
    assert.equal(upstream(), 'GET / HTTP/1.1\r\nHost: a\r\nX-Added: 1\r\n\r\n');
    s.clientData(Buffer.from('GET /2 HTTP/1.1\r\n'));
    assert.ok(budget.held > 0);
    s.closed('-');
    assert.equal(budget.held, 0);
  });

  test('a head never holds more than the cap, however it grows', () => {
    const budget = new HeldHeadBudget(Infinity);
    const { s, upstream } = snifferWith(budget);
    const line = Buffer.from(`X-Pad: ${'a'.repeat(1000)}\r\n`);
    let sent = 'GET / HTTP/1.1\r\n';
    s.clientData(Buffer.from(sent));
    for (let i = 0; i < 80; i++) {
      s.clientData(line);
      sent += line.toString('latin1');
      assert.ok(budget.held <= MAX_HEAD_BYTES + 3, `${budget.held} held`);
    }
    // Over the cap: opaque, released, and every byte went through unchanged.
    assert.equal(budget.held, 0);
    assert.equal(upstream(), sent);
  });

  test('when the shared budget is spent, a connection passes its bytes through as opaque', () => {
    const budget = new HeldHeadBudget(16 * 1024);
    const first = snifferWith(budget);
    const second = snifferWith(budget);
    const partial = Buffer.from(`GET / HTTP/1.1\r\nX-Pad: ${'a'.repeat(6000)}\r\n`);
    first.s.clientData(partial);
    assert.ok(budget.held > 0 && budget.held <= 16 * 1024);
    second.s.clientData(partial);
    // The second could not be held: forwarded as is, nothing taken.
    assert.equal(second.upstream(), partial.toString('latin1'));
    assert.ok(second.s.opaque);
    first.s.closed('-');
    second.s.closed('-');
    assert.equal(budget.held, 0);
  });

  test('1,000 connections each holding an unterminated 60 KiB head keep RSS bounded', async () => {
    await withProxy(['--add-request-headers=X-Added: 1'], async (p) => {
      const pid = p.child.pid!;
      const rssBefore = rssKiB(pid);
      const head = Buffer.from(`GET / HTTP/1.1\r\nX-Pad: ${'a'.repeat(60 * 1024)}\r\n`);
      const { open } = await openIdle(p.ports.outbound, 1000, head);
      try {
        await new Promise((r) => setTimeout(r, 500));
        const grown = rssKiB(pid) - rssBefore;
        assert.equal(open.length, 1000);
        // Unbounded this is 1,000 × 60-120 KiB; bounded, the 8 MiB budget and per-connection state.
        assert.ok(grown < 48 * 1024, `RSS grew by ${grown} KiB`);
      } finally {
        for (const socket of open) socket.destroy();
      }
    });
  });
});

describe('accept errors', () => {
  test('are counted and logged, and the listener keeps serving', async () => {
    const stats = new ProxyStats();
    const lines: string[] = [];
    const server = createCaptureListener({
      direction: 'outbound',
      resolve: () => ({ address: '127.0.0.1', port: sink.port, family: 4 }),
      policy: {
        capturePorts: [],
        localAddresses: new Set<string>(),
        destinationFromKernel: false,
      },
      stats,
      settings: undefined as never, // no connection reaches a Splice in this test
      log: createLogger('info', (line) => lines.push(line)),
      live: new Set(),
      ownUpstreams: new OwnUpstreams(),
      maxConnections: 0,
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      // What libuv reports when accept() fails and its reserve descriptor is gone.
      const emfile = Object.assign(new Error('accept EMFILE'), {
        code: 'EMFILE',
        syscall: 'accept',
      });
      server.emit('error', emfile);
      server.emit('error', emfile);
      assert.equal(stats.totals.acceptErrors, 2);
      assert.equal(lines.filter((l) => l.includes('accepting a connection failed')).length, 1);
      assert.ok(server.listening);
      const metrics = await stats.registry.metrics();
      assert.match(
        metrics,
        /outrigger_accept_errors_total\{direction="outbound",code="EMFILE"\} 2/,
      );
    } finally {
      server.close();
    }
  });
});
