// The app side of the traffic-policy suite, run in the pod namespace (so its
// connections are captured): reads one JSON command per line on stdin and
// answers each with one JSON line on stdout. Every wait is bounded.
//
//   {"op":"tcp","host","port","send"?}           connect, send, wait for bytes back
//   {"op":"http","host","port","hostHeader","halfClose"?}  one GET with that Host
//   {"op":"tls","host","port","servername"}       handshake, then an echo
//   {"op":"burst","host","port","count"}          count tcp probes at once
//   {"op":"series","host","port","everyMs","durationMs"}  one tcp probe per tick
//   {"op":"bulkStart","host","port","bytes"}      ask for bytes, read 1 MiB, pause
//   {"op":"bulkFinish"}                           resume, read to the end, hash
//
// An outcome is "data" (with what came back), "reset" (ECONNRESET, EPIPE),
// "closed" (a FIN with nothing) or "timeout", with the milliseconds it took.
import { createHash } from 'node:crypto';
import net from 'node:net';
import readline from 'node:readline';
import tls from 'node:tls';

interface Outcome {
  outcome: 'data' | 'reset' | 'closed' | 'timeout' | 'error';
  data?: string;
  error?: string;
  ms: number;
}

const PROBE_TIMEOUT_MS = 5_000;

function settle(socket: net.Socket, expect: (received: string) => boolean): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    let received = '';
    let done = false;
    const finish = (outcome: Outcome['outcome'], error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({
        outcome,
        ...(received ? { data: received } : {}),
        ...(error ? { error } : {}),
        ms: Math.round(performance.now() - started),
      });
    };
    const timer = setTimeout(() => finish('timeout'), PROBE_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (expect(received)) finish('data');
    });
    socket.on('end', () => finish(received ? 'data' : 'closed'));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      finish(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'reset' : 'error', err.code),
    );
  });
}

function tcp(host: string, port: number, send: string | undefined): Promise<Outcome> {
  const socket = net.connect({ host, port });
  if (send !== undefined) socket.write(send);
  // Echo servers answer with what was sent; a greeting is a whole line.
  return settle(socket, (r) => (send === undefined ? r.includes('\n') : r.length >= send.length));
}

/** With halfClose, the request is followed by a FIN at once (as `nc -N` sends it). */
function httpGet(
  host: string,
  port: number,
  hostHeader: string,
  halfClose: boolean,
): Promise<Outcome> {
  const socket = net.connect({ host, port, allowHalfOpen: true });
  const request = `GET / HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`;
  if (halfClose) socket.end(request);
  else socket.write(request);
  return settle(socket, () => false);
}

function tlsEcho(host: string, port: number, servername: string): Promise<Outcome> {
  const socket = tls.connect({ host, port, servername, rejectUnauthorized: false });
  socket.on('secureConnect', () => socket.write('ping'));
  return settle(socket, (r) => r === 'ping');
}

async function series(host: string, port: number, everyMs: number, durationMs: number) {
  const started = performance.now();
  const attempts: Array<{ atMs: number; outcome: string }> = [];
  const pending: Promise<void>[] = [];
  while (performance.now() - started < durationMs) {
    const atMs = Math.round(performance.now() - started);
    pending.push(
      tcp(host, port, 'x').then((o) => void attempts.push({ atMs, outcome: o.outcome })),
    );
    await new Promise((r) => setTimeout(r, everyMs));
  }
  await Promise.all(pending);
  return attempts.sort((a, b) => a.atMs - b.atMs);
}

let bulk: { socket: net.Socket; hash: ReturnType<typeof createHash>; bytes: number } | undefined;

function bulkStart(host: string, port: number, bytes: number): Promise<object> {
  const socket = net.connect({ host, port });
  const state = { socket, hash: createHash('sha256'), bytes: 0 };
  bulk = state;
  socket.write(`${bytes}\n`);
  return new Promise((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      state.hash.update(chunk);
      state.bytes += chunk.length;
      if (state.bytes >= 1024 * 1024 && !socket.isPaused() && bulk === state) {
        socket.pause();
        resolve({ started: state.bytes });
      }
    });
    socket.on('error', (err) => resolve({ error: err.message }));
  });
}

function bulkFinish(): Promise<object> {
  const state = bulk!;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ error: 'timeout', bytes: state.bytes }), 60_000);
    state.socket.on('end', () => {
      clearTimeout(timer);
      resolve({ bytes: state.bytes, sha256: state.hash.digest('hex') });
    });
    state.socket.on('error', (err) => resolve({ error: err.message, bytes: state.bytes }));
    bulk = undefined;
    state.socket.resume();
  });
}

type Command = Record<string, string | number | undefined>;

async function run(c: Command): Promise<unknown> {
  const host = String(c.host);
  const port = Number(c.port);
  switch (c.op) {
    case 'tcp':
      return tcp(host, port, c.send as string | undefined);
    case 'http':
      return httpGet(host, port, String(c.hostHeader), c.halfClose === 1);
    case 'tls':
      return tlsEcho(host, port, String(c.servername));
    case 'burst':
      return Promise.all(Array.from({ length: Number(c.count) }, () => tcp(host, port, 'x')));
    case 'series':
      return series(host, port, Number(c.everyMs), Number(c.durationMs));
    case 'bulkStart':
      return bulkStart(host, port, Number(c.bytes));
    case 'bulkFinish':
      return bulkFinish();
    default:
      return { error: `unknown op ${c.op}` };
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const command = JSON.parse(line) as Command;
  void run(command).then((result) =>
    process.stdout.write(`${JSON.stringify({ id: command.id, result })}\n`),
  );
});
lines.on('close', () => process.exit(0));
process.stdout.write('probe ready\n');
