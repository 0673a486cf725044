// The HTTP client of the L7 routing suite, run inside the client namespace:
//   node l7-client.ts '<scenario JSON>'
// prints one JSON line with what came back (and `started` first for a download).
//
// Scenarios:
// - requests: requests one after another on ONE keep-alive connection (an
//   Agent with one socket), each reported with its status, the backend that
//   answered (the echo app's `local`), a few headers and the client port (the
//   same port means the same connection); `summary` reports counts instead;
// - raw: bytes written and awaited step by step on one socket, everything
//   received reported with how the connection ended;
// - upload: a chunked POST of random bytes, streamed, with its SHA-256;
// - download: a GET whose body is hashed (and, with `pattern`, checked byte by
//   byte against the echo app's pattern); `pauseMs` stops reading after the
//   first chunk for that long (the response then waits in the proxy and the
//   kernel), printing `started` when it does.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { patternByte } from './echo-app.ts';

interface RequestSpec {
  path: string;
  method?: string;
  headers?: Record<string, string>;
}

type Scenario =
  | { kind: 'requests'; url: string; requests: RequestSpec[]; repeat?: number; summary?: boolean }
  | {
      kind: 'raw';
      host: string;
      port: number;
      steps: ({ send: string } | { waitFor: string })[];
      /** After the last step: how long to wait for the connection to end. */
      endWithinMs?: number;
    }
  | { kind: 'upload'; url: string; bytes: number }
  | { kind: 'download'; url: string; pauseMs?: number; pattern?: boolean };

export interface Answer {
  status: number;
  backend: string | undefined;
  headers: Record<string, string | undefined>;
  port: number | undefined;
  ms: number;
}

const REPORTED_HEADERS = ['myage', 'x-local-rate-limit', 'retry-after', 'x-added', 'connection'];

function one(agent: http.Agent, url: URL, spec: RequestSpec): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: spec.path,
        method: spec.method ?? 'GET',
        headers: spec.headers ?? {},
        agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let backend: string | undefined;
          try {
            backend = (JSON.parse(Buffer.concat(chunks).toString()) as { local?: string }).local;
          } catch {}
          const headers: Record<string, string | undefined> = {};
          for (const name of REPORTED_HEADERS)
            headers[name] = res.headers[name] as string | undefined;
          resolve({
            status: res.statusCode ?? 0,
            backend,
            headers,
            port: res.socket?.localPort ?? req.socket?.localPort,
            ms: performance.now() - started,
          });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function requests(s: Extract<Scenario, { kind: 'requests' }>): Promise<unknown> {
  const url = new URL(s.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const answers: Answer[] = [];
  const counts: Record<string, number> = {};
  const ports = new Set<number | undefined>();
  try {
    for (let r = 0; r < (s.repeat ?? 1); r++) {
      for (const spec of s.requests) {
        const answer = await one(agent, url, spec);
        ports.add(answer.port);
        if (s.summary) {
          const key = `${answer.status} ${answer.backend ?? '-'}`;
          counts[key] = (counts[key] ?? 0) + 1;
        } else {
          answers.push(answer);
        }
      }
    }
  } finally {
    agent.destroy();
  }
  return s.summary ? { counts, connections: ports.size } : answers;
}

async function raw(s: Extract<Scenario, { kind: 'raw' }>): Promise<unknown> {
  const socket = net.connect({ host: s.host, port: s.port, allowHalfOpen: true });
  socket.setEncoding('latin1');
  let received = '';
  let ended: 'fin' | 'reset' | 'open' = 'open';
  const changed: (() => void)[] = [];
  const notify = () => {
    for (const f of changed.splice(0)) f();
  };
  socket.on('data', (c: string) => {
    received += c;
    notify();
  });
  socket.on('end', () => {
    ended = 'fin';
    notify();
  });
  socket.on('error', () => {
    ended = 'reset';
    notify();
  });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const until = (done: () => boolean, ms: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          resolve(true);
        } else changed.push(check);
      };
      check();
    });
  for (const step of s.steps) {
    if ('send' in step) socket.write(Buffer.from(step.send, 'latin1'));
    else {
      const pattern = new RegExp(step.waitFor);
      if (!(await until(() => pattern.test(received) || ended !== 'open', 5000))) {
        return { received, ended, timedOutWaitingFor: step.waitFor };
      }
    }
  }
  if (s.endWithinMs !== undefined) await until(() => ended !== 'open', s.endWithinMs);
  socket.destroy();
  return { received, ended };
}

async function upload(s: Extract<Scenario, { kind: 'upload' }>): Promise<unknown> {
  const hash = createHash('sha256');
  return new Promise((resolve, reject) => {
    const req = http.request(s.url, { method: 'POST', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode, body, sentSha256: hash.digest('hex') }),
      );
    });
    req.on('error', reject);
    let left = s.bytes;
    const pump = () => {
      while (left > 0) {
        const piece = randomBytes(Math.min(left, 64 * 1024));
        left -= piece.length;
        hash.update(piece);
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

async function download(s: Extract<Scenario, { kind: 'download' }>): Promise<unknown> {
  const hash = createHash('sha256');
  let bytes = 0;
  let wrongBytes = 0;
  return new Promise((resolve, reject) => {
    const req = http.get(s.url, { agent: false }, (res) => {
      let paused = false;
      res.on('data', (c: Buffer) => {
        hash.update(c);
        if (s.pattern) {
          for (let i = 0; i < c.length; i++) if (c[i] !== patternByte(bytes + i)) wrongBytes++;
        }
        bytes += c.length;
        if (!paused && s.pauseMs !== undefined) {
          paused = true;
          res.pause();
          process.stdout.write('started\n');
          setTimeout(() => res.resume(), s.pauseMs);
        }
      });
      res.on('end', () =>
        resolve({ status: res.statusCode, bytes, wrongBytes, sha256: hash.digest('hex') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const scenario = JSON.parse(process.argv[2] ?? '{}') as Scenario;
const run = { requests, raw, upload, download }[scenario.kind] as (s: Scenario) => Promise<unknown>;
run(scenario).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (err: Error) => process.stdout.write(`${JSON.stringify({ error: err.message })}\n`),
);
