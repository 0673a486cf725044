// The HTTP app behind the proxy in the tests, in the spirit of httpbin:
// /get and /post echo what arrived, /status/:code answers that code,
// /upload hashes the body, /download streams random bytes and remembers their
// hash (or, with `pattern`, bytes a receiver can check one by one), /slow waits before answering; standalone, an `Upgrade: echo` request
// gets a 101 and its bytes back. Runs in-process or standalone:
//   node test/proxy/support/echo-app.ts <port> [host]
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Writable } from 'node:stream';

export interface Transfer {
  bytes: number;
  sha256: string;
}

/** Hashes of /download bodies by their `id` query parameter. */
export const downloads = new Map<string, Transfer>();

function echo(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
  const url = new URL(req.url ?? '/', 'http://app');
  const text = JSON.stringify({
    method: req.method,
    url: req.url,
    args: Object.fromEntries(url.searchParams),
    headers: req.headers,
    body: body.toString('utf8'),
    /** Where the request arrived and where it came from, as this server saw it. */
    local: `${req.socket.localAddress}:${req.socket.localPort}`,
    peer: req.socket.remoteAddress,
  });
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function download(url: URL, res: http.ServerResponse, head: boolean): void {
  const size = Number(url.searchParams.get('size') ?? 0);
  const id = url.searchParams.get('id') ?? '';
  const chunked = url.searchParams.get('mode') === 'chunked';
  res.writeHead(
    200,
    chunked ? { 'content-type': 'application/octet-stream' } : { 'content-length': size },
  );
  if (head) {
    res.end();
    return;
  }
  if (url.searchParams.has('pattern')) {
    writePatternBytes(res, size);
    return;
  }
  void writeRandomBytes(res, size).then((sha256) => downloads.set(id, { bytes: size, sha256 }));
}

/** The byte at offset i of a `pattern` download: a receiver in another process can check every one. */
export function patternByte(i: number): number {
  return i % 251;
}

/** Writes `size` bytes of the pattern in 256 KiB pieces, waiting for 'drain', then ends `out`. */
function writePatternBytes(out: Writable, size: number): void {
  const period = Buffer.alloc(251 * 1044);
  for (let i = 0; i < period.length; i++) period[i] = patternByte(i);
  let sent = 0;
  const pump = () => {
    while (sent < size) {
      const piece = period.subarray(0, Math.min(size - sent, period.length));
      sent += piece.length;
      if (!out.write(piece)) {
        out.once('drain', pump);
        return;
      }
    }
    out.end();
  };
  pump();
}

/**
 * Writes `size` random bytes to `out` in 256 KiB pieces, waiting for 'drain'
 * when it pushes back, then ends it. Resolves with the bytes' SHA-256.
 */
export function writeRandomBytes(out: Writable, size: number): Promise<string> {
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    let left = size;
    const pump = () => {
      while (left > 0) {
        const piece = randomBytes(Math.min(left, 256 * 1024));
        left -= piece.length;
        hash.update(piece);
        if (!out.write(piece)) {
          out.once('drain', pump);
          return;
        }
      }
      out.end();
      resolve(hash.digest('hex'));
    };
    pump();
  });
}

export function echoAppHandler(): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://app');
    const status = /^\/status\/(\d{3})$/.exec(url.pathname);
    if (status) {
      req.resume();
      const code = Number(status[1]);
      const body = code === 204 || code === 304 ? '' : `status ${code}\n`;
      res.writeHead(code, body ? { 'content-length': Buffer.byteLength(body) } : {});
      res.end(body);
      return;
    }
    switch (url.pathname) {
      case '/download':
        req.resume();
        download(url, res, req.method === 'HEAD');
        return;
      case '/upload': {
        const hash = createHash('sha256');
        let bytes = 0;
        req.on('data', (c: Buffer) => {
          bytes += c.length;
          hash.update(c);
        });
        req.on('end', () => {
          const text = JSON.stringify({ bytes, sha256: hash.digest('hex') });
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': text.length });
          res.end(text);
        });
        return;
      }
      case '/fetch': {
        // An outbound call made by the app itself: GET ?url=... and relay the answer.
        req.resume();
        const target = url.searchParams.get('url') ?? '';
        http
          .get(target, { agent: false }, (upstream) => {
            res.writeHead(upstream.statusCode ?? 502, { 'content-type': 'application/json' });
            upstream.pipe(res);
          })
          .on('error', (err) => {
            res.writeHead(502, { 'content-type': 'text/plain' });
            res.end(`fetch failed: ${err.message}\n`);
          });
        return;
      }
      case '/slow': {
        req.resume();
        const ms = Number(url.searchParams.get('ms') ?? 500);
        setTimeout(() => res.end('slow done\n'), ms);
        return;
      }
      default:
        readBody(req).then((body) => echo(req, res, body));
    }
  };
}

if (import.meta.main) {
  const port = Number(process.argv[2] ?? 8080);
  const host = process.argv[3] ?? '::';
  const server = http.createServer(echoAppHandler());
  // An upgrade to `echo`: after the 101 every byte comes back as it was sent.
  server.on('upgrade', (_req, socket, head) => {
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n',
    );
    if (head.length > 0) socket.write(head);
    socket.pipe(socket);
  });
  server.listen(port, host, () => {
    process.stdout.write(`listening ${host}:${port}\n`);
  });
}
