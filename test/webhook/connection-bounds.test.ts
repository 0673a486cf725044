// The webhook's connection bounds, against a real `outrigger serve`: sockets
// that never start TLS are cut after the handshake timeout, connections past
// the limit are refused and counted, and SIGTERM exits promptly however many
// idle or half-open sockets are held. Connections go to 127.0.0.1 only.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;

interface Running {
  child: ChildProcess;
  port: number;
  ca: string;
  dir: string;
}

const running: Running[] = [];
const sockets: Socket[] = [];

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const { child, dir } of running.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Starts `outrigger serve` with generated certificates on a free port. */
async function startServe(...flags: string[]): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'outrigger-bounds-'));
  const child = spawn(
    process.execPath,
    [
      CLI,
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--certs-dir',
      join(dir, 'certs'),
      ...flags,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let logs = '';
  child.stderr?.on('data', (c: Buffer) => {
    logs += c;
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      logs += chunk;
      const match = /Server listening at https:\/\/127\.0\.0\.1:(\d+)/.exec(logs);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${logs}`)));
  });
  const server = { child, port, ca: readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8'), dir };
  running.push(server);
  return server;
}

/** Opens plain TCP connections that never send a byte. */
async function openIdle(port: number, count: number): Promise<Socket[]> {
  const opened = await Promise.all(
    Array.from({ length: count }, async () => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.on('error', () => {});
      sockets.push(socket);
      await once(socket, 'connect');
      return socket;
    }),
  );
  return opened;
}

/** Opens a TLS connection that finishes its handshake and sends nothing. */
async function openSecured(server: Running): Promise<Socket> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port: server.port,
    ca: server.ca,
    servername: 'localhost',
  });
  socket.on('error', () => {});
  sockets.push(socket);
  await once(socket, 'secureConnect');
  return socket;
}

/** Milliseconds until the server closes the socket. */
async function msUntilClosed(socket: Socket | undefined): Promise<number> {
  assert.ok(socket);
  const started = Date.now();
  await once(socket, 'close');
  return Date.now() - started;
}

const isClosed = (socket: Socket) => socket.destroyed || socket.readableEnded;

function get(server: Running, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        path,
        ca: server.ca,
        servername: 'localhost',
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('webhook connection bounds', () => {
  test('a connection that never starts TLS is closed after the handshake timeout', async () => {
    const server = await startServe('--handshake-timeout', '1000');
    const elapsed = await msUntilClosed((await openIdle(server.port, 1))[0]);
    assert.ok(elapsed < 4000, `closed after ${elapsed} ms`);
  });

  test('a connection through its handshake that never sends a request is closed as well', async () => {
    const server = await startServe('--handshake-timeout', '1000');
    const elapsed = await msUntilClosed(await openSecured(server));
    assert.ok(elapsed < 4000, `closed after ${elapsed} ms`);
  });

  test('the default handshake timeout is a few seconds, not two minutes', async () => {
    const server = await startServe();
    const elapsed = await msUntilClosed((await openIdle(server.port, 1))[0]);
    assert.ok(elapsed < 10_000, `closed after ${elapsed} ms`);
  });

  test('connections over --max-connections are closed at once, counted, and the limit frees up', async () => {
    const server = await startServe('--max-connections', '20', '--handshake-timeout', '60000');
    const held = await openIdle(server.port, 40);
    await new Promise((r) => setTimeout(r, 500));
    const open = held.filter((socket) => !isClosed(socket)).length;
    assert.equal(open, 20, `${open} of 40 still open`);
    for (const socket of held) socket.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const health = await get(server, '/healthz');
    assert.equal(health.status, 200);
    const metrics = await get(server, '/metrics');
    const dropped = /^outrigger_webhook_connections_dropped_total (\d+)$/m.exec(metrics.body);
    assert.equal(Number(dropped?.[1]), 20);
  });

  test('SIGTERM exits within seconds with idle, pre-TLS and half-open sockets held', async () => {
    const server = await startServe();
    await openIdle(server.port, 300);
    // One connection through a finished handshake that never sends a request,
    // and one that half-closes before its handshake.
    await openSecured(server);
    const [halfOpen] = await openIdle(server.port, 1);
    halfOpen?.end();
    const exited = once(server.child, 'exit');
    const started = Date.now();
    server.child.kill('SIGTERM');
    const [code] = await exited;
    const elapsed = Date.now() - started;
    assert.equal(code, 0);
    assert.ok(elapsed < 3000, `exited ${elapsed} ms after SIGTERM`);
  });
});
