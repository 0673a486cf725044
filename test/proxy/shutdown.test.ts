// Shutdown loses no request (docs/proxy.md, "Shutdown"): across SIGTERM a
// request in flight on a keep-alive connection gets its whole response, then
// the connection closes cleanly at that response boundary; idle keep-alives
// close at once; new inbound connections are refused; the proxy exits 0 within
// its drain budget. In the classic layout the app's outbound calls keep
// working while it shuts down. POST /quitquitquit ends a classic Job's proxy.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { echoAppHandler } from './support/echo-app.ts';
import {
  closeServer,
  EPHEMERAL_FLAGS,
  listenHttp,
  type ProxyProcess,
  withSpawnedProxy,
} from './support/harness.ts';

let app: Awaited<ReturnType<typeof listenHttp>>;

before(async () => {
  app = await listenHttp(echoAppHandler());
});
after(async () => {
  await closeServer(app);
});

/** One raw keep-alive connection: what arrived, and how it ended. */
class KeepAlive {
  readonly socket: net.Socket;
  received = '';
  ended: Promise<'fin' | 'reset'>;

  constructor(port: number) {
    this.socket = net.connect({ port, host: '127.0.0.1' });
    this.socket.setEncoding('latin1');
    this.socket.on('data', (c: string) => {
      this.received += c;
    });
    this.ended = new Promise((resolve) => {
      this.socket.once('error', () => resolve('reset'));
      this.socket.once('end', () => {
        resolve('fin');
        this.socket.end();
      });
    });
  }

  async connected(): Promise<this> {
    await once(this.socket, 'connect');
    return this;
  }

  send(path: string): void {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: app\r\n\r\n`);
  }

  /** Waits until `count` complete responses (all with Content-Length) have arrived. */
  async responses(count: number, timeoutMs = 5000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = completeResponses(this.received);
      if (parsed.length >= count) return parsed;
      if (Date.now() > deadline) throw new Error(`only ${parsed.length}: ${this.received}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

function completeResponses(text: string): string[] {
  const out: string[] = [];
  let rest = text;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd === -1) return out;
    const length = Number(/content-length: *(\d+)/i.exec(rest.slice(0, headEnd))?.[1] ?? 0);
    const end = headEnd + 4 + length;
    if (rest.length < end) return out;
    out.push(rest.slice(0, end));
    rest = rest.slice(end);
  }
}

async function withProxy(flags: string[], run: (p: ProxyProcess) => Promise<void>): Promise<void> {
  await withSpawnedProxy(
    [...EPHEMERAL_FLAGS, `--fixed-destination=127.0.0.1:${app.port}`, ...flags],
    {},
    run,
  );
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** Sends SIGTERM while `busy` waits on a slow response and `idle` sits between requests. */
async function sigtermWithRequestInFlight(p: ProxyProcess, slowMs: number) {
  const busy = await new KeepAlive(p.ports.inbound).connected();
  busy.send('/get?warm=1');
  await busy.responses(1);
  const idle = await new KeepAlive(p.ports.inbound).connected();
  idle.send('/get?idle=1');
  await idle.responses(1);
  busy.send(`/slow?ms=${slowMs}`);
  await new Promise((r) => setTimeout(r, 150));
  const signalled = Date.now();
  p.child.kill('SIGTERM');
  return { busy, idle, signalled };
}

for (const layout of ['native', 'classic'] as const) {
  test(`${layout}: a request in flight across SIGTERM gets its whole response, then a clean close`, async () => {
    const budgetMs = 3000;
    await withProxy([`--layout=${layout}`, `--drain-timeout-ms=${budgetMs}`], async (p) => {
      const { busy, idle, signalled } = await sigtermWithRequestInFlight(p, 800);

      // The idle keep-alive is closed at its response boundary: a FIN, nothing more.
      assert.equal(await idle.ended, 'fin');
      assert.equal((await idle.responses(1)).length, 1);
      assert.equal(completeResponses(idle.received).join(''), idle.received, 'no partial bytes');

      // No new inbound connection is accepted.
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(await refused(p.ports.inbound), 'inbound refused while draining');

      // The request in flight completes whole, says Connection: close, and only then the FIN.
      assert.equal(await busy.ended, 'fin');
      const [warm, slow] = await busy.responses(2);
      assert.match(warm!, /^HTTP\/1\.1 200/);
      assert.match(slow!, /^HTTP\/1\.1 200/);
      assert.match(slow!, /\r\nConnection: close\r\n/i);
      assert.ok(slow!.endsWith('slow done\n'), slow);
      assert.equal(completeResponses(busy.received).join(''), busy.received, 'ends at a boundary');

      assert.equal(await p.exited, 0);
      const tookMs = Date.now() - signalled;
      assert.ok(tookMs < budgetMs + 1000, `exited ${tookMs} ms after SIGTERM, budget ${budgetMs}`);
    });
  });
}

test('native: once the last connection is gone the proxy exits at once, well inside the budget', async () => {
  await withProxy(['--layout=native', '--drain-timeout-ms=10000'], async (p) => {
    const { busy, signalled } = await sigtermWithRequestInFlight(p, 300);
    assert.equal(await busy.ended, 'fin');
    assert.equal(await p.exited, 0);
    assert.ok(Date.now() - signalled < 2000, 'no waiting for a budget nobody needs');
  });
});

test('classic: while the app shuts down its outbound calls are still carried', async () => {
  await withProxy(['--layout=classic', '--drain-timeout-ms=2500'], async (p) => {
    const { busy, signalled } = await sigtermWithRequestInFlight(p, 300);
    assert.equal(await busy.ended, 'fin');
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(await refused(p.ports.inbound));
    // The app, still running, calls out: the outbound listener takes it.
    const call = await new KeepAlive(p.ports.outbound).connected();
    call.send('/get?shutdown=flush');
    const [response] = await call.responses(1);
    assert.match(response!, /^HTTP\/1\.1 200/);
    assert.match(response!, /shutdown/);
    call.socket.end();
    assert.equal(p.child.exitCode, null, 'still serving the app');
    assert.equal(await p.exited, 0);
    assert.ok(Date.now() - signalled < 2500 + 1000);
  });
});

test('a request longer than the budget is cut at the deadline and the proxy still exits in time', async () => {
  await withProxy(['--layout=native', '--drain-timeout-ms=1000'], async (p) => {
    const { signalled } = await sigtermWithRequestInFlight(p, 5000);
    assert.equal(await p.exited, 0);
    const tookMs = Date.now() - signalled;
    assert.ok(tookMs >= 900 && tookMs < 2000, `exited after ${tookMs} ms`);
  });
});

test('POST /quitquitquit on the admin port drains and exits 0; other methods get 405', async () => {
  // Classic, with a long budget: a job that is done does not wait for it.
  await withProxy(['--layout=classic', '--drain-timeout-ms=30000'], async (p) => {
    const url = `http://127.0.0.1:${p.ports.admin}/quitquitquit`;
    const get = await fetch(url);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.equal(p.child.exitCode, null);
    const started = Date.now();
    const post = await fetch(url, { method: 'POST' });
    assert.equal(post.status, 200);
    assert.equal(await p.exited, 0);
    assert.ok(Date.now() - started < 2000, 'no drain budget to wait out');
  });
});
